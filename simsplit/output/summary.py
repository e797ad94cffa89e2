"""A run's summary: counts, throughput, latency with intervals, energy by component, accuracy, deadline
misses and server utilisation, overall, per device group and per phase.

It is computed from the per-request table one column at a time (numpy arrays, categories as codes), so a
table streamed to disk is never loaded whole; an in-memory table gives the same numbers, bit for bit.
"""

from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from simsplit.core.stats import batch_interval, batch_quantile_interval
from simsplit.engine.records import STATUS_NAMES, RunOutput
from simsplit.engine.setup import Setup
from simsplit.model.server import busy_within

if TYPE_CHECKING:
    from simsplit.scenario import ServerConfig

LATENCY_PARTS = ("device_wait_s", "switch_s", "head_s", "promotion_s", "uplink_wait_s", "uplink_s", "server_wait_s",
                 "server_s", "downlink_wait_s", "downlink_s", "propagation_s", "fallback_wait_s", "fallback_s")
"""Columns that add up to ``latency_s`` for a completed request."""
ENERGY_PARTS = ("compute_j", "switch_j", "uplink_j", "downlink_j", "promotion_j", "tail_j")
QUANTILES = {"p50": 0.50, "p95": 0.95, "p99": 0.99}


def _interval_dict(values: np.ndarray) -> dict:
    """Mean and quantiles of latencies (s) with 95% intervals (:mod:`simsplit.core.stats`; never below 0)."""
    out: dict[str, Any] = {}
    ci: dict[str, list[float]] = {}
    point, low, high = batch_interval(values, np.mean, bounds=(0.0, math.inf))
    out["mean"], ci["mean"] = point, [low, high]
    for name, q in QUANTILES.items():
        point, low, high = batch_quantile_interval(values, q)
        out[name], ci[name] = point, [low, high]
    out["ci95"] = ci
    return out


def _busy_time(server, start_s: float, end_s: float) -> tuple[float, float]:
    """Worker-seconds busy inside [start_s, end_s]: (all, other tenants' share). From the server's busy
    intervals, or from its batches' busy times in that window where it kept only those (``busy_within``,
    ``busy_window``, ``background_busy_within``: a fast run)."""
    kept = getattr(server, "busy_within", None)
    if kept is not None:
        if server.busy_window != (start_s, end_s):
            raise ValueError(f"busy times kept for {server.busy_window}, asked for {(start_s, end_s)}")
        return float(kept.sum()), float(server.background_busy_within.sum()) if kept.size else 0.0
    intervals = server.intervals
    overlap = busy_within(intervals.starts, intervals.ends, start_s, end_s)
    background = np.asarray(intervals.background, dtype=bool)
    return float(overlap.sum()), float(overlap[background].sum()) if overlap.size else 0.0


def server_totals(server, warmup: float, end_s: float) -> tuple[float, float, int, int]:
    """A server's (busy worker-s, other tenants' share of it, other tenants' jobs, and those rejected) over
    the measured window [warmup, end_s]: what its summary block is made of, and what adds across sites."""
    busy, background = _busy_time(server, warmup, end_s)
    streams = server.background_streams
    arrivals = np.concatenate([np.asarray(s.arrivals_at_s, dtype=float) for s in streams]) if streams else np.array([])
    return busy, background, int((arrivals >= warmup).sum()), sum(s.rejected for s in streams)


def device_handovers(handover_times, device_group: np.ndarray, groups: int, warmup_s: float,
                     end_s: float) -> np.ndarray:
    """Per group, its devices' handovers in the measured window [warmup_s, end_s)."""
    counts = np.zeros(groups, dtype=np.int64)
    for group, times in zip(device_group, handover_times, strict=True):
        counts[group] += sum(warmup_s <= t < end_s for t in times)
    return counts


def _server_block(server, config, warmup: float, end_s: float, measured_s: float, completed: int) -> dict:
    busy, background, jobs, rejected = server_totals(server, warmup, end_s)
    capacity = config.workers * measured_s
    block = {
        "utilisation": busy / capacity,
        "background_utilisation": background / capacity,
        "background_jobs": jobs,
        "background_rejected": rejected,
    }
    if config.power is not None:
        block.update(server_energy(config.power, config.workers, measured_s, busy, background, completed))
    return block


