"""The planned bound: a hand-computed outage where the greedy oracle loses to the plan, the dynamic program
against brute force over every option sequence, the model against the engine (the oracle's, static and
planned decisions replayed), the plan never above the oracle or a static strategy, refusals, and compare's
bound."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest
from conftest import REPO, write_model

from simsplit.model.channel.steps import StepChannel
from simsplit.model.strategies import Decision
from simsplit.scenario import load_scenario, validate_scenario
from simsplit.studies.compare import compare, variants, with_strategy
from simsplit.studies.planned_bound import Choice, DeviceProblem, cost, plan_device, schedule
from simsplit.studies.planned_runs import NotPlannable, device_problems, planned_run
from simsplit.studies.simulation import simulate

TRACE_LTE = REPO / "scenarios" / "trace-driven-lte.yaml"


def choice(name: str, local: bool, head_s: float, bits_up: float = 0.0, service_s: float = 0.0, **more) -> Choice:
    fields = {"to_server_s": 0.0, "bits_down": 0.0, "back_s": 0.0, "power_w": 1.0, "accuracy": 0.75,
              "key": (0 if not local else 1, name), **more}
    return Choice(Decision(fields["key"][0], name, "edge"), local, head_s, bits_up, to_server_s=fields["to_server_s"],
                  service_s=service_s, bits_down=fields["bits_down"], back_s=fields["back_s"],
                  power_w=fields["power_w"], accuracy=fields["accuracy"], key=fields["key"])


LOCAL = choice("none", True, 0.3)
OFFLOAD = choice("raw", False, 0.0, bits_up=1e6, service_s=0.01)


def outage_problem() -> DeviceProblem:
    return DeviceProblem(arrivals_s=(0.0, 0.05), choices=(LOCAL, OFFLOAD),
                         uplink=StepChannel([0.0, 0.2], [0.0, 1e7]), downlink=StepChannel([0.0], [1e7]),
                         alpha_up_w_per_bps=0.0, alpha_down_w_per_bps=0.0, beta_w=0.0)


def test_plan_beats_the_greedy_oracle_through_an_outage(tmp_path):
    """The uplink is out until 0.2 s, then 10 Mbit/s; the processor runs one head at a time. A request either
    runs locally (0.30 s) or sends 1 Mbit (0.1 s once the link is up; no head) to a server that takes 0.01 s.
    Requests arrive at 0 and 0.05 s.

    Greedy (the oracle, request by request): r1 locally, 0.30 s, beats sending it, 0.2 + 0.1 + 0.01 = 0.31 s.
    r2 then finds the processor busy until 0.3 s: locally 0.6 - 0.05 = 0.55 s, sent 0.3 + 0.1 + 0.01 - 0.05 =
    0.36 s; it uploads. Total 0.66 s. The plan sends r1 into the outage (0.31 s: its upload waits, but the
    processor stays free) and runs r2 locally at once (0.30 s). Total 0.61 s. (Both sent: 0.31 + (0.41 - 0.05)
    = 0.67 s; both local: 0.30 + 0.55 = 0.85 s.)"""
    problem = outage_problem()
    plan = plan_device(problem)
    assert plan.picks == (1, 0) and plan.exact
    assert plan.total == pytest.approx(0.61, abs=1e-12)
    greedy = schedule(problem, (0, 1))
    assert greedy.latency_s.tolist() == pytest.approx([0.30, 0.36], abs=1e-12)
    others = {picks: cost(problem, schedule(problem, picks))[1] for picks in itertools.product((0, 1), repeat=2)}
    assert others == pytest.approx({(0, 0): 0.85, (0, 1): 0.66, (1, 0): 0.61, (1, 1): 0.67}, abs=1e-12)

    # the engine's oracle makes the greedy choices, and the plan of the engine's device is the hand-computed one
    profile, payloads = write_model(tmp_path, head_ms=300, tail_ms=10, split_bytes=125000)
    scenario = validate_scenario({
        "name": "outage", "duration_s": 0.1, "warmup_s": 0,
        "model": {"profile": profile, "payloads": payloads, "result_bytes": 0},
        "devices": [{"name": "d", "device_class": "phone", "compute_power_w": 1.0,
                     "arrivals": {"kind": "periodic", "rate_hz": 20, "phase_s": 0.0}}],
        "network": {"uplink": {"kind": "steps", "times_s": [0, 0.2], "rates_mbps": [0, 10]},
                    "downlink": {"kind": "constant", "rate_mbps": 10}, "radio": {"technology": "lte"}},
        "server": {"server_class": "gpu"}, "strategy": {"kind": "oracle"}})
    requests = simulate(scenario).requests
    assert requests["arrival_at_s"].tolist() == [0.0, 0.05] and requests["split"].tolist() == [1, 0]
    (engine_problem,) = device_problems(scenario, scenario.seed)
    assert engine_problem.arrivals_s == (0.0, 0.05)
    planned = plan_device(engine_problem)
    assert [engine_problem.choices[k].local for k in planned.picks] == [False, True]
    assert planned.total == pytest.approx(0.61, abs=1e-12)


def random_problem(rng: np.random.Generator, latency: bool = False) -> DeviceProblem:
    """A few requests, 2 to 4 options (two servers' round trips, result sizes equal or not), an uplink with
    outages and a slow downlink (results queue and overtake each other), any objective (``latency``: the
    latency objective, results of one size), switch costs or none."""
    n = int(rng.integers(3, 6))
    arrivals = tuple(np.cumsum(rng.choice([0.0, 0.02, 0.1, 0.3], n) * rng.random(n)).tolist())
    equal_results = latency or rng.random() < 0.5
    choices = [choice("none", True, float(rng.uniform(0.05, 0.4)), power_w=float(rng.uniform(1, 5)))]
    for k in range(int(rng.integers(1, 4))):
        to_server = float(rng.choice([0.005, 0.1]))
        choices.append(choice(f"b{k}", False, float(rng.uniform(0.0, 0.1)), bits_up=float(rng.choice([0.0, 3e5, 1e6])),
                              service_s=float(rng.uniform(0.001, 0.3)), to_server_s=to_server, back_s=to_server,
                              bits_down=8e4 if equal_results else float(rng.uniform(1e3, 2e5)),
                              key=(0, f"b{rng.integers(0, 2)}"), power_w=float(rng.uniform(1, 5)),
                              accuracy=float(rng.uniform(0.6, 0.8))))
    times = np.concatenate([[0.0], np.sort(rng.uniform(0.01, 0.8, 3))]).tolist()
    rates = [float(r) for r in rng.choice([0.0, 2e6, 1e7], 3)] + [5e6]
    objective = "latency" if latency else str(rng.choice(["latency", "energy", "weighted", "accuracy"]))
    return DeviceProblem(
        arrivals_s=arrivals, choices=tuple(choices), uplink=StepChannel(times, rates),
        downlink=StepChannel([0.0, 0.2], [float(rng.choice([2e5, 1e6, 4e6])), 2e6]), alpha_up_w_per_bps=4e-7,
        alpha_down_w_per_bps=5e-8, beta_w=1.3, objective=objective, weight_s_per_j=0.5,
        deadline_s=None if rng.random() < 0.4 else 0.25,
        switch_s=float(rng.choice([0.0, 0.03])), switch_j=float(rng.choice([0.0, 0.01])))


def brute_force(problem: DeviceProblem, seen: dict) -> tuple[int, float]:
    """The least (late, total) over every option sequence, each evaluated by :func:`schedule`; counts in
    ``seen`` the sequences whose results overtake, queue for the downlink, or switch."""
    best = None
    for picks in itertools.product(range(len(problem.choices)), repeat=len(problem.arrivals_s)):
        timeline = schedule(problem, picks)
        value = cost(problem, timeline)
        best = value if best is None or (value[0], value[1]) < (best[0], best[1] - 1e-12) else best
        ready = timeline.ready_s[~np.isnan(timeline.ready_s)]
        seen["overtaken"] += bool(np.any(np.diff(ready) < 0))
        seen["queued"] += bool(np.any(timeline.downlink_start_s > timeline.ready_s))
        seen["switched"] += bool(timeline.switched.any())
    assert best is not None
    return best


@pytest.mark.parametrize("latency,cases,seed", [(False, 150, 7), (True, 250, 8)])
def test_dynamic_program_equals_brute_force_over_every_sequence(latency, cases, seed):
    """Exact mode: on random cases the plan's cost is the least over every option sequence (evaluated by
    :func:`schedule`, a step-by-step model written apart from the search), and the plan's own sequence
    evaluates to it. The cases cover results downloaded out of arrival order, queued downloads, switches,
    every objective with and without a deadline (first set) and the latency objective's dominance (second)."""
    rng = np.random.default_rng(seed)
    seen = {"overtaken": 0, "queued": 0, "switched": 0, "late": 0}
    for _ in range(cases):
        problem = random_problem(rng, latency)
        plan = plan_device(problem)
        assert plan.exact
        best = brute_force(problem, seen)
        assert plan.late == best[0] and plan.total == pytest.approx(best[1], rel=1e-9, abs=1e-12)
        own = cost(problem, schedule(problem, plan.picks))
        assert own[0] == plan.late and own[1] == pytest.approx(plan.total, rel=1e-9, abs=1e-12)
        seen["late"] += best[0] > 0
    assert all(count > 0 for name, count in seen.items() if name != "late" or not latency), seen


