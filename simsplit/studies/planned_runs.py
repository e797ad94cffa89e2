"""The planned bound of a scenario and seed: each device's plan (:mod:`simsplit.studies.planned_bound`) and
the summary figures ``compare`` reads from it.

Each device's problem is read from an :class:`~simsplit.engine.des.Engine` built for the seed but not run:
the same named random streams give the run's arrival instants (drawn as the engine draws them, before
``duration_s``), channel paths and options — the oracle's (the scenario's strategy must be the oracle, as
``compare`` builds it), with its objective, energy weight and deadline. The plan covers the requests that
arrive after the warm-up (the ones a summary counts), on a device idle at the warm-up's end, and sends no
load probes (it knows the state).

A lower bound: take any run of the scenario and its decisions for the same requests. Its uploads wait behind
the warm-up's requests and the probes, its results behind the server's other work and the probes' answers;
removing work from a queue served in order never makes a job later, nor does serving a job sooner, so each
of its uploads and results is no earlier than the plan's model gives for those decisions, and the plan is no
worse than them. Results end in the order they are ready, not the order they arrived, but a queue of results
of one size has the same sum of end instants whatever the order, so the planned sum of latencies is at most
the run's — when every result has one size (the model's ``result_bytes``) and a service never takes less
than its base time (refused below otherwise). ``compare`` averages the requests that finish before the end,
as a run's summary does; a run whose late requests are still in flight or dropped can have the lower mean.

Refused with :class:`NotPlannable` (saying why), where one device's model would not describe its requests:
a shared link (its transfers depend on the other devices'), closed-loop arrivals (they depend on the
decisions), the RRC state machine (a promotion depends on the gap since the last transfer), packet loss,
payload sizes or accuracy drawn per request, a cellular link that restarts transfers after a handover,
servers chosen by the serving cell, a random service factor (the base service time would then bound
nothing), a batch that takes less than its longest job alone, and the late-upload fallback.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from simsplit.core.units import MJ, MS
from simsplit.engine.des import Engine
from simsplit.engine.merged_arrivals import MergedArrivals
from simsplit.engine.setup import Setup, build_setup
from simsplit.model.strategies.dynamic import OracleStrategy
from simsplit.output.summary import LATENCY_PARTS
from simsplit.scenario import Scenario
from simsplit.studies.planned_bound import Choice, DeviceProblem, PlannedDevice, Schedule, plan_device, schedule


class NotPlannable(Exception):
    """The planned bound's model does not describe this scenario; the message says why."""


@dataclass(frozen=True)
class PlannedRun:
    """The plans of every device of one run, and what ``compare`` reads of them."""

    summary: dict
    """The run summary's fields that ``compare`` reads (the requests after the warm-up that finish before
    ``duration_s``): ``latency_s`` (mean, p50, p95, p99), ``latency_parts_s``, ``energy_j`` by component and
    ``total``, ``accuracy``, ``deadline_miss_rate``, ``completed``, ``bytes_up`` and the switches."""
    latency_s: np.ndarray
    """Those requests' latencies (s), device after device."""
    devices: tuple[PlannedDevice, ...]


def device_problems(scenario: Scenario, seed: int) -> list[DeviceProblem]:
    """Each device's :class:`DeviceProblem` in the run of ``scenario`` with ``seed`` (its strategy the oracle)."""
    setup = build_setup(scenario)
    _refuse_servers(setup)
    engine = Engine(setup, seed)
    for device in engine.devices:
        _refuse_device(device, setup)
    merged = MergedArrivals([device.arrivals for device in engine.devices], scenario.duration_s)
    owner, at, _, _ = merged.slab(scenario.duration_s)
    measured = at >= scenario.warmup_s
    return [_problem(device, tuple(at[measured & (owner == d)].tolist()), setup)
            for d, device in enumerate(engine.devices)]


