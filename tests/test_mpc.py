"""The ``mpc`` strategy (RobustMPC, Yin et al. SIGCOMM 2015): its forecast and its plans computed by hand, its
block's validation, and a run through the engine."""

from __future__ import annotations

import math

import pytest
from conftest import REPO

from simsplit import simulate
from simsplit.core.errors import InputError
from simsplit.model.channel import Channel
from simsplit.model.server import EdgeServer
from simsplit.model.strategies import Decision, Observation
from simsplit.model.strategies.mpc import MpcConfig, MpcStrategy, RobustForecast
from simsplit.model.strategies.predict import DeviceModel, Option, Workload
from simsplit.scenario import load_scenario

TRACE = REPO / "scenarios" / "trace-driven-lte.yaml"
MBIT = 1e6

# A device at 10 requests/s. LOCAL: 300 ms on its processor. INPUT: no head, 0.32 Mbit to send (320 ms at
# 1 Mbit/s), nothing else (no tail, result, propagation).
PERIODIC = DeviceModel(compute_power_w=2.0, alpha_up_w_per_bps=0.4e-6, alpha_down_w_per_bps=0.05e-6, beta_w=1.3,
                       workload=Workload("periodic", rate_hz=10.0))
LOCAL = Option(Decision(2, "none", "edge"), True, 0.300, 0, 0, 0, 0.76, 0.0, 0, 2.0)
INPUT = Option(Decision(0, "jpeg", "edge"), False, 0.0, 0.32e6, 0.0, 0, 0.76, 0.0, 0, 2.0)


def observed(*uplink_bps, unacked_bits=0.0, compute_free_at_s=0.0):
    observation = Observation(0)
    for sample in uplink_bps:
        observation.uplink_samples_bps.append(sample)
        observation.uploads += 1
    observation.uplink_unacked_bits = unacked_bits
    observation.compute_free_at_s = compute_free_at_s
    return observation


def plan(strategy: MpcStrategy, observation: Observation, now_s: float = 0.0) -> dict[int, float]:
    """Summed latency (s) over the horizon of each candidate first option, by its split."""
    return {option.decision.split: total for total, option in strategy.plan(now_s, observation)}


def test_robust_forecast_by_hand():
    """Samples 1, 2, 4 Mbit/s. Errors of the harmonic mean before each: 0 (the first), |1 - 2| / 2 = 1/2,
    |4/3 - 4| / 4 = 2/3. n = 3: HM = 3 / (1 + 1/2 + 1/4) = 12/7, over 1 + 2/3: 36/35 Mbit/s; without the
    discount 12/7. n = 2: HM(2, 4) = 8/3 over 1 + 2/3 (errors 1/2, 2/3): 8/5 Mbit/s."""
    for n, robust, expected in [(3, True, 36 / 35), (3, False, 12 / 7), (2, True, 8 / 5)]:
        forecast = RobustForecast(n, robust)
        assert math.isnan(forecast.estimate())
        for sample in (1 * MBIT, 2 * MBIT, 4 * MBIT):
            forecast.update(sample)
        assert forecast.estimate() == pytest.approx(expected * MBIT, rel=1e-12)
    forecast = RobustForecast(3)
    forecast.update(0.0)  # no throughput measured: not a sample
    assert math.isnan(forecast.estimate())


def test_the_strategy_takes_each_sample_once():
    strategy = MpcStrategy([LOCAL, INPUT], PERIODIC, MpcConfig(kind="mpc", samples=3), "mpc")
    observation = observed(1 * MBIT, 2 * MBIT)
    assert strategy.forecast_bps(observation) == pytest.approx(4 / 3 / 1.5 * MBIT, rel=1e-12)
    assert strategy.forecast_bps(observation) == pytest.approx(4 / 3 / 1.5 * MBIT, rel=1e-12)  # nothing new
    observation.uplink_samples_bps.append(4 * MBIT)
    observation.uploads += 1
    assert strategy.forecast_bps(observation) == pytest.approx(36 / 35 * MBIT, rel=1e-12)
    prior = MpcStrategy([LOCAL, INPUT], PERIODIC, MpcConfig(kind="mpc", initial_uplink_mbps=7), "mpc")
    assert prior.forecast_bps(observed()) == 7 * MBIT


