"""Adaptive strategies: what they may observe, their published rules, hysteresis, switching cost, oracle."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import REPO
from test_engine import one_device

from simsplit import simulate
from simsplit.model.channel import Channel
from simsplit.model.server import EdgeServer
from simsplit.model.strategies import Decision, Observation
from simsplit.model.strategies.dynamic import (
    DynamicConfig,
    DynamicStrategy,
    NeurosurgeonConfig,
    NeurosurgeonStrategy,
)
from simsplit.model.strategies.predict import DeviceModel, Option
from simsplit.scenario import load_scenario, validate_scenario
from simsplit.studies.compare import compare, is_static, variants

DEVICE = DeviceModel(compute_power_w=2.0, alpha_up_w_per_bps=0.4e-6, alpha_down_w_per_bps=0.05e-6, beta_w=1.3)
LOCAL = Option(Decision(2, "none", "edge"), True, 0.100, 0, 0, 0, 0.76, 0.0, 0, 2.0)
EARLY = Option(Decision(1, "bn", "edge"), False, 0.020, 8e3, 0.010, 64, 0.74, 0.004, 0, 2.0)
INPUT = Option(Decision(0, "jpeg", "edge"), False, 0.001, 2e5, 0.015, 64, 0.76, 0.004, 0, 2.0)
OPTIONS = [LOCAL, EARLY, INPUT]


def observed(*uplink_bps, queue=math.nan, busy=math.nan, wait=math.nan):
    observation = Observation(0)
    for sample in uplink_bps:
        observation.uplink_samples_bps.append(sample)
        observation.uploads += 1
    observation.probe_server = 0
    observation.probe_queue_length, observation.probe_busy_workers = queue, busy
    observation.probe_recent_wait_s, observation.probe_read_at_s = wait, 0.0
    return observation


def test_neurosurgeon_rule_by_hand():
    strategy = NeurosurgeonStrategy(OPTIONS, DEVICE, NeurosurgeonConfig(kind="neurosurgeon"), "ns")
    # B = 10 Mbit/s, idle server (K = 1): local 100 ms; early 20 + 0.8 + 10 = 30.8 ms; input 1 + 20 + 15 = 36 ms
    assert strategy.decide(0.0, observed(10e6)).split == 1
    # B = 100 Mbit/s: input 1 + 2 + 15 = 18 ms beats early 20 + 0.08 + 10 = 30.08 ms
    assert strategy.decide(0.0, observed(100e6)).split == 0
    # 9 jobs queued on 1 busy worker: K = 10; early 20.8 + 100 = 120.8 ms, input 3 + 150 ms: local wins
    assert strategy.decide(0.0, observed(100e6, queue=9, busy=1)).split == 2


def test_dynamic_hysteresis_and_dwell():
    config = DynamicConfig(kind="dynamic", hysteresis=0.2, server_wait="probe", initial_uplink_mbps=10)
    strategy = DynamicStrategy(OPTIONS, DEVICE, config, None, "dyn")
    assert strategy.decide(0.0, observed(10e6)).split == 1  # early: 20 + 0.8 + 10 + 4 = 34.8 ms
    # a faster link makes the input slightly better (1 + 8.9 + 15 + 4 = 28.9 ms vs 34.1 ms): below 20%, stay
    assert strategy.decide(1.0, observed(10e6, 22.5e6)).split == 1
    # much faster: input 1 + 1.7 + 15 + 4 = 21.7 ms, early 34.1 ms: more than 20% better, switch
    assert strategy.decide(2.0, observed(10e6, 22.5e6, 1e9, 1e9, 1e9)).split == 0
    dwell = DynamicStrategy(OPTIONS, DEVICE, DynamicConfig(kind="dynamic", hysteresis=0.0, min_dwell_s=5.0), None, "d")
    dwell.decide(0.0, observed(10e6))
    assert dwell.decide(1.0, observed(10e6, 1e9, 1e9, 1e9, 1e9)).split == 0  # first switch is allowed
    assert dwell.decide(2.0, observed(10e6, 1e9, 1e9, 1e9, 1e9, 1e5, 1e5, 1e5, 1e5)).split == 0  # dwelling


def test_dynamic_meets_the_deadline_before_the_objective():
    config = DynamicConfig(kind="dynamic", objective="energy", hysteresis=0.0)
    strategy = DynamicStrategy(OPTIONS, DEVICE, config, 0.05, "dyn")
    # energy: early = 40 mJ + 3.2 + 1.04 mJ; local = 200 mJ; input 2 + 80 + 26 mJ: early is cheapest and fast enough
    assert strategy.decide(0.0, observed(10e6)).split == 1
    # a queue of 100 ms makes both offloads miss 50 ms; local (100 ms) misses too: then the fastest one
    assert strategy.decide(1.0, observed(10e6, wait=0.1)).split == 2


def _reachable(value, seen=None) -> list:
    """Every object reachable from a strategy's attributes (to find forbidden references), through
    containers, instance attributes and slots, and callables: bound methods' instances, closures' cells,
    default arguments and partials' arguments. Classes and modules are not entered."""
    import functools
    import types
    seen = set() if seen is None else seen
    found = []
    if id(value) in seen or isinstance(value, (int, float, str, bool, type(None), type, types.ModuleType)):
        return found
    seen.add(id(value))
    found.append(value)
    children = []
    if isinstance(value, dict):
        children = list(value.keys()) + list(value.values())
    elif isinstance(value, (list, tuple, set, frozenset)):
        children = list(value)
    elif isinstance(value, types.MethodType):
        children = [value.__self__, value.__func__]
    elif isinstance(value, types.FunctionType):
        children = [cell.cell_contents for cell in (value.__closure__ or ())]
        children += list(value.__defaults__ or ()) + list((value.__kwdefaults__ or {}).values())
    elif isinstance(value, functools.partial):
        children = [value.func, *value.args, *value.keywords.values()]
    elif hasattr(value, "__dict__") or hasattr(value, "__slots__"):
        names = list(getattr(value, "__dict__", {})) + [s for c in type(value).__mro__
                                                        for s in getattr(c, "__slots__", ())]
        children = [getattr(value, n) for n in names if hasattr(value, n)]
    for child in children:
        found += _reachable(child, seen)
    return found