def planned_run(scenario: Scenario, seed: int, max_labels: int | None = None) -> PlannedRun:
    """Every device's plan (:func:`~simsplit.studies.planned_bound.plan_device`) and their summary."""
    problems = device_problems(scenario, seed)
    plans = tuple(plan_device(problem, max_labels) for problem in problems)
    timelines = [schedule(problem, plan.picks) for problem, plan in zip(problems, plans, strict=True)]
    columns = {name: np.concatenate([_columns(p, t)[name] for p, t in zip(problems, timelines, strict=True)])
               for name in _COLUMNS}
    summary, latency = _summary(columns, scenario)
    return PlannedRun(summary, latency, plans)


def _refuse_servers(setup: Setup) -> None:
    for config in setup.scenario.server_list:
        if config.service_variability.multiplier.is_random:
            raise NotPlannable(f"server {config.name!r} has random service times (service_variability): a plan on "
                               "base service times would bound nothing")
        batching = config.batching
        if any(batching.scaling.factor(size) < 1.0 for size in range(2, batching.max_batch + 1)):
            raise NotPlannable(f"server {config.name!r} serves a batch in less than its longest job alone")
    for group in setup.groups:
        if group.cell_routes is not None:
            raise NotPlannable(f"group {group.group.name!r}: each cell sends requests to its own server")


def _refuse_device(device, setup: Setup) -> None:
    """Raise :class:`NotPlannable` where the model of one device would not describe ``device``'s requests."""
    group = setup.groups[device.group]
    name, radio = group.group.name, group.network.radio
    reasons = [
        (not isinstance(device.strategy, OracleStrategy), "the plan takes the oracle's options (strategy oracle)"),
        (device.uplink.shared or device.downlink.shared, "a shared link: its transfers depend on the other devices'"),
        (device.arrivals.closed_loop, "closed-loop arrivals depend on the decisions"),
        (radio.promotion_delay_s > 0 or bool(radio.tail_stages_s),
         "the RRC state machine: a promotion depends on the gap since the last transfer"),
        (device.uplink_loss is not None or device.downlink_loss is not None, "packet loss"),
        (any(p.bits_quantiles is not None or p.accuracy_vs_snr is not None for p in device.plans.values()),
         "payload sizes or accuracy drawn per request"),
        (any(getattr(link.channel, "restart", False) for link in (device.uplink, device.downlink)),
         "a cellular link that restarts transfers after a handover"),
        (getattr(device, "fallback", None) is not None, "a late-upload fallback cuts transfers short"),
    ]
    for refused, why in reasons:
        if refused:
            raise NotPlannable(f"group {name!r}: {why}")


def _problem(device, arrivals_s: tuple[float, ...], setup: Setup) -> DeviceProblem:
    scenario, strategy = setup.scenario, device.strategy
    radio = setup.groups[device.group].network.radio
    choices = []
    for option in strategy.options:
        plan = device.plans[option.decision]
        half_rtt = plan.extra_rtt_s / 2
        choices.append(Choice(option.decision, plan.local, plan.head_s, plan.bits_up,
                              device.uplink.delay_s + half_rtt, plan.service_s, plan.bits_down,
                              device.downlink.delay_s + half_rtt, plan.compute_power_w, plan.accuracy,
                              plan.batch_key))
    return DeviceProblem(
        arrivals_s=arrivals_s,
        choices=tuple(choices), uplink=device.uplink.channel, downlink=device.downlink.channel,
        alpha_up_w_per_bps=radio.alpha_up_w_per_bps, alpha_down_w_per_bps=radio.alpha_down_w_per_bps,
        beta_w=radio.beta_w, objective=strategy.config.objective,
        weight_s_per_j=strategy.config.energy_weight_s_per_j, deadline_s=strategy.deadline_s,
        switch_s=scenario.switch_cost.time_ms * MS, switch_j=scenario.switch_cost.energy_mj * MJ)