def server_energy(power, workers: int, measured_s: float, busy_s: float, background_s: float,
                  completed: int) -> dict:
    """The server's energy over the measured window (J, and kWh): every worker at ``idle_w`` plus
    ``busy_w - idle_w`` for each worker-second busy (``busy_s``, other tenants' ``background_s`` included);
    per completed request of this run: the dynamic part of its own busy time, and the operator's view (the
    total, idle power included, split between tenants by busy time)."""
    total = workers * power.idle_w * measured_s + (power.busy_w - power.idle_w) * busy_s
    ours = busy_s - background_s
    share = ours / busy_s if busy_s > 0 else 1.0
    per = (lambda joules: joules / completed) if completed else (lambda joules: None)
    return {"energy_j": total, "energy_kwh": total / 3.6e6, "mean_power_w": total / measured_s,
            "dynamic_j_per_request": per((power.busy_w - power.idle_w) * ours),
            "j_per_request": per(total * share)}


class _Columns:
    """The per-request table read one column at a time as numpy arrays (``load(name)``), restricted to the
    requests that arrived after the warm-up. Statuses, groups and bottlenecks as category codes."""

    def __init__(self, load, warmup_s: float):
        self._load = load
        self.measured = load("arrival_at_s") >= warmup_s
        self.status = load("status")[self.measured]
        self.group = load("group")[self.measured]
        self.completed = self.status == STATUS_NAMES.index("completed")
        self._rows: np.ndarray | None = None
        self._selected = self.measured
        """The last ``rows`` asked for, and the whole table's rows it selects (a block asks for many columns of
        the same rows)."""

    def __call__(self, name: str, rows: np.ndarray | None = None) -> np.ndarray:
        """Column ``name`` of the measured requests, or of those among them that ``rows`` selects (one copy)."""
        if rows is None:
            return self._load(name)[self.measured]
        if rows is not self._rows:
            self._selected = self.measured.copy()
            self._selected[self.measured] = rows
            self._rows = rows
        return self._load(name)[self._selected]


def _mean(values: np.ndarray) -> float:
    """The mean as the per-request table's pandas column gives it, NaN skipped: pandas' own arithmetic (NaNs
    set to 0 in a copy, the float64 sum over the count of the others), without a Series per call."""
    missing = np.isnan(values)
    count = missing.size - int(missing.sum())
    if not count:
        return math.nan
    if missing.any():
        values = values.copy()
        values[missing] = 0.0
    return float(values.sum(dtype=np.float64) / np.float64(count))


def _block(columns: _Columns, rows: np.ndarray, deadline: float | None, with_intervals: bool,
           bottlenecks: list[str]) -> dict:
    """The summary block of the measured requests selected by ``rows`` (a mask)."""
    status = columns.status[rows]
    done_rows = rows & columns.completed
    n_done = int(done_rows.sum())
    counts = np.bincount(status, minlength=len(STATUS_NAMES))
    dropped, lost, timed_out = (int(counts[STATUS_NAMES.index(n)]) for n in ("dropped", "lost", "timed_out"))
    block: dict[str, Any] = {
        "generated": int(rows.sum()),
        "completed": n_done,
        "dropped": dropped,
        "lost": lost,
        "timed_out": timed_out,
        "in_flight": int(counts[STATUS_NAMES.index("in_flight")]),
    }
    latency = columns("latency_s", done_rows)
    if with_intervals:
        block["latency_s"] = _interval_dict(latency)
    else:
        block["latency_s"] = {key: latency_statistic(latency, key) for key in ("mean", *QUANTILES)}

    def mean(name: str, fill: bool = False) -> float:
        if not n_done:
            return math.nan
        values = columns(name, done_rows)
        if fill:
            np.nan_to_num(values, copy=False, nan=0.0)
        return _mean(values)

    block["latency_parts_s"] = {p: mean(p, fill=True) for p in LATENCY_PARTS}
    energy = {p[:-2]: mean(p) for p in ENERGY_PARTS}
    energy["total"] = mean("energy_j")
    block["energy_j"] = energy
    block["accuracy"] = mean("accuracy")
    block["switches"] = int(columns("switched", rows).sum())
    block["handovers_during_transfers"] = int(columns("handovers", rows).sum())
    width = len(bottlenecks)  # (split, bottleneck) as one key, in the order of split then bottleneck
    keys, sizes = np.unique(columns("split", done_rows) * width + columns("bottleneck", done_rows),
                            return_counts=True)
    block["option_share"] = {f"{key // width}/{bottlenecks[key % width]}": float(size / max(n_done, 1))
                             for key, size in zip(keys.tolist(), sizes, strict=True)}
    block["bytes_up"] = mean("bytes_up")
    block["bytes_up_p95"] = float(np.quantile(columns("bytes_up", done_rows), 0.95)) if n_done else math.nan
    block["bytes_sent_up"] = mean("bytes_sent_up")
    failed = dropped + lost + timed_out
    if deadline is None or n_done + failed == 0:
        block["deadline_miss_rate"] = None
    else:
        late = int((latency > deadline).sum())
        block["deadline_miss_rate"] = (late + failed) / (n_done + failed)
    return block


