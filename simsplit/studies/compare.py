"""Every strategy on one scenario over several seeds: the comparison table of an offloading study.

Variants: local, full offload (each input encoding), every fixed (split, bottleneck) on the first server,
Neurosurgeon, Edgent's map (when the uplink is a trace), dynamic, and the oracle. Each variant replaces
the strategy of every device group. Per variant: mean and 95% t-interval over seeds of mean and p95
latency, energy per request, accuracy, deadline hit rate and switches, and the plain means over seeds of
each latency part, each energy component and the bytes sent up. Beside the oracle (when it is compared),
the row ``planned``: each device's options for its whole request sequence chosen at once on the known
channel with zero server wait (:mod:`simsplit.studies.planned_runs`; a lower bound on latency that ignores
server contention), not simulated; where its model does not describe the scenario it is left out and
``table.attrs["planned"]`` says why (else whether it is a proven optimum). Regret is the paired (same seed)
difference of the objective from the **bound**: per seed, the best of the planned bound, the oracle and
every static strategy run (local, full offload, fixed splits). The oracle decides each request on the true
state but greedily, so it can lose to a static strategy where a cost is shared by consecutive requests (an
outage that a queue of uploads waits through together, say); the bound never does, and no row's regret is
negative.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd

from simsplit.core.stats import metric_bounds, t_interval
from simsplit.engine.setup import build_setup
from simsplit.model.strategies.base import strategies
from simsplit.model.strategies.context import objective_name
from simsplit.output.metrics import COMPARE_METRICS, run_metrics
from simsplit.output.summary import ENERGY_PARTS, LATENCY_PARTS
from simsplit.scenario import Scenario
from simsplit.studies.planned_runs import NotPlannable, planned_run
from simsplit.studies.simulation import simulate

LEVELS = np.linspace(0.0, 1.0, 201)
"""Quantile levels at which each run's latency distribution is kept (for the per-strategy CDF)."""
ENERGY_KEYS = tuple(part.removesuffix("_j") for part in ENERGY_PARTS) + ("probe",)
"""Energy components (keys of a summary's ``energy_j``: the per-request parts and the load probes' share) kept
per run as ``energy_<key>_j``."""
BREAKDOWN = LATENCY_PARTS + tuple(f"energy_{key}_j" for key in ENERGY_KEYS) + ("bytes_up",)
"""Per-run columns averaged over seeds without an interval (figures stack them)."""
PLANNED_MAX_LABELS = {"latency": 20_000, "other": 500}
"""The labels the planned bound keeps per request at most in ``compare`` (beyond: not a proven optimum), under
the latency objective (where dominance prunes: on trace-driven-lte at most 2,467 were needed) and under the
others (equal states only: an outage's burst of requests multiplies them)."""


def breakdown(summary: dict) -> dict:
    """A run's mean latency parts (s), energy components (J per request) and bytes sent up per request."""
    parts = {part: summary["latency_parts_s"].get(part) for part in LATENCY_PARTS}
    energy = {f"energy_{key}_j": summary["energy_j"].get(key, 0.0) for key in ENERGY_KEYS}
    return {**parts, **energy, "bytes_up": summary.get("bytes_up")}


def latency_quantiles(result) -> np.ndarray:
    """The completed, measured (after the warm-up) requests' latency (s) at :data:`LEVELS` (the empirical
    distribution's inverse: the smallest latency with at least that share of requests at or below it); NaN
    when none completed."""
    requests = result.requests
    measured = (requests["arrival_at_s"] >= result.scenario.warmup_s) & (requests["status"] == "completed")
    latency = requests.loc[measured, "latency_s"].to_numpy(dtype=float)
    if latency.size == 0:
        return np.full(LEVELS.size, np.nan)
    return np.quantile(latency, LEVELS, method="inverted_cdf")


def variants(scenario: Scenario) -> dict[str, dict]:
    """Strategy blocks to compare, by name: what every registered strategy kind's ``compared`` offers,
    static kinds first."""
    setup = build_setup(scenario)
    found: dict[str, dict] = {}
    kinds = sorted(strategies.kinds(), key=lambda kind: not kind.options.get("static"))
    for kind in kinds:
        if kind.options.get("compared") is not None:
            found.update(kind.options["compared"](scenario, setup))
    return found


def left_out(scenario: Scenario, compared: dict[str, dict]) -> dict[str, str]:
    """The strategy kinds ``compare`` offers but not for ``scenario``, with what it lacks for each."""
    present = {block["kind"] for block in compared.values()}
    return {kind.name: kind.options["compared_needs"] for kind in strategies.kinds()
            if kind.options.get("compared_needs") and kind.name not in present}


def with_strategy(scenario: Scenario, strategy: dict) -> Scenario:
    """``scenario`` with every device group using ``strategy``."""
    data = scenario.model_dump(mode="json")
    data["strategy"] = strategy
    for group in data["devices"]:
        group["strategy"] = None
    from simsplit.scenario import validate_scenario
    return validate_scenario(data, source=scenario.source)


def is_static(block: dict) -> bool:
    """Whether a variant's block is of a static kind (the same option for every request)."""
    return bool(strategies[block["kind"]].options.get("static"))


def objective_of(scenario: Scenario) -> Callable[[dict], float]:
    strategy = scenario.strategy
    kind = objective_name(scenario)
    weight = getattr(strategy, "energy_weight_s_per_j", 0.0)
    if kind == "energy":
        return lambda m: m["energy_j"]
    if kind == "accuracy":
        return lambda m: 1.0 - m["accuracy"]
    if kind == "weighted":
        return lambda m: m["latency_mean_s"] + weight * m["energy_j"]
    return lambda m: m["latency_mean_s"]


