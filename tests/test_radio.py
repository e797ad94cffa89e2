"""The RRC state machine: promotion delay and energy, tail energy after the last transfer."""

from __future__ import annotations

import pytest
from test_engine import one_device

from simsplit import simulate
from simsplit.model.energy import radio_tails, tail_energy_j
from simsplit.scenario import validate_scenario


def radio_run(tmp_path, period_s, technology="lte", duration_s=100.0, **radio):
    scenario = one_device(tmp_path, arrivals={"kind": "periodic", "rate_hz": 1 / period_s, "phase_s": 1.0},
                          duration_s=duration_s, technology=technology)
    scenario["network"]["radio"] = {"technology": technology, "state_machine": True, **radio}
    return simulate(validate_scenario(scenario)).requests


def test_sparse_requests_pay_promotion_and_a_whole_tail(tmp_path):
    r = radio_run(tmp_path, period_s=20.0)  # LTE: tail 11.576 s < 20 s between requests
    assert len(r) == 5 and (r["status"] == "completed").all()
    assert r["promotion_s"].tolist() == pytest.approx([0.26] * 5)
    assert r["promotion_j"].tolist() == pytest.approx([1.21 * 0.26] * 5)
    # reference: one LTE tail costs 1.06 W x 11.576 s, about 12 J; plus the tail-state wait for the server
    waiting = (r["downlink_start_at_s"] - r["uplink_start_at_s"] - r["uplink_s"]).to_numpy()
    assert waiting == pytest.approx([0.00325] * 5)
    assert r["tail_j"].to_numpy() == pytest.approx(1.06 * (11.576 + waiting))
    assert (r["latency_s"] - r["promotion_s"]).tolist() == pytest.approx([0.0048] * 5, abs=1e-6)


def test_dense_requests_stay_connected(tmp_path):
    r = radio_run(tmp_path, period_s=5.0, duration_s=30.0)
    assert r["promotion_s"].tolist() == pytest.approx([0.26] + [0.0] * 5)
    # tail between requests: from the end of one's downlink to the start of the next's uplink
    ends = (r["downlink_start_at_s"] + r["downlink_s"]).to_numpy()
    gaps = r["uplink_start_at_s"].to_numpy()[1:] - ends[:-1]
    waiting = (r["downlink_start_at_s"] - r["uplink_start_at_s"] - r["uplink_s"]).to_numpy()
    assert r["tail_j"].to_numpy()[:-1] == pytest.approx(1.06 * (gaps + waiting[:-1]))
    assert r["tail_j"].iloc[-1] == pytest.approx(1.06 * (11.576 + waiting[-1]))


def test_3g_two_stage_tail():
    energy = tail_energy_j([2.0, 8.0, 100.0], (4.0, 10.0), (1.3, 0.3))
    assert energy.tolist() == pytest.approx([2.6, 1.3 * 4 + 0.3 * 4, 1.3 * 4 + 0.3 * 10])


def test_overlapping_transfers_form_one_busy_period():
    # device 0: [0, 2] and [1, 3] overlap, then [10, 11]; tail after 3 (7 s) goes to the transfer starting at 1
    tail = radio_tails([0, 0, 0], [0.0, 1.0, 10.0], [2.0, 3.0, 11.0], (5.0,), (1.0,))
    assert tail.tolist() == pytest.approx([0.0, 5.0, 5.0])


def test_linear_model_has_no_tail(tmp_path):
    scenario = one_device(tmp_path, arrivals={"kind": "periodic", "rate_hz": 0.05, "phase_s": 1.0}, duration_s=100)
    r = simulate(validate_scenario(scenario)).requests
    assert (r["tail_j"] == 0).all() and (r["promotion_s"] == 0).all()


def test_overrides_of_the_state_machine(tmp_path):
    r = radio_run(tmp_path, period_s=20.0, promotion_s=0.1, promotion_mw=1000, tail_s=[2.0, 3.0], tail_mw=[500, 100])
    assert r["promotion_s"].iloc[0] == pytest.approx(0.1)
    assert r["tail_j"].iloc[0] == pytest.approx(0.5 * (2 + 0.00325) + 0.1 * 3)
    from simsplit.core.errors import InputError
    with pytest.raises(InputError, match=r"network\.radio\.tail_mw: expected 2 values"):
        radio_run(tmp_path, period_s=20.0, tail_s=[2.0, 3.0], tail_mw=[500])


def test_radio_state_is_shared_only_where_nothing_waits():
    from simsplit.model.radio import ALWAYS_CONNECTED, RadioState, radio_state
    assert radio_state(0.0, 11.5) is ALWAYS_CONNECTED and radio_state(0.0, 0.0) is ALWAYS_CONNECTED
    ALWAYS_CONNECTED.begin()
    ALWAYS_CONNECTED.note(5.0)
    assert ALWAYS_CONNECTED.wake(7.0) == 7.0  # keeps nothing: a transfer never waits
    first, second = radio_state(0.26, 11.5), radio_state(0.26, 11.5)
    assert isinstance(first, RadioState) and first is not second
    first.note(5.0)
    assert first.wake(10.0) == 10.0 and first.wake(16.5) == 16.5 + 0.26 and second.wake(10.0) == 10.0 + 0.26