def test_a_capped_search_says_it_is_no_proof():
    """With one label kept per request the search is greedy in the state: flagged inexact, never below the
    optimum, and exact again when the cap never bites."""
    rng = np.random.default_rng(3)
    flagged = 0
    for _ in range(30):
        problem = random_problem(rng)
        exact = plan_device(problem)
        capped = plan_device(problem, max_labels=1)
        assert (capped.late, capped.total + 1e-12) >= (exact.late, exact.total)
        flagged += not capped.exact
        assert plan_device(problem, max_labels=exact.peak_labels).exact
    assert flagged > 0
    with pytest.raises(ValueError, match="max_labels"):
        plan_device(outage_problem(), max_labels=0)


def one_device(*extra: str) -> list[str]:
    """trace-driven-lte with one camera and no probes, nothing before a warm-up, idle servers (no contention)."""
    return ["devices.0.count=1", "devices.0.probe=null", "warmup_s=0", "duration_s=60", "server.workers=4", *extra]


def decisions(requests, problem: DeviceProblem) -> list[int]:
    """Each request's option index in ``problem`` from a run's request table (in arrival order)."""
    index = {(c.decision.split, c.decision.bottleneck, None if c.local else c.decision.server): k
             for k, c in enumerate(problem.choices)}
    ordered = requests.sort_values("arrival_at_s")
    return [index[(int(s), str(b), None if pd.isna(v) else str(v))] for s, b, v in
            zip(ordered["split"], ordered["bottleneck"], ordered["server"], strict=True)]