def compare(scenario: Scenario, seeds: list[int], names: list[str] | None = None,
            progress: Callable[[str], None] | None = None,
            plan: bool = True) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(per-run table, per-variant table with 95% intervals and regret against the bound, each run's latency
    quantiles: strategy, seed, level, latency_s). With the oracle compared (and ``plan``), the planned bound's
    rows follow (strategy ``planned``), and ``table.attrs["planned"]`` says whether it is a proven optimum or
    why it is left out."""
    chosen = variants(scenario)
    if names is not None:
        chosen = {name: chosen[name] for name in names}
    runs, quantiles = _run_variants(scenario, chosen, seeds, progress)
    note, rows = None, [(name, is_static(block)) for name, block in chosen.items()]
    if "oracle" in chosen and not plan:
        note = "planned: left out (not asked for)"
    elif "oracle" in chosen:
        planned, planned_quantiles, note = _planned(scenario, chosen["oracle"], seeds)
        if planned:
            runs = pd.concat([runs, pd.DataFrame(planned)], ignore_index=True)
            quantiles += planned_quantiles
            rows.append(("planned", False))
    static = [n for n, block in chosen.items() if is_static(block)]
    bounded = static + ["oracle", "planned"]
    bound = (runs[runs["strategy"].isin(bounded)].groupby("seed")["objective"].min()
             if "oracle" in chosen else None)
    table = pd.DataFrame([_variant_row(name, static_kind, runs[runs["strategy"] == name], bound)
                          for name, static_kind in rows])
    table.attrs["planned"] = note
    table.attrs["objective"] = objective_name(scenario)
    return runs, table, pd.concat(quantiles, ignore_index=True)


def _planned(scenario: Scenario, oracle: dict, seeds: list[int]) -> tuple[list[dict], list[pd.DataFrame], str]:
    """The planned bound's run rows and latency quantiles per seed (:func:`~simsplit.studies.planned_runs.planned_run`
    with the oracle's options), and a line saying whether it is a proven optimum; no rows (and the reason)
    where its model does not describe ``scenario``."""
    variant = with_strategy(scenario, oracle)
    objective = objective_of(scenario)
    cap = PLANNED_MAX_LABELS["latency" if objective_name(scenario) == "latency" else "other"]
    rows, quantiles, exact = [], [], True
    for seed in seeds:
        try:
            run = planned_run(variant, seed, max_labels=cap)
        except NotPlannable as exc:
            return [], [], f"planned: left out ({exc})"
        metrics = run_metrics(run.summary, COMPARE_METRICS + ("completed",))
        rows.append({"strategy": "planned", "seed": seed, **metrics, "objective": objective(metrics),
                     **breakdown(run.summary)})
        latency = (np.quantile(run.latency_s, LEVELS, method="inverted_cdf") if run.latency_s.size
                   else np.full(LEVELS.size, np.nan))
        quantiles.append(pd.DataFrame({"strategy": "planned", "seed": seed, "level": LEVELS, "latency_s": latency}))
        exact = exact and all(device.exact for device in run.devices)
    return rows, quantiles, ("planned: each device's proven optimum" if exact else
                             f"planned: at most {cap} labels per request kept, not a proven optimum")


def _run_variants(scenario: Scenario, chosen: dict[str, dict], seeds: list[int],
                  progress: Callable[[str], None] | None) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """Run every variant with every seed: (one row per run, each run's latency at :data:`LEVELS`)."""
    objective = objective_of(scenario)
    rows, quantiles = [], []
    for name, strategy in chosen.items():
        variant = with_strategy(scenario, strategy)
        for seed in seeds:
            result = simulate(variant, seed=seed)
            metrics = run_metrics(result.summary, COMPARE_METRICS + ("completed",))
            rows.append({"strategy": name, "seed": seed, **metrics, "objective": objective(metrics),
                         **breakdown(result.summary)})
            quantiles.append(pd.DataFrame({"strategy": name, "seed": seed, "level": LEVELS,
                                           "latency_s": latency_quantiles(result)}))
            if progress is not None:
                progress(name)
    return pd.DataFrame(rows), quantiles


def _variant_row(name: str, static: bool, mine: pd.DataFrame, bound: pd.Series | None) -> dict:
    """One variant's row of the comparison table from its runs ``mine``: each metric's mean and 95%
    interval over seeds, the breakdown's plain means, and the regret against ``bound`` (per seed)."""
    row: dict = {"strategy": name, "static": static}
    for metric in COMPARE_METRICS + ("objective",):
        values = mine[metric].to_numpy(dtype=float)
        values = values[~np.isnan(values)]
        mean, low, high = t_interval(values, bounds=metric_bounds(metric)) if values.size else (math.nan,) * 3
        row[metric] = mean
        row[f"{metric}_ci95"] = (low, high)
    for column in BREAKDOWN:
        values = mine[column].to_numpy(dtype=float)
        row[column] = float(np.nanmean(values)) if np.isfinite(values).any() else math.nan
    if bound is not None:
        gap = mine.set_index("seed")["objective"] - bound
        # a static strategy is among the bound's terms: its gap is never below 0, nor is its interval
        mean, low, high = t_interval(gap.to_numpy(), bounds=(0.0, math.inf) if static else None)
        row["regret"] = mean
        row["regret_ci95"] = (low, high)
        scale = float(bound.mean())  # relative to the bound's mean over the seeds (none for a bound of 0)
        row["relative_regret"] = mean / scale if scale else math.nan
        row["relative_regret_ci95"] = (low / scale, high / scale) if scale else (math.nan, math.nan)
    return row
