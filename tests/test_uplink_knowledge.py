"""What a device knows of its own uplink (the observation's ``uplink_*`` fields) and the late-upload fallback,
against times, bits and energies computed by hand on a link with an outage, and against the channel's own
integral for the stall search."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import pytest
from conftest import write_model

from simsplit import register_strategy, simulate
from simsplit.core.config import Config
from simsplit.model.channel.stalls import first_stall, last_delivery
from simsplit.model.channel.steps import StepChannel
from simsplit.model.energy import transfer_j
from simsplit.model.strategies.base import Decision
from simsplit.output.summary import LATENCY_PARTS
from simsplit.scenario import validate_scenario

SEEN: list[tuple] = []
"""(now s, unacked, unacked bits, oldest ready s, acked bits) at each decision of the test strategy."""


class _OffloadWithFallback(Config):
    """Always send the input; give an upload up after 0.5 s without progress (a test kind)."""

    kind: Literal["test_offload_fallback"]


class _OffloadWithFallbackStrategy:
    reads_uplink = True
    fallback_stall_s = 0.5

    def decide(self, now_s, observation):
        SEEN.append((now_s, observation.uplink_unacked, observation.uplink_unacked_bits,
                     observation.uplink_oldest_ready_s, observation.uplink_acked_bits))
        return Decision(0, "raw", "server")


register_strategy("test_offload_fallback", _OffloadWithFallback, lambda context: _OffloadWithFallbackStrategy(),
                  decisions=lambda context: [Decision(0, "raw", "server"), Decision(1, "none", "server")])


def outage_scenario(folder, strategy: dict) -> dict:
    """One device every 0.5 s from 0.75 s sending 62,500 bytes (0.5 Mbit) over a 1 Mbit/s uplink (no delay)
    that stalls from 1.0 to 2.6 s; running the model locally takes 0.25 s at 6 W."""
    profile, payloads = write_model(folder, head_ms=250.0, tail_ms=10.0, split_bytes=62_500)
    return {
        "name": "outage", "seed": 1, "duration_s": 4.0,
        "model": {"profile": profile, "payloads": payloads, "result_bytes": 0},
        "devices": [{"name": "d", "device_class": "phone", "compute_power_w": 6.0,
                     "arrivals": {"kind": "periodic", "rate_hz": 2.0, "phase_s": 0.75}}],
        "network": {"uplink": {"kind": "steps", "times_s": [0, 1.0, 2.6], "rates_mbps": [1, 0, 1]},
                    "downlink": {"kind": "constant", "rate_mbps": 10}, "radio": {"technology": "wifi"}},
        "server": {"name": "server", "server_class": "gpu", "workers": 1,
                   "service_variability": {"kind": "deterministic"}},
        "strategy": strategy,
    }


def test_stalled_uploads_are_given_up_and_finish_locally_as_computed_by_hand(tmp_path):
    """r1 (0.75 s) sends 0.25 Mbit before the outage at 1.0, nothing after: given up at 1.5; local 1.5-1.75.
    r2 (1.25 s) is queued behind it; the link has been silent since 1.0, so it is given up as it would start,
    at 1.5, no bit sent; local 1.75-2.0. r3 (1.75 s) waits for the processor until 2.0, finds the link idle
    and starts its clock then: given up at 2.5; local 2.5-2.75 (r4's empty head took its turn at 2.25). r4
    (2.25 s) is queued behind r3 and given up with it at 2.5; local 2.75-3.0. r5 (2.75 s) waits for the
    processor until 3.0 and finds the link back (2.6 s): a normal upload, 3.0-3.5."""
    SEEN.clear()
    result = simulate(validate_scenario(outage_scenario(tmp_path, {"kind": "test_offload_fallback"})))
    r = result.requests.set_index("request_id")
    expected = {  # arrival, device wait, uplink wait, uplink s, bits sent, fallback wait, finish
        0: (0.75, 0.0, 0.0, 0.75, 250_000.0, 0.0, 1.75),
        1: (1.25, 0.0, 0.25, 0.0, 0.0, 0.25, 2.0),
        2: (1.75, 0.25, 0.0, 0.5, 0.0, 0.0, 2.75),
        3: (2.25, 0.0, 0.25, 0.0, 0.0, 0.25, 3.0),
    }
    radio = result.setup.groups[0].network.radio
    for rid, (arrival, wait, up_wait, up_s, sent, fb_wait, finish) in expected.items():
        row = r.loc[rid]
        assert row["fell_back"] and row["status"] == "completed"
        assert row["arrival_at_s"] == arrival
        assert row["device_wait_s"] == pytest.approx(wait, abs=1e-12)
        assert row["uplink_wait_s"] == pytest.approx(up_wait, abs=1e-12)
        assert row["uplink_s"] == pytest.approx(up_s, abs=1e-12)
        assert row["bytes_sent_up"] * 8 == pytest.approx(sent, abs=1e-6)
        assert row["fallback_wait_s"] == pytest.approx(fb_wait, abs=1e-12)
        assert row["fallback_s"] == 0.25
        assert row["finish_at_s"] == pytest.approx(finish, abs=1e-12)
        assert row["accuracy"] == 0.8  # the local model's (write_model)
        # energy: the local run at 6 W (the empty head costs nothing), and the radio for what was sent while held
        assert row["compute_j"] == pytest.approx(6.0 * 0.25, rel=1e-12)
        assert row["uplink_j"] == pytest.approx(
            transfer_j(radio.alpha_up_w_per_bps, radio.beta_w, sent, up_s), rel=1e-12, abs=1e-15)
    normal = r.loc[4]
    assert not normal["fell_back"] and math.isnan(normal["fallback_s"])
    assert normal["uplink_start_at_s"] == pytest.approx(3.0, abs=1e-12) and normal["uplink_s"] == pytest.approx(0.5)
    done = result.requests[result.requests["status"] == "completed"]
    parts = done[list(LATENCY_PARTS)].fillna(0.0).sum(axis=1)
    assert np.allclose(parts, done["latency_s"], rtol=0, atol=1e-9)


def test_the_device_knows_its_backlog_and_acknowledged_bits_as_computed_by_hand(tmp_path):
    """What the device's transport tells it at each arrival (no delay: an acknowledgement is instant). At 1.25 s
    r1 has sent 0.25 of its 0.5 Mbit; at 1.75 r1 and r2 were given up (0.25 Mbit acknowledged in all) and r3's
    head has not run yet; at 2.25 r3 waits on the silent link with nothing sent; at 2.75 r3 and r4 were given
    up and r5's head waits; at 3.25 r5 has sent half of its payload."""
    SEEN.clear()
    simulate(validate_scenario(outage_scenario(tmp_path, {"kind": "test_offload_fallback"})))
    expected = [  # now, unacked, unacked bits, oldest ready, acked bits
        (0.75, 0, 0.0, math.nan, 0.0),
        (1.25, 1, 250_000.0, 0.75, 250_000.0),
        (1.75, 0, 0.0, math.nan, 250_000.0),
        (2.25, 1, 500_000.0, 2.0, 250_000.0),
        (2.75, 0, 0.0, math.nan, 250_000.0),
        (3.25, 1, 250_000.0, 3.0, 500_000.0),
    ]
    assert len(SEEN) >= len(expected)
    for seen, want in zip(SEEN, expected, strict=False):
        assert seen[0] == want[0]
        assert seen[1] == want[1]
        assert seen[2] == pytest.approx(want[2], abs=1e-6)
        assert (math.isnan(seen[3]) and math.isnan(want[3])) or seen[3] == pytest.approx(want[3], abs=1e-12)
        assert seen[4] == pytest.approx(want[4], abs=1e-6)


def test_the_fallback_is_refused_where_the_engine_cannot_give_an_upload_up(tmp_path):
    from conftest import assert_validate_refuses
    scenario = outage_scenario(tmp_path, {"kind": "distribution", "fallback_stall_s": 0.5})
    scenario["network"]["uplink"]["sharing"] = "processor_sharing"
    assert_validate_refuses(tmp_path, scenario, "strategy.fallback_stall_s")


def _steps(times, rates_mbps) -> StepChannel:
    return StepChannel(np.array(times, dtype=float), np.array(rates_mbps, dtype=float) * 1e6)


@pytest.mark.parametrize(("clock", "start", "end", "stall", "want"), [
    (0.9, 0.9, 5.9, 0.5, 1.5),        # sends until 1.0, silent after: noticed 0.5 s later
    (1.0, 1.5, 5.9, 0.5, 1.5),        # the link silent since 1.0: a queued upload is given up on starting
    (0.9, 0.9, 5.9, 4.5, math.inf),   # the outage (4 s) is shorter than the tolerance
    (2.0, 2.0, 2.1, 0.5, math.inf),   # the transfer ends before any stall could be noticed
    (0.0, 0.0, 5.9, 0.99, 1.99),
])
def test_first_stall_on_a_step_channel(clock, start, end, stall, want):
    channel = _steps([0, 1.0, 5.0], [1, 0, 1])
    got = first_stall(channel, clock, start, end, stall)
    assert got == pytest.approx(want, abs=1e-9) if math.isfinite(want) else got == math.inf


def test_first_stall_matches_a_scan_of_the_integral_on_random_step_channels():
    """Against a brute-force scan: the first grid instant t >= max(start, clock + stall) with no bits over
    [t - stall, t], on channels with random outages (grid 1 ms; every step edge lies on the grid)."""
    rng = np.random.default_rng(5)
    for _ in range(30):
        edges = np.round(np.cumsum(rng.uniform(0.05, 1.0, 12)), 3)
        rates = np.where(rng.random(12) < 0.4, 0.0, rng.uniform(0.5, 5.0, 12))
        channel = _steps(np.concatenate([[0.0], edges[:-1]]), rates)
        start = float(np.round(rng.uniform(0, 3), 3))
        stall = float(np.round(rng.uniform(0.1, 0.8), 3))
        end = float(np.round(start + rng.uniform(0.5, 4), 3))
        got = first_stall(channel, start, start, end, stall)
        want = math.inf
        for t in np.round(np.arange(start + stall, end, 0.001), 3):
            if channel.bits_between(t - stall, t) == 0.0:
                want = t
                break
        assert (got == want == math.inf) or got == pytest.approx(want, abs=2e-3), (got, want)


def test_last_delivery_is_where_the_silence_began():
    channel = _steps([0, 1.0, 5.0], [1, 0, 1])
    assert last_delivery(channel, 0.5, 2.0) == pytest.approx(1.0, abs=1e-12)
    assert last_delivery(channel, 1.2, 2.0) == 1.2  # silent all along
    assert last_delivery(channel, 5.5, 6.0) == 6.0  # delivering right up to the end