_COLUMNS = ("arrival_at_s", "finish_at_s", "latency_s", "device_wait_s", "switch_s", "head_s", "promotion_s",
            "uplink_wait_s", "uplink_s", "server_wait_s", "server_s", "downlink_wait_s", "downlink_s",
            "propagation_s", "compute_j", "switch_j", "uplink_j", "downlink_j", "promotion_j", "tail_j",
            "energy_j", "accuracy", "switched", "bytes_up")
"""The request table's columns a plan fills in (the same names and meaning)."""


def _columns(problem: DeviceProblem, timeline: Schedule) -> dict[str, np.ndarray]:
    """One device's planned requests as request-table columns (a step a request does not take: NaN)."""
    chosen = [problem.choices[k] for k in timeline.picks]

    def field(name: str) -> np.ndarray:
        return np.array([getattr(choice, name) for choice in chosen], dtype=float)

    local = np.array([choice.local for choice in chosen], dtype=bool)
    offload = np.where(local, np.nan, 1.0)
    arrival = np.asarray(problem.arrivals_s, dtype=float)
    switch_s = np.where(timeline.switched, problem.switch_s, 0.0)
    head = field("head_s")
    zero = np.zeros(arrival.size)
    return {
        "arrival_at_s": arrival, "finish_at_s": timeline.finish_s, "latency_s": timeline.latency_s,
        "device_wait_s": timeline.head_start_s - switch_s - arrival, "switch_s": switch_s, "head_s": head,
        "promotion_s": zero, "uplink_wait_s": timeline.uplink_start_s - (timeline.head_start_s + head),
        "uplink_s": timeline.uplink_end_s - timeline.uplink_start_s, "server_wait_s": zero * offload,
        "server_s": field("service_s") * offload, "downlink_wait_s": timeline.downlink_start_s - timeline.ready_s,
        "downlink_s": timeline.downlink_end_s - timeline.downlink_start_s,
        "propagation_s": np.where(local, 0.0, field("to_server_s") + field("back_s")),
        "compute_j": timeline.compute_j, "switch_j": timeline.switch_j, "uplink_j": timeline.uplink_j,
        "downlink_j": timeline.downlink_j, "promotion_j": zero, "tail_j": zero, "energy_j": timeline.energy_j,
        "accuracy": field("accuracy"), "switched": timeline.switched.astype(float),
        "bytes_up": np.where(local, 0.0, field("bits_up") / 8.0),
    }


def _summary(columns: dict[str, np.ndarray], scenario: Scenario) -> tuple[dict, np.ndarray]:
    """The summary fields of :attr:`PlannedRun.summary`, as :mod:`simsplit.output.summary` computes them."""
    done = columns["finish_at_s"] < scenario.duration_s
    latency = columns["latency_s"][done]
    n_done = int(done.sum())

    def mean(name: str) -> float:  # a part the plan never has (a late-upload fallback, say) is 0
        if not n_done:
            return math.nan
        return float(np.nan_to_num(columns[name][done]).mean()) if name in columns else 0.0

    quantiles = {key: float(np.quantile(latency, q)) if n_done else math.nan
                 for key, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))}
    energy = {part.removesuffix("_j"): mean(part)
              for part in ("compute_j", "switch_j", "uplink_j", "downlink_j", "promotion_j", "tail_j")}
    deadline = scenario.deadline_s
    summary = {
        "completed": n_done, "latency_s": {"mean": float(latency.mean()) if n_done else math.nan, **quantiles},
        "latency_parts_s": {part: mean(part) for part in LATENCY_PARTS},
        "energy_j": {**energy, "total": mean("energy_j")}, "accuracy": mean("accuracy"),
        "deadline_miss_rate": None if deadline is None or not n_done else float((latency > deadline).mean()),
        "groups": {"planned": {"switches": int(columns["switched"].sum())}},
        "bytes_up": mean("bytes_up"),
    }
    return summary, latency