def test_the_horizon_changes_the_first_choice():
    """Constant forecast 1 Mbit/s (equal samples: no error), requests 0.1 s apart, both queues empty.

    Greedy (horizon 1): LOCAL 0.30 s beats INPUT 0.32 s.
    Horizon 2: LOCAL then (at 0.1 s, processor busy until 0.3) LOCAL 0.2 + 0.3 = 0.5 or INPUT 0.2 + 0.32 = 0.52:
    0.3 + 0.5 = 0.8. INPUT then (uplink busy until 0.32, processor free) LOCAL 0.3 or INPUT 0.22 + 0.32 = 0.54:
    0.32 + 0.3 = 0.62. INPUT first: running locally now would hold the processor the next request needs.
    Horizon 3 (the third at 0.2 s): LOCAL, INPUT (processor 0.3, uplink 0.62), then LOCAL 0.1 + 0.3 = 0.4:
    0.3 + 0.52 + 0.4 = 1.22 (LOCAL, LOCAL, LOCAL: 0.3 + 0.5 + 0.7 = 1.5). INPUT, LOCAL (processor 0.4,
    uplink 0.32) then LOCAL 0.2 + 0.3 = 0.5 or INPUT 0.2 + 0.32 = 0.52: 0.32 + 0.3 + 0.5 = 1.12 (INPUT,
    INPUT: processor 0.1, uplink 0.64, then LOCAL 0.3: 0.32 + 0.54 + 0.3 = 1.16)."""
    constant = (MBIT, MBIT, MBIT)
    expected = {1: {2: 0.30, 0: 0.32}, 2: {2: 0.80, 0: 0.62}, 3: {2: 1.22, 0: 1.12}}
    for horizon, sums in expected.items():
        strategy = MpcStrategy([LOCAL, INPUT], PERIODIC, MpcConfig(kind="mpc", horizon=horizon), "mpc")
        assert strategy.forecast_bps(observed(*constant)) == MBIT
        got = plan(strategy, observed(*constant))
        assert got == pytest.approx(sums, abs=1e-12), horizon
        assert strategy.decide(0.0, observed(*constant)).split == (2 if horizon == 1 else 0)
    # searching only the option fastest now (candidates 1) is the greedy choice whatever the horizon
    greedy = MpcStrategy([LOCAL, INPUT], PERIODIC, MpcConfig(kind="mpc", horizon=3, candidates=1), "mpc")
    assert plan(greedy, observed(*constant)) == pytest.approx({2: 1.5}, abs=1e-12)


def test_the_queues_the_device_has_now():
    """At t = 5 s the processor is busy until 5.1 s and 0.2 Mbit wait to be sent (0.2 s at 1 Mbit/s): LOCAL
    0.1 + 0.3 = 0.4 s; INPUT ready at 5.1 s, uplink free at 5.2 s: 0.1 + 0.1 + 0.32 = 0.52 s. A closed loop
    with no think time (the next request when this one returns, both queues empty by then) plans each
    option then the best alone: LOCAL 0.3 + 0.3 = 0.6, INPUT 0.32 + 0.3 = 0.62."""
    strategy = MpcStrategy([LOCAL, INPUT], PERIODIC, MpcConfig(kind="mpc", horizon=1, initial_uplink_mbps=1), "m")
    busy = observed(unacked_bits=0.2e6, compute_free_at_s=5.1)
    assert plan(strategy, busy, now_s=5.0) == pytest.approx({2: 0.4, 0: 0.52}, abs=1e-12)
    closed = DeviceModel(2.0, 0.4e-6, 0.05e-6, 1.3, workload=Workload("closed_loop", think_s=0.0))
    strategy = MpcStrategy([LOCAL, INPUT], closed, MpcConfig(kind="mpc", horizon=2, initial_uplink_mbps=1), "m")
    assert plan(strategy, observed()) == pytest.approx({2: 0.6, 0: 0.62}, abs=1e-12)


@pytest.mark.parametrize("field,value", [
    ("horizon", "0"), ("horizon", "7"), ("horizon", "1.0"), ("horizon", "true"), ("horizon", ".inf"),
    ("samples", "0"), ("samples", "65"), ("samples", "-1"), ("samples", ".nan"),
    ("candidates", "0"), ("candidates", "17"), ("candidates", "'x'"),
    ("robust", "1"), ("robust", "'yes'"), ("server_wait", "'always'"), ("initial_uplink_mbps", ".inf")])
def test_hostile_blocks_are_refused_naming_the_field(field, value):
    with pytest.raises(InputError, match=rf"strategy\.{field}: expected") as error:
        load_scenario(TRACE, [f'strategy={{"kind": "mpc", "{field}": {value}}}'])
    assert "\n" not in str(error.value)


def test_a_run_on_the_lte_trace():
    """30 s of scenarios/trace-driven-lte.yaml: each device decides from what it can know (nothing of the
    engine, its channels or servers is reachable), the engine fills in its uplink backlog (some decisions see
    bits waiting), and it uses both the input and the split after RB1 as the uplink varies."""
    from test_strategies import _reachable

    from simsplit.engine.des import Engine
    from simsplit.engine.setup import build_setup
    scenario = load_scenario(TRACE, ["duration_s=30", 'strategy={"kind": "mpc"}'])
    engine = Engine(build_setup(scenario), 7)
    seen = []
    for device in engine.devices:
        assert not any(isinstance(o, (EdgeServer, Channel, Engine)) for o in _reachable(device.strategy))
        decide = device.strategy.decide

        def spy(now, observation, decide=decide):
            seen.append(observation.uplink_unacked_bits)
            return decide(now, observation)

        device.strategy.decide = spy
    engine.run()
    assert max(seen) > 0 and min(seen) == 0
    requests = simulate(scenario, seed=7).requests
    assert {0, 1} <= set(requests["split"])