def test_the_reachability_check_sees_through_closures():
    """The check must catch a closure over the engine: the oracle is wired exactly so, and is caught."""
    from simsplit.engine.des import Engine
    from simsplit.engine.setup import build_setup
    from simsplit.studies.compare import with_strategy
    base = load_scenario(REPO / "scenarios" / "dynamic-under-load.yaml", ["duration_s=10", "warmup_s=1"])
    engine = Engine(build_setup(with_strategy(base, variants(base)["oracle"])), 7)
    assert any(isinstance(o, Engine) for o in _reachable(engine.devices[0].strategy))
    hidden = {"x": [lambda: engine]}
    assert any(isinstance(o, Engine) for o in _reachable(hidden))
    import functools
    assert any(isinstance(o, Engine) for o in _reachable(functools.partial(print, engine)))


@pytest.mark.parametrize("scenario_file", ["dynamic-under-load.yaml", "trace-driven-lte.yaml"])
def test_strategies_only_see_what_a_device_could_observe(scenario_file):
    """Structurally: no adaptive strategy but the oracle can reach a server, a channel or the engine.
    Dynamically: every throughput sample a strategy sees at a decision comes from a transfer that had
    finished by then, and every probe reading from a probe already back."""
    from simsplit.engine.des import Engine
    from simsplit.engine.setup import build_setup
    base = load_scenario(REPO / "scenarios" / scenario_file, ["duration_s=40", "warmup_s=1"])
    for name in ("dynamic", "neurosurgeon", "edgent"):
        if name not in variants(base):
            continue
        from simsplit.studies.compare import with_strategy
        setup = build_setup(with_strategy(base, variants(base)[name]))
        engine = Engine(setup, 7)
        log = []
        for device in engine.devices:
            assert not any(isinstance(o, (EdgeServer, Channel, Engine)) for o in _reachable(device.strategy))
            decide = device.strategy.decide

            def spy(now, observation, decide=decide, device=device, log=log):
                log.append((device.index, now, observation.uploads, observation.probe_read_at_s))
                return decide(now, observation)

            device.strategy.decide = spy
        output = engine.run()
        c, p = output.columns, output.probes
        for device_index, now, uploads, read_at in log[::7]:
            finished = int(((c["device"] == device_index) & (c["server_arrival_at_s"] <= now)
                            & (c["uplink_s"] > 0)).sum())
            finished += int(((p["device"] == device_index) & (p["read_at_s"] <= now) & (p["uplink_s"] > 0)).sum())
            assert uploads == finished, (name, device_index, now)
            if not math.isnan(read_at):
                back = p["received_at_s"][(p["device"] == device_index) & (p["read_at_s"] == read_at)]
                assert back.size == 1 and back[0] <= now


def test_switching_cost_is_paid(tmp_path):
    scenario = one_device(tmp_path, strategy={"kind": "oracle"}, head_ms=20.0,
                          arrivals={"kind": "periodic", "rate_hz": 2.0, "phase_s": 0.0}, duration_s=20)
    scenario["network"]["uplink"] = {"kind": "steps", "times_s": [0, 5, 10, 15], "rates_mbps": [50, 0.05, 50, 0.05]}
    scenario["switch_cost"] = {"time_ms": 30, "energy_mj": 50}
    r = simulate(validate_scenario(scenario)).requests
    switched = r[r["switched"]]
    assert len(switched) >= 2
    assert (switched["switch_s"] == 0.030).all() and (switched["switch_j"] == 0.050).all()
    assert (r.loc[~r["switched"], "switch_s"] == 0).all()
    from simsplit.output.summary import LATENCY_PARTS
    done = r[r["status"] == "completed"]
    assert np.allclose(done[list(LATENCY_PARTS)].fillna(0).sum(axis=1), done["latency_s"], atol=1e-9)