def latency_statistic(latency: np.ndarray, key: str) -> float:
    """The ``mean`` or a quantile (a key of :data:`QUANTILES`) of ``latency`` (s) as a group block gives it; NaN
    for none."""
    if not latency.size:
        return math.nan
    return float(latency.mean()) if key == "mean" else float(np.quantile(latency, QUANTILES[key]))


def group_outcomes(setup: Setup, load, statistic: str) -> dict[str, tuple[float | None, float]]:
    """Each device group's (latency ``statistic`` s, ``mean`` or a key of :data:`QUANTILES`, None when it completed
    nothing; mean device energy per completed request J) of the run whose columns ``load(name)`` gives (groups and
    statuses as codes): the very numbers of its block in :func:`summarise`, without the rest of the summary
    (what a calibration reads of a run, hundreds of times)."""
    columns = _Columns(load, setup.scenario.warmup_s)
    outcomes: dict[str, tuple[float | None, float]] = {}
    for code, g in enumerate(setup.groups):
        done_rows = (columns.group == code) & columns.completed
        latency = columns("latency_s", done_rows)
        if not latency.size:
            outcomes[g.group.name] = (None, math.nan)
            continue
        outcomes[g.group.name] = (latency_statistic(latency, statistic), _mean(columns("energy_j", done_rows)))
    return outcomes


def frame_columns(requests: pd.DataFrame):
    """``load(name)`` for an in-memory per-request table: numpy arrays, categories as codes, each column taken
    from the frame once (a summary reads a column for the whole run and again for each group; the table is in
    memory already, so keeping its arrays costs at most the copies pandas makes of a few)."""
    loaded: dict[str, np.ndarray] = {}

    def load(name: str) -> np.ndarray:
        if name not in loaded:
            column = requests[name]
            loaded[name] = column.cat.codes.to_numpy() if isinstance(column.dtype, pd.CategoricalDtype) \
                else column.to_numpy()
        return loaded[name]
    return load


def summarise(setup: Setup, requests, output: RunOutput, probes: pd.DataFrame | None = None) -> dict:
    """Counts, throughput, latency with 95% batch-means intervals, energy per request by component,
    accuracy, deadline misses and server utilisation, over requests that arrived after the warm-up,
    overall and per device group. ``requests``: the per-request table, or a function that loads one of
    its columns (a table streamed to disk is read a column at a time)."""
    scenario = setup.scenario
    end_s, seed = output.end_s, output.seed
    warmup = scenario.warmup_s
    columns = _Columns(frame_columns(requests) if isinstance(requests, pd.DataFrame) else requests, warmup)
    everything = np.ones(int(columns.measured.sum()), dtype=bool)
    bottlenecks = sorted({p.bottleneck for p in setup.plans})
    measured_s = end_s - warmup
    summary: dict[str, Any] = {"scenario": scenario.name, "seed": seed, "duration_s": scenario.duration_s,
                               "warmup_s": warmup, "deadline_s": scenario.deadline_s}
    overall = _block(columns, everything, scenario.deadline_s, True, bottlenecks)
    summary.update({k: overall[k] for k in ("generated", "completed", "dropped", "lost", "timed_out", "in_flight")})
    summary["throughput_rps"] = overall["completed"] / measured_s
    summary.update({k: v for k, v in overall.items() if k not in summary})
    if probes is not None:
        _probes(summary, probes, warmup, overall["completed"])
    servers = _servers(output, scenario.server_list, columns, warmup, end_s)
    workers = sum(config.workers for config in scenario.server_list)
    summary["server_utilisation"] = sum(b["utilisation"] * c.workers for b, c in
                                        zip(servers.values(), scenario.server_list, strict=True)) / workers
    summary["servers"] = servers
    summary["groups"] = _groups(setup, columns, overall, bottlenecks)
    _handovers(summary, output, warmup, end_s)
    if scenario.phases_s is not None:
        summary["phases"] = _phases(setup, columns, scenario.phases_s)
    return json_safe(summary)