def assert_model_matches(requests, problem: DeviceProblem, picks: list[int]) -> None:
    """The model's latency and energy of each completed request equal the engine's to 1e-9."""
    ordered = requests.sort_values("arrival_at_s")
    assert ordered["arrival_at_s"].tolist() == list(problem.arrivals_s)
    timeline = schedule(problem, picks)
    done = (ordered["status"] == "completed").to_numpy()
    assert done.sum() > 50
    assert np.allclose(timeline.latency_s[done], ordered["latency_s"].to_numpy()[done], rtol=0, atol=1e-9)
    assert np.allclose(timeline.energy_j[done], ordered["energy_j"].to_numpy()[done], rtol=0, atol=1e-9)


def test_plan_is_never_above_the_oracle_or_a_static_strategy_and_the_model_is_the_engine():
    """One camera alone (no contention) on the LTE trace: the engine's oracle and static strategies, their
    decisions evaluated on the plan's model, give the engine's latency and energy request by request; the
    plan's cost is at most each of theirs, and strictly below the greedy oracle's."""
    scenario = load_scenario(TRACE_LTE, one_device())
    names = variants(scenario)
    oracle = with_strategy(scenario, names["oracle"])
    (problem,) = device_problems(oracle, 11)
    plan = plan_device(problem)
    assert plan.exact
    totals = {}
    for name in ("oracle", "local", "full_offload(jpeg)", "fixed(1, bottlenet)", "fixed(8, bottlenet)"):
        requests = simulate(with_strategy(scenario, names[name]), seed=11).requests
        picks = decisions(requests, problem)
        assert_model_matches(requests, problem, picks)
        totals[name] = cost(problem, schedule(problem, picks))[1]
        assert plan.total <= totals[name] + 1e-9, (name, plan.total, totals[name])
    assert plan.total < totals["oracle"] - 1e-3, totals


def replay(scenario, seed: int, problem: DeviceProblem, picks) -> pd.DataFrame:
    """The request table of the engine's run of ``scenario`` (one device) in which request i takes
    ``problem.choices[picks[i]]``."""
    from simsplit.engine.des import Engine
    from simsplit.engine.setup import build_setup
    from simsplit.output.results import build_requests
    engine = Engine(build_setup(scenario), seed)
    (device,) = engine.devices
    given = iter([problem.choices[k].decision for k in picks])
    device.strategy.decide = lambda now, observation: next(given)
    output = engine.run()
    return build_requests(engine.setup, output, output.columns["tail_j"])


