"""Cells shared by several devices: processor sharing and FIFO, exact across rate changes."""

from __future__ import annotations

import numpy as np
import pytest
import simpy
from test_engine import one_device

from simsplit import simulate
from simsplit.model.channel import ConstantChannel, StepChannel
from simsplit.model.channel.shared import ProcessorSharingLink, SharedFifoLink
from simsplit.scenario import validate_scenario


def run_transfers(link_class, channel, transfers):
    """Send (ready_at_s, bits) transfers; return {index: (start, end)}."""
    env = simpy.Environment()
    link = link_class(env, channel)
    sent = {}

    def submit(event):
        index, bits = event._value
        link.send(bits, index, lambda job, start, end: sent.__setitem__(job, (start, end)))

    for index, (at, bits) in enumerate(transfers):
        env.timeout(at, (index, bits)).callbacks.append(submit)
    env.run()
    return sent


def test_two_equal_transfers_started_together_finish_together_at_twice_the_single_time():
    single = run_transfers(ProcessorSharingLink, ConstantChannel(1e6), [(0.0, 1e6)])
    double = run_transfers(ProcessorSharingLink, ConstantChannel(1e6), [(0.0, 1e6), (0.0, 1e6)])
    assert single[0] == (0.0, 1.0)
    assert double[0][1] == pytest.approx(2.0, abs=1e-12) and double[1][1] == pytest.approx(2.0, abs=1e-12)


def test_processor_sharing_hand_computed():
    # 1 Mbit/s; A: 1 Mbit at 0, B: 0.25 Mbit at 0.5. A alone to 0.5 (0.5 left), then both at 0.5 Mbit/s:
    # B done at 1.0 (A has 0.25 left), A alone until 1.25.
    sent = run_transfers(ProcessorSharingLink, ConstantChannel(1e6), [(0.0, 1e6), (0.5, 0.25e6)])
    assert sent[1] == (0.5, pytest.approx(1.0, abs=1e-12))
    assert sent[0] == (0.0, pytest.approx(1.25, abs=1e-12))


def test_processor_sharing_across_a_rate_change_and_outage():
    # 2 Mbit/s until 1 s, outage to 2 s, then 1 Mbit/s. Two 1.5 Mbit transfers at 0: 1 Mbit each by 1 s,
    # wait, then 0.5 Mbit each at 0.5 Mbit/s -> both end at 3 s.
    channel = StepChannel([0, 1, 2], [2e6, 0, 1e6])
    sent = run_transfers(ProcessorSharingLink, channel, [(0.0, 1.5e6), (0.0, 1.5e6)])
    assert sent[0][1] == pytest.approx(3.0, abs=1e-12) and sent[1][1] == pytest.approx(3.0, abs=1e-12)


def test_processor_sharing_conserves_work():
    rng = np.random.default_rng(3)
    transfers = [(float(t), float(b))
                 for t, b in zip(np.cumsum(rng.exponential(0.1, 200)), rng.exponential(5e4, 200), strict=True)]
    channel = StepChannel([0, 3, 7], [1e6, 0.2e6, 2e6], "loop", 10)
    sent = run_transfers(ProcessorSharingLink, channel, transfers)
    # work conservation: the link is never idle while a transfer is active, so the last transfer ends when
    # the channel has delivered all the bits since the first arrival, busy periods counted
    ends = sorted(sent.values(), key=lambda se: se[1])
    assert len(sent) == 200 and all(end >= start for start, end in ends)
    assert sum(b for _, b in transfers) <= channel.bits_between(0.0, ends[-1][1]) + 1e-3


def test_shared_fifo_serves_in_ready_order():
    sent = run_transfers(SharedFifoLink, ConstantChannel(1e6), [(0.0, 1e6), (0.2, 1e6), (0.1, 0.5e6)])
    assert sent[0] == (0.0, 1.0)
    assert sent[2] == (1.0, 1.5)  # ready at 0.1, before transfer 1
    assert sent[1] == (1.5, 2.5)


@pytest.mark.parametrize("sharing", ["processor_sharing", "fifo"])
def test_cell_in_a_scenario(tmp_path, sharing):
    # 5 devices each sending 1 Mbit at t = 1 s on a 10 Mbit/s cell: together they need 0.5 s
    scenario = one_device(tmp_path, split_bytes=125_000, encode_ms=0, up_mbps=10,
                          arrivals={"kind": "periodic", "rate_hz": 0.1, "phase_s": 1.0}, duration_s=5)
    scenario["devices"][0]["count"] = 5
    scenario["network"]["uplink"]["sharing"] = sharing
    r = simulate(validate_scenario(scenario)).requests
    ends = (r["uplink_start_at_s"] + r["uplink_s"]).to_numpy()
    if sharing == "processor_sharing":
        assert ends == pytest.approx([1.5] * 5)
        assert (r["uplink_wait_s"] == 0).all()
    else:
        assert sorted(ends) == pytest.approx([1.1, 1.2, 1.3, 1.4, 1.5])
        assert sorted(r["uplink_wait_s"]) == pytest.approx([0, 0.1, 0.2, 0.3, 0.4])
    done = r[r["status"] == "completed"]
    from simsplit.output.summary import LATENCY_PARTS
    assert np.allclose(done[list(LATENCY_PARTS)].fillna(0).sum(axis=1), done["latency_s"], atol=1e-9)


def test_cell_with_promotion_and_shared_downlink(tmp_path):
    scenario = one_device(tmp_path, arrivals={"kind": "periodic", "rate_hz": 0.05, "phase_s": 1.0}, duration_s=60)
    scenario["devices"][0]["count"] = 3
    scenario["network"]["uplink"]["sharing"] = "processor_sharing"
    scenario["network"]["downlink"]["sharing"] = "fifo"
    scenario["network"]["radio"] = {"technology": "lte", "state_machine": True}
    r = simulate(validate_scenario(scenario)).requests
    assert (r["status"] == "completed").all()
    assert r["promotion_s"].tolist() == pytest.approx([0.26] * len(r))
    from simsplit.output.summary import LATENCY_PARTS
    assert np.allclose(r[list(LATENCY_PARTS)].fillna(0).sum(axis=1), r["latency_s"], atol=1e-9)