def _probes(summary: dict, probes: pd.DataFrame, warmup_s: float, completed: int) -> None:
    """``probes``: the load probes sent in the measured window (count, energy J), and their energy per
    completed request added to ``energy_j`` as ``probe``."""
    window = probes[probes["sent_at_s"] >= warmup_s]
    total = float(window["energy_j"].sum())
    summary["probes"] = {"sent": len(window), "energy_j": total}
    share = total / completed if completed else math.nan
    summary["energy_j"] = {**summary["energy_j"], "probe": share, "total": summary["energy_j"]["total"] + share}


def _servers(output: RunOutput, server_list: list[ServerConfig], columns: _Columns, warmup_s: float,
             end_s: float) -> dict:
    """Each server's block over the measured window [warmup_s, end_s], by name."""
    served = np.zeros(len(server_list), dtype=int)  # completed requests per server (local ones: -1)
    if any(config.power is not None for config in server_list):  # read only where energy needs it
        served = np.bincount(columns("server", columns.completed) + 1, minlength=len(served) + 1)[1:]
    return {config.name: _server_block(server, config, warmup_s, end_s, end_s - warmup_s, int(count))
            for server, config, count in zip(output.servers, server_list, served, strict=True)}


def _groups(setup: Setup, columns: _Columns, overall: dict, bottlenecks: list[str]) -> dict:
    """Each device group's block (its strategy's label first), by name."""
    groups = {}
    for code, g in enumerate(setup.groups):
        if len(setup.groups) == 1:  # the one group's block is the overall block without intervals
            block = copy.deepcopy(overall)
            del block["latency_s"]["ci95"]
        else:
            block = _block(columns, columns.group == code, setup.scenario.deadline_s, False, bottlenecks)
        groups[g.group.name] = {"strategy": g.label, **block}
    return groups


def _handovers(summary: dict, output: RunOutput, warmup_s: float, end_s: float) -> None:
    """``handovers``: the devices' handovers in the measured window, overall and per group (beside each
    block's ``handovers_during_transfers``, those that hit a request's upload or download)."""
    groups = list(summary["groups"].values())
    per_group = device_handovers(output.handover_times, output.device_group, len(groups), warmup_s, end_s)
    for block, count in zip([summary, *groups], [per_group.sum(), *per_group], strict=True):
        block["handovers"] = int(count)
    if output.forwarded_results is not None:
        summary["forwarded_results"] = output.forwarded_results


def _phases(setup: Setup, columns: _Columns, bounds: list[float]) -> list[dict]:
    """Per phase [bounds[k], bounds[k+1]) of arrival time: each group's completions and latency."""
    phases = []
    latency_all = columns("latency_s")
    arrival = columns("arrival_at_s")
    for start, end in zip(bounds, bounds[1:], strict=False):
        inside = (arrival >= start) & (arrival < end) & columns.completed
        groups = {}
        for code, g in enumerate(setup.groups):
            latency = latency_all[inside & (columns.group == code)]
            groups[g.group.name] = {
                "completed": int(latency.size),
                "latency_s": {"mean": float(latency.mean()) if latency.size else math.nan,
                              "p95": float(np.quantile(latency, 0.95)) if latency.size else math.nan}}
        phases.append({"from_s": start, "to_s": end, "groups": groups})
    return phases


def json_safe(value):
    """``value`` with numpy numbers as Python ones and NaN and infinities as None (JSON has neither)."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value
