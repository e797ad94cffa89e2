"""The ``distribution`` strategy on cases computed by hand: expected latency over throughput samples, the
chance of meeting a deadline, the device's own uplink backlog, the transport's samples and a silent link."""

from __future__ import annotations

import math

import pytest

from simsplit.model.strategies.base import Decision, Observation
from simsplit.model.strategies.distribution import DistributionConfig, DistributionStrategy
from simsplit.model.strategies.predict import DeviceModel, Option

DEVICE = DeviceModel(compute_power_w=2.0, alpha_up_w_per_bps=0.4e-6, alpha_down_w_per_bps=0.05e-6, beta_w=1.3)
# (decision, local, head s, bits up, server s, bits down, accuracy, fixed delay s, server, compute W)
LOCAL = Option(Decision(2, "none", "edge"), True, 0.100, 0, 0, 0, 0.76, 0.0, 0, 2.0)
EARLY = Option(Decision(1, "bn", "edge"), False, 0.020, 8e3, 0.010, 64, 0.74, 0.004, 0, 2.0)
INPUT = Option(Decision(0, "jpeg", "edge"), False, 0.001, 2e5, 0.015, 64, 0.76, 0.004, 0, 2.0)
DOWN_S = 64 / 10e6  # the result at the 10 Mbit/s downlink prior


def strategy(deadline_s=None, **fields) -> DistributionStrategy:
    config = DistributionConfig(kind="distribution", **fields)
    return DistributionStrategy([LOCAL, EARLY, INPUT], DEVICE, config, deadline_s, "distribution")


def observed(samples=(), acked=0.0, unacked=0.0) -> Observation:
    observation = Observation(0)
    observation.uplink_samples_bps.extend(samples)
    observation.uploads = len(samples)
    observation.uplink_acked_bits, observation.uplink_unacked_bits = acked, unacked
    observation.uplink_unacked = int(unacked > 0)
    return observation


def test_expected_latency_over_the_samples():
    """At 1 and 10 Mbit/s: EARLY costs 0.020 + 8e3/r + 0.010 + down + 0.004, i.e. 0.0420064 and 0.0348064 s,
    mean 0.0384064; INPUT 0.001 + 2e5/r + 0.015 + down + 0.004: 0.2200064 and 0.0400064, mean 0.1300064;
    LOCAL 0.1. EARLY wins; at 50 Mbit/s alone INPUT (0.0240064) beats EARLY (0.0341664)."""
    s = strategy()
    assert s.decide(1.0, observed([1e6, 1e7])) == EARLY.decision
    latency, _ = s.latencies(1.0, observed())
    assert latency[:, 0] == pytest.approx([0.1, 0.0420064, 0.2200064], abs=1e-12)
    assert latency[:, 1] == pytest.approx([0.1, 0.0348064, 0.0400064], abs=1e-12)
    assert strategy().decide(1.0, observed([50e6])) == INPUT.decision


def test_the_chance_of_meeting_the_deadline():
    """Deadline 40 ms at 1 and 10 Mbit/s: EARLY meets it at 10 (0.0348) not at 1 (0.0420): 1/2; INPUT meets
    neither (0.0400064 > 0.04); LOCAL neither: EARLY."""
    assert strategy(0.04, objective="deadline").decide(1.0, observed([1e6, 1e7])) == EARLY.decision
    # with a deadline nobody can meet, the expected latency breaks the tie
    assert strategy(0.001, objective="deadline").decide(1.0, observed([1e6, 1e7])) == EARLY.decision


def test_the_devices_own_backlog_is_waited_for():
    """1 Mbit unacknowledged at 1 Mbit/s: an upload ready after its head waits 1.0 - head: EARLY 0.0420064 +
    0.98 = 1.0220064, INPUT 0.2200064 + 0.999 = 1.2190064; LOCAL (0.1) wins."""
    s = strategy()
    seen = observed([1e6], unacked=1e6)
    assert s.decide(1.0, seen) == LOCAL.decision
    latency, _ = s.latencies(1.0, seen)
    assert latency[:, 0] == pytest.approx([0.1, 1.0220064, 1.2190064], abs=1e-12)


def test_the_transport_gives_a_sample_only_while_the_link_had_data_all_along():
    """1 Mbit waiting at t=1; 0.2 Mbit acknowledged by t=2: a sample of 0.2 Mbit/s. By t=3 another 1 Mbit was
    acknowledged, more than was waiting at t=2 (0.8 Mbit): the link may have run dry, no sample."""
    s = strategy()
    s.decide(1.0, observed(acked=0.0, unacked=1e6))
    s.decide(2.0, observed(acked=2e5, unacked=8e5))
    assert s.rates_bps(2.0)[0] == [2e5]
    s.decide(3.0, observed(acked=1.2e6, unacked=0.0))
    assert s.rates_bps(3.0)[0] == [2e5]
    assert s.rates_bps(3.0 + 31.0)[0] == [5e6]  # past memory_s (30 s) only the prior (5 Mbit/s) is left


def test_a_silent_link_is_waited_out_as_long_again_or_given_up():
    """1 Mbit waits at t=1 and nothing is acknowledged by 1.5 and 2.0: two samples of 0 and a silence of 1 s.
    No moving sample: the prior 5 Mbit/s resumes after another 1 s. EARLY: 0.020 + 8e3/5e6 + 0.010 + down +
    0.004 = 0.0356064, plus the backlog's 1e6/5e6 - 0.020 = 0.18, plus 1.0: 1.2156064. With a 0.1 s fallback
    no more than 0.020 + 0.1 + 0.1 (the local run) = 0.22."""
    for fallback, early in ((None, 1.2156064), (0.1, 0.22)):
        s = strategy(fallback_stall_s=fallback)
        for now in (1.0, 1.5):
            s.decide(now, observed(unacked=1e6))
        assert s.decide(2.0, observed(unacked=1e6)) == LOCAL.decision
        latency, _ = s.latencies(2.0, observed(unacked=1e6))
        assert s.rates_bps(2.0)[0] == [0.0, 0.0]
        assert latency[1] == pytest.approx([early, early], abs=1e-12)
        assert latency[0] == pytest.approx([0.1, 0.1], abs=1e-12)


@pytest.mark.parametrize("field", ["samples", "memory_s", "half_life_s", "fallback_stall_s"])
@pytest.mark.parametrize("bad", [0, -1, math.inf, math.nan, "x"])
def test_bad_fields_are_refused(field, bad):
    with pytest.raises(ValueError):
        DistributionConfig(kind="distribution", **{field: bad})