def test_the_plan_replayed_through_the_engine_gives_its_latencies():
    """The plan's decisions, handed to the engine request by request, give the model's latency and energy to
    1e-9; so does a random sequence over the same options: an edge and a cloud server (60 ms more round
    trip), a switch cost, and 160-kbit results on a 2 Mbit/s downlink, so results queue and overtake."""
    servers = [{"name": "edge", "server_class": "gtx1080ti", "workers": 4},
               {"name": "cloud", "server_class": "gtx1080ti", "workers": 4, "extra_rtt_ms": 60}]
    scenario = load_scenario(TRACE_LTE, one_device(
        "server=null", f"servers={json.dumps(servers)}", 'switch_cost={"time_ms": 5, "energy_mj": 1}',
        "model.result_bytes=20000", "network.downlink.rate_mbps=2", "devices.0.arrivals.rate_hz=4",
        'strategy={"kind": "oracle", "bottlenecks": ["jpeg", "none"]}'))
    (problem,) = device_problems(scenario, 5)
    assert len(problem.choices) == 3  # local, the input to the edge, the input to the cloud
    plan = plan_device(problem)
    assert plan.exact
    assert_model_matches(replay(scenario, 5, problem, plan.picks), problem, list(plan.picks))
    shuffled = np.random.default_rng(2).integers(0, 3, len(problem.arrivals_s)).tolist()
    assert_model_matches(replay(scenario, 5, problem, shuffled), problem, shuffled)
    timeline = schedule(problem, shuffled)
    ready = timeline.ready_s[~np.isnan(timeline.ready_s)]
    assert np.any(np.diff(ready) < 0)  # some result was ready before an earlier request's
    assert np.any(timeline.downlink_start_s > timeline.ready_s)  # and some waited for the downlink
    assert timeline.switched.sum() > 5 and plan.total <= cost(problem, timeline)[1]


@pytest.mark.parametrize("override,why", [
    ("network.uplink.sharing=fifo", "shared link"),
    ('devices.0.arrivals={"kind": "closed_loop", "think_s": 0.1}', "closed-loop"),
    ("network.radio.state_machine=true", "RRC state machine"),
    ('server.service_variability={"kind": "lognormal", "cv": 0.3}', "random service times"),
    ('network.uplink.loss={"kind": "bernoulli", "p": 0.01}', "packet loss"),
])
def test_refused_where_the_model_does_not_hold(override, why):
    scenario = load_scenario(TRACE_LTE, ["duration_s=10", override,
                                         'strategy={"kind": "oracle"}'])
    with pytest.raises(NotPlannable, match=why):
        device_problems(scenario, 1)


def test_compare_reports_planned_and_measures_regret_against_the_best():
    """compare: the planned row beside the oracle, the bound per seed the least objective of planned, the oracle
    and every static strategy, no regret below 0, the plan at or below the oracle's mean latency; a scenario
    the plan cannot describe keeps today's bound and says why."""
    scenario = load_scenario(TRACE_LTE, ["duration_s=40"])
    names = ["local", "full_offload(jpeg)", "fixed(1, bottlenet)", "dynamic", "oracle"]
    runs, table, quantiles = compare(scenario, [3, 4], names)
    assert table["strategy"].tolist() == names + ["planned"]
    assert table.attrs["planned"] == "planned: each device's proven optimum"
    objective = runs.pivot(index="seed", columns="strategy", values="objective")
    bound = objective[["local", "full_offload(jpeg)", "fixed(1, bottlenet)", "oracle", "planned"]].min(axis=1)
    regret = table.set_index("strategy")["regret"]
    for name in names + ["planned"]:
        assert regret[name] == pytest.approx(float((objective[name] - bound).mean()), abs=1e-12)
    assert (regret >= -1e-12).all()
    assert (objective["planned"] <= objective["oracle"]).all()
    assert set(quantiles["strategy"]) == set(names + ["planned"])
    planned = runs[runs["strategy"] == "planned"]
    oracle = with_strategy(scenario, variants(scenario)["oracle"])
    run = planned_run(oracle, 3)
    assert planned["latency_mean_s"].iloc[0] == pytest.approx(run.summary["latency_s"]["mean"], rel=1e-12)
    simulated = simulate(oracle, seed=3).requests  # the plan's requests: each device's after the warm-up
    measured = simulated[simulated["arrival_at_s"] >= scenario.warmup_s].sort_values("arrival_at_s")
    for d, problem in enumerate(device_problems(oracle, 3)):
        assert list(problem.arrivals_s) == measured.loc[measured["device"] == d, "arrival_at_s"].tolist()
    assert (simulated["arrival_at_s"] < scenario.warmup_s).any()

    noisy = load_scenario(TRACE_LTE, ["duration_s=10", 'server.service_variability={"kind": "gamma", "cv": 0.2}'])
    runs, table, _ = compare(noisy, [1], ["local", "oracle"])
    assert "planned" not in set(table["strategy"]) and "random service times" in table.attrs["planned"]
    assert table.set_index("strategy")["regret"].min() == pytest.approx(0.0, abs=1e-12)