def test_oracle_prediction_is_exact_when_nothing_is_random(tmp_path):
    scenario = one_device(tmp_path, strategy={"kind": "oracle"}, delay_ms=3, head_ms=20.0,
                          arrivals={"kind": "periodic", "rate_hz": 20.0, "phase_s": 0.0}, duration_s=2)
    scenario["network"]["uplink"] = {"kind": "steps", "times_s": [0, 0.5, 1.0], "rates_mbps": [8, 0.5, 8],
                                     "delay_ms": 3}
    result = simulate(validate_scenario(scenario))
    engine_view = []
    from simsplit.engine.des import Engine
    setup = result.setup
    engine = Engine(setup, scenario["seed"])
    device = engine.devices[0]
    original = device.strategy.decide

    def spy(now, observation):
        decision = original(now, observation)
        option = next(o for o in device.strategy.options if o.decision == decision)
        engine_view.append(engine._truth(device, option, now)[0])
        return decision

    device.strategy.decide = spy
    output = engine.run()
    done = output.columns["status"] == 1
    latency = (output.columns["finish_at_s"] - output.columns["arrival_at_s"])[done]
    assert np.allclose(np.array(engine_view)[done], latency, rtol=0, atol=1e-9)
    assert set(result.requests["split"]) >= {0, 1}  # it did change its mind with the bandwidth


@pytest.mark.slow
@pytest.mark.parametrize("scenario_file,duration",
                         [("dynamic-under-load.yaml", "180"), ("trace-driven-lte.yaml", "200")])
def test_dynamic_beats_every_fixed_strategy(scenario_file, duration):
    """Done-criterion of the dynamic strategy: over 5 seeds its 95% interval of mean latency lies below
    every fixed strategy's (local, full offload and each fixed split)."""
    scenario = load_scenario(REPO / "scenarios" / scenario_file, [f"duration_s={duration}"])
    names = [n for n, block in variants(scenario).items() if is_static(block) or n in ("dynamic", "oracle")]
    seeds = [int(s) for s in np.random.SeedSequence(scenario.seed).generate_state(5)]
    _, table, _ = compare(scenario, seeds, names)
    table = table.set_index("strategy")
    names.remove("oracle")
    for name in names:  # the oracle never loses to a fixed strategy on its objective (latency here)
        assert table.loc["oracle", "latency_mean_s"] <= table.loc[name, "latency_mean_s"], name
    assert (table["regret"] >= -1e-12).all()
    high = table.loc["dynamic", "latency_mean_s_ci95"][1]
    for name in names:
        if name != "dynamic":
            low = table.loc[name, "latency_mean_s_ci95"][0]
            assert high < low, \
                f"dynamic {table.loc['dynamic', 'latency_mean_s']:.4f} (<= {high:.4f}) vs {name} (>= {low:.4f})"


def test_dynamic_prices_all_options_at_once_exactly_as_one_by_one():
    """Without an RRC state machine the dynamic strategy prices its options as arrays; every score (and the
    fallback to latencies when nothing meets the deadline) equals the option-by-option prediction to the
    bit, for every objective, estimates from zero to fast, with and without probed waits and backlog."""
    rng = np.random.default_rng(4)
    options = [LOCAL, EARLY, INPUT] + [
        Option(Decision(int(k % 3), "bn", "edge" if k % 2 else "cloud"), bool(k % 5 == 0), float(rng.uniform(0, 0.1)),
               float(rng.choice([0.0, rng.uniform(1e2, 1e6)])), float(rng.uniform(0, 0.05)),
               float(rng.choice([0.0, 64.0])), float(rng.uniform(0.6, 0.8)), float(rng.uniform(0, 0.02)),
               int(k % 2), float(rng.uniform(1, 3)), float(rng.uniform(0, 0.01)))
        for k in range(40)]
    checked = 0
    for objective in ("latency", "energy", "weighted", "accuracy"):
        for deadline in (None, 0.05, 1e-6):
            config = DynamicConfig(kind="dynamic", objective=objective, energy_weight_s_per_j=0.3,
                                   server_wait="probe")
            vector = DynamicStrategy(options, DEVICE, config, deadline, "dyn")
            scalar = DynamicStrategy(options, DEVICE, config, deadline, "dyn")
            scalar._arrays = None  # price option by option
            assert vector._arrays is not None
            for samples, wait, backlog in (((), math.nan, 0.0), ((3e6,), 0.012, 0.0), ((0.5e6, 80e6), 0.0, 0.03)):
                observation = observed(*samples, wait=wait)
                observation.compute_free_at_s = backlog
                assert vector.evaluate(0.0, observation) == scalar.evaluate(0.0, observation)
                checked += 1
    assert checked == 36
