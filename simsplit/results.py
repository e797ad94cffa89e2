"""From the engine's raw columns to the per-request table, the summary, and the result folder."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from simsplit.energy import compute_j, transfer_j
from simsplit.outdir import write_folder
from simsplit.records import COMPLETED, DROPPED, IN_FLIGHT, LOST, STATUS_NAMES, TIMED_OUT, RunOutput
from simsplit.records import status_categorical
from simsplit.scenario import Scenario, to_yaml
from simsplit.setup import BITS_PER_BYTE, Setup
from simsplit.stats import batch_interval, batch_quantile_interval
from simsplit.units import MJ

LATENCY_PARTS = ("device_wait_s", "switch_s", "head_s", "promotion_s", "uplink_wait_s", "uplink_s", "server_wait_s", "server_s",
                 "downlink_wait_s", "downlink_s", "propagation_s")
"""Columns that add up to ``latency_s`` for a completed request."""
ENERGY_PARTS = ("compute_j", "switch_j", "uplink_j", "downlink_j", "promotion_j", "tail_j")
QUANTILES = {"p50": 0.50, "p95": 0.95, "p99": 0.99}


class Result:
    """One run: the resolved scenario, one row per request (``requests``), one per load probe (``probes``),
    the summary, and the monitor's samples (``timeseries``, with ``simulate(..., monitor_period_s=...)``).

    A run streamed to disk keeps its per-request table in a Parquet file (``requests_path``) and reads it
    only when ``requests`` is asked for.
    """

    def __init__(self, scenario: Scenario, requests: pd.DataFrame | Path, summary: dict, setup: Setup,
                 probes: pd.DataFrame | None = None, timeseries: pd.DataFrame | None = None, spool=None):
        self.scenario, self.summary, self.setup = scenario, summary, setup
        self.probes, self.timeseries = probes, timeseries
        self._requests = requests if isinstance(requests, pd.DataFrame) else None
        self.requests_path: Path | None = None if isinstance(requests, pd.DataFrame) else Path(requests)
        self._spool = spool
        """What keeps a streamed table's temporary file alive."""

    @property
    def request_count(self) -> int:
        """Rows of the per-request table (without reading a streamed one)."""
        if self._requests is None:
            import pyarrow.parquet as pq
            return pq.ParquetFile(self.requests_path).metadata.num_rows
        return len(self._requests)

    @property
    def requests(self) -> pd.DataFrame:
        """One row per request, in arrival order (read from ``requests_path`` on first use for a streamed run)."""
        if self._requests is None:
            self._requests = pd.read_parquet(self.requests_path)
        return self._requests

    def write(self, out_dir: str | Path) -> Path:
        """Write the result folder atomically; see :func:`write_result`."""
        return write_result(self, Path(out_dir))

    def summary_frame(self) -> pd.DataFrame:
        """The summary as a tidy table: one row for the whole run (``scope`` "all") and one per device group,
        in SI units (s, J, bytes); the whole run's 95% intervals as ``*_low``/``*_high`` columns."""
        return summary_frame(self.summary)

    def __repr__(self) -> str:
        s = self.summary
        latency, energy = s["latency_s"], s["energy_j"]

        def ms(value):
            return "-" if value is None else f"{value * 1e3:.2f}"

        return (f"<Result {s['scenario']!r} seed {s['seed']}: {s['generated']} requests, {s['completed']} completed; "
                f"latency mean {ms(latency['mean'])} ms, p95 {ms(latency['p95'])} ms; energy "
                f"{ms(energy['total'])} mJ/request; {len(s['groups'])} device group(s) — .summary_frame(), "
                f".requests, .summary>")

    def _repr_html_(self) -> str:
        frame = self.summary_frame().set_index("scope")
        shown = pd.DataFrame({
            "strategy": frame["strategy"], "completed": frame["completed"],
            "latency mean (ms)": frame["latency_mean_s"] * 1e3, "latency p95 (ms)": frame["latency_p95_s"] * 1e3,
            "energy (mJ/request)": frame["energy_j"] * 1e3, "accuracy": frame["accuracy"],
            "deadline miss rate": frame["deadline_miss_rate"]})
        title = f"<p><b>{self.summary['scenario']}</b> (seed {self.summary['seed']})</p>"
        return title + shown.to_html(float_format=lambda v: f"{v:.4g}", na_rep="-")


SUMMARY_COLUMNS = ("generated", "completed", "dropped", "lost", "timed_out", "in_flight", "accuracy",
                   "deadline_miss_rate", "switches", "bytes_up", "bytes_up_p95", "bytes_sent_up")
"""Plain numbers of a summary block that become columns of :func:`summary_frame`."""


def summary_frame(summary: dict) -> pd.DataFrame:
    """A summary (dict, as in summary.json) as a tidy DataFrame; see :meth:`Result.summary_frame`."""
    rows = []
    blocks = [("all", "-", summary)] + [(name, g["strategy"], g) for name, g in summary["groups"].items()]
    for scope, strategy, block in blocks:
        row = {"scope": scope, "strategy": strategy}
        row.update({k: block.get(k) for k in SUMMARY_COLUMNS})
        for key, value in block["latency_s"].items():
            if key != "ci95":
                row[f"latency_{key}_s"] = value
        for key, (low, high) in block["latency_s"].get("ci95", {}).items():
            row[f"latency_{key}_s_low"], row[f"latency_{key}_s_high"] = low, high
        for key, value in block["energy_j"].items():
            row["energy_j" if key == "total" else f"energy_{key}_j"] = value
        for key, value in block["latency_parts_s"].items():
            row[f"part_{key}"] = value
        rows.append(row)
    frame = pd.DataFrame(rows)
    counts = ("generated", "completed", "dropped", "lost", "timed_out", "in_flight", "switches")
    return frame.astype({c: (int if c in counts else float) for c in frame.columns if c not in ("scope", "strategy")})


def _nan_to_zero(values: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(values), 0.0, values)


def _radio_arrays(setup: Setup, group: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: alpha_up (W per bit/s), alpha_down (W per bit/s), beta (W) of the row's group radio."""
    radios = [g.network.radio for g in setup.groups]
    return (np.array([r.alpha_up_w_per_bps for r in radios])[group],
            np.array([r.alpha_down_w_per_bps for r in radios])[group],
            np.array([r.beta_w for r in radios])[group])


def build_probes(setup: Setup, output: RunOutput, tail_j: np.ndarray) -> pd.DataFrame | None:
    """The per-probe table (times s, sizes bytes, energy J), or None when no device probes."""
    p = output.probes
    if p["device"].size == 0:
        return None
    group = output.device_group[p["device"]]
    alpha_up, alpha_down, beta = _radio_arrays(setup, group)
    up_s, down_s = _nan_to_zero(p["uplink_s"]), _nan_to_zero(p["downlink_s"])
    sent_down = np.where(np.isnan(p["downlink_s"]), 0.0, p["bits_down"])
    uplink_j = np.where(np.isnan(p["uplink_s"]), 0.0, transfer_j(alpha_up, beta, p["bits_up"], up_s))
    downlink_j = transfer_j(alpha_down, beta, sent_down, down_s)
    names = [c.name for c in setup.scenario.server_list]
    return pd.DataFrame({
        "device": p["device"],
        "group": pd.Categorical.from_codes(group, categories=[g.group.name for g in setup.groups]),
        "server": pd.Categorical.from_codes(p["server"], categories=names),
        "sent_at_s": p["sent_at_s"], "read_at_s": p["read_at_s"], "received_at_s": p["received_at_s"],
        "queue_length": p["queue_length"], "busy_workers": p["busy_workers"], "recent_wait_s": p["recent_wait_s"],
        "uplink_start_at_s": p["uplink_start_at_s"], "uplink_s": p["uplink_s"],
        "downlink_start_at_s": p["downlink_start_at_s"], "downlink_s": p["downlink_s"],
        "bytes_up": p["bits_up"] / BITS_PER_BYTE, "bytes_down": sent_down / BITS_PER_BYTE,
        "uplink_j": uplink_j, "downlink_j": downlink_j, "tail_j": tail_j,
        "energy_j": uplink_j + downlink_j + tail_j,
    })


def build_requests(setup: Setup, output: RunOutput, tail_j: np.ndarray) -> pd.DataFrame:
    """The per-request table: timings (s), sizes (bytes), energy (J), accuracy, deadline."""
    c = output.columns
    plans = setup.plans
    plan = c["plan"]
    group = output.device_group[c["device"]]
    status = c["status"]
    completed = status == COMPLETED
    reached = status != IN_FLIGHT

    def plan_field(name, dtype=float):
        return np.array([getattr(p, name) for p in plans], dtype=dtype)[plan]

    power = np.array([g.group.compute_power_w for g in setup.groups])[group]
    alpha_up, alpha_down, beta = _radio_arrays(setup, group)
    uplink_s, downlink_s = _nan_to_zero(c["uplink_s"]), _nan_to_zero(c["downlink_s"])
    sent_up, sent_down = c["bits_up"], c["bits_down"]
    promotion_w = np.array([g.network.radio.promotion_w for g in setup.groups])[group]
    energy = {
        "compute_j": compute_j(power, c["head_s"]),
        "switch_j": c["switched"] * setup.scenario.switch_cost.energy_mj * MJ,
        "uplink_j": transfer_j(alpha_up, beta, sent_up, uplink_s),
        "downlink_j": transfer_j(alpha_down, beta, sent_down, downlink_s),
        "promotion_j": promotion_w * c["promotion_s"],
        "tail_j": tail_j,
    }
    finish = np.where(reached, c["finish_at_s"], np.nan)
    latency = np.where(completed, finish - c["arrival_at_s"], np.nan)
    deadline = setup.scenario.deadline_s
    met = pd.array(np.zeros(len(status), dtype=bool) if deadline is None else latency <= deadline, dtype="boolean")
    met[~reached | (deadline is None)] = pd.NA
    met[(status == DROPPED) | (status == LOST) | (status == TIMED_OUT)] = False if deadline is not None else pd.NA
    group_names = [g.group.name for g in setup.groups]
    bottlenecks = sorted({p.bottleneck for p in plans})
    frame = pd.DataFrame({
        "device": c["device"],
        "group": pd.Categorical.from_codes(group, categories=group_names),
        "request_id": c["request_id"],
        "status": status_categorical(status),
        "split": plan_field("split", np.int64),
        "server": pd.Categorical.from_codes(np.where(plan_field("local", bool), -1, plan_field("server", np.int64)),
                                            categories=[c.name for c in setup.scenario.server_list]),
        "bottleneck": pd.Categorical([p.bottleneck for p in plans], categories=bottlenecks)[plan]
        if len(plan) else pd.Categorical([], categories=bottlenecks),
        "arrival_at_s": c["arrival_at_s"],
        "finish_at_s": finish,
        "latency_s": latency,
        "device_wait_s": c["device_wait_s"],
        "switch_s": c["switch_s"],
        "head_s": c["head_s"],
        "promotion_s": c["promotion_s"],
        "uplink_wait_s": c["uplink_wait_s"],
        "uplink_s": c["uplink_s"],
        "server_wait_s": c["service_start_at_s"] - c["server_arrival_at_s"],
        "server_s": c["service_end_at_s"] - c["service_start_at_s"],
        "downlink_wait_s": c["downlink_wait_s"],
        "downlink_s": c["downlink_s"],
        "propagation_s": c["propagation_s"],
        "probe_age_s": c["probe_age_s"],
        "server_arrival_at_s": c["server_arrival_at_s"],
        "service_start_at_s": c["service_start_at_s"],
        "service_end_at_s": c["service_end_at_s"],
        "batch_size": c["batch_size"],
        "uplink_start_at_s": c["uplink_start_at_s"],
        "downlink_start_at_s": c["downlink_start_at_s"],
        "bytes_up": c["payload_bits"] / BITS_PER_BYTE,
        "bytes_sent_up": sent_up / BITS_PER_BYTE,
        "bytes_sent_down": sent_down / BITS_PER_BYTE,
        "accuracy": np.where(np.isnan(c["accuracy"]), plan_field("accuracy"), c["accuracy"]),
        "switched": c["switched"].astype(bool),
        **energy,
        "energy_j": sum(energy[p] for p in ENERGY_PARTS),
        "deadline_met": met,
    })
    return frame


def _interval_dict(values: np.ndarray) -> dict:
    """Mean and quantiles of latencies (s) with 95% intervals (:mod:`simsplit.stats`; never below 0)."""
    out, ci = {}, {}
    point, low, high = batch_interval(values, np.mean, bounds=(0.0, math.inf))
    out["mean"], ci["mean"] = point, [low, high]
    for name, q in QUANTILES.items():
        point, low, high = batch_quantile_interval(values, q)
        out[name], ci[name] = point, [low, high]
    out["ci95"] = ci
    return out


def _busy_time(intervals, start_s: float, end_s: float) -> tuple[float, float]:
    """Worker-seconds busy inside [start_s, end_s]: (all, other tenants' share)."""
    begin = np.asarray(intervals.starts, dtype=float)
    finish = np.asarray(intervals.ends, dtype=float)
    finish = np.where(np.isnan(finish), end_s, finish)
    background = np.asarray(intervals.background, dtype=bool)
    overlap = np.clip(np.minimum(finish, end_s) - np.maximum(begin, start_s), 0.0, None)
    return float(overlap.sum()), float(overlap[background].sum()) if overlap.size else 0.0


def _server_block(server, config, warmup: float, end_s: float, measured_s: float) -> dict:
    busy, background = _busy_time(server.intervals, warmup, end_s)
    capacity = config.workers * measured_s
    streams = server.background_streams
    arrivals = np.concatenate([np.asarray(s.arrivals_at_s, dtype=float) for s in streams]) if streams else np.array([])
    return {
        "utilisation": busy / capacity,
        "background_utilisation": background / capacity,
        "background_jobs": int((arrivals >= warmup).sum()),
        "background_rejected": sum(s.rejected for s in streams),
    }


class _Columns:
    """The per-request table read one column at a time as numpy arrays (``load(name)``), restricted to the
    requests that arrived after the warm-up. Statuses, groups and bottlenecks as category codes."""

    def __init__(self, load, warmup_s: float):
        self._load = load
        arrival = load("arrival_at_s")
        self.measured = arrival >= warmup_s
        self.arrival = arrival[self.measured]
        self.status = load("status")[self.measured]
        self.group = load("group")[self.measured]
        self.completed = self.status == STATUS_NAMES.index("completed")

    def __call__(self, name: str, rows: np.ndarray | None = None) -> np.ndarray:
        """Column ``name`` of the measured requests, or of those among them that ``rows`` selects (one copy)."""
        if rows is None:
            return self._load(name)[self.measured]
        selected = self.measured.copy()
        selected[self.measured] = rows
        return self._load(name)[selected]


def _mean(values: np.ndarray) -> float:
    """The mean as the per-request table's pandas column gives it (NaN skipped)."""
    return float(pd.Series(values).mean())


def _block(columns: _Columns, rows: np.ndarray, deadline: float | None, with_intervals: bool,
           bottlenecks: list[str]) -> dict:
    """The summary block of the measured requests selected by ``rows`` (a mask)."""
    status = columns.status[rows]
    done_rows = rows & columns.completed
    n_done = int(done_rows.sum())
    counts = np.bincount(status, minlength=len(STATUS_NAMES))
    dropped, lost, timed_out = (int(counts[STATUS_NAMES.index(n)]) for n in ("dropped", "lost", "timed_out"))
    block = {
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
        block["latency_s"] = {k: float(np.quantile(latency, q)) if latency.size else math.nan
                              for k, q in QUANTILES.items()}
        block["latency_s"] = {"mean": float(latency.mean()) if latency.size else math.nan, **block["latency_s"]}

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
    width = len(bottlenecks)  # (split, bottleneck) as one key, in the order of split then bottleneck
    keys, sizes = np.unique(columns("split", done_rows) * width + columns("bottleneck", done_rows),
                            return_counts=True)
    block["option_share"] = {f"{key // width}/{bottlenecks[key % width]}": float(size / max(n_done, 1))
                             for key, size in zip(keys.tolist(), sizes)}
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


def frame_columns(requests: pd.DataFrame):
    """``load(name)`` for an in-memory per-request table: numpy arrays, categories as codes."""
    def load(name: str) -> np.ndarray:
        column = requests[name]
        return column.cat.codes.to_numpy() if isinstance(column.dtype, pd.CategoricalDtype) else column.to_numpy()
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
    summary = {"scenario": scenario.name, "seed": seed, "duration_s": scenario.duration_s,
               "warmup_s": warmup, "deadline_s": scenario.deadline_s}
    overall = _block(columns, everything, scenario.deadline_s, True, bottlenecks)
    summary.update({k: overall[k] for k in ("generated", "completed", "dropped", "lost", "timed_out", "in_flight")})
    summary["throughput_rps"] = overall["completed"] / measured_s
    summary.update({k: v for k, v in overall.items() if k not in summary})
    if probes is not None:
        window = probes[probes["sent_at_s"] >= warmup]
        total = float(window["energy_j"].sum())
        summary["probes"] = {"sent": len(window), "energy_j": total}
        share = total / overall["completed"] if overall["completed"] else math.nan
        summary["energy_j"] = {**summary["energy_j"], "probe": share, "total": summary["energy_j"]["total"] + share}
    servers = {config.name: _server_block(server, config, warmup, end_s, measured_s)
               for server, config in zip(output.servers, scenario.server_list)}
    workers = sum(config.workers for config in scenario.server_list)
    summary["server_utilisation"] = sum(b["utilisation"] * c.workers for b, c in
                                        zip(servers.values(), scenario.server_list)) / workers
    summary["servers"] = servers
    groups = {}
    for code, g in enumerate(setup.groups):
        rows = columns.group == code
        groups[g.group.name] = {"strategy": g.label, **_block(columns, rows, scenario.deadline_s, False, bottlenecks)}
    summary["groups"] = groups
    if scenario.phases_s is not None:
        summary["phases"] = _phases(setup, columns, scenario.phases_s)
    return json_safe(summary)


def _phases(setup: Setup, columns: _Columns, bounds: list[float]) -> list[dict]:
    """Per phase [bounds[k], bounds[k+1]) of arrival time: each group's completions and latency."""
    phases = []
    latency_all = columns("latency_s")
    for start, end in zip(bounds, bounds[1:]):
        inside = (columns.arrival >= start) & (columns.arrival < end) & columns.completed
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
    """``value`` with numpy numbers as Python ones and NaN as None (for JSON)."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def write_result(result: Result, out_dir: Path) -> Path:
    """Write ``requests.parquet`` (and ``probes.parquet``, ``timeseries.parquet``), ``summary.json`` and
    ``scenario.yaml`` (resolved, pointing at copies of every input file beside it: profile, payload table,
    traces) into ``out_dir``, atomically (:func:`simsplit.outdir.write_folder`)."""
    from simsplit.provenance import portable_copy

    def write(folder: Path) -> None:
        if result.requests_path is not None:
            shutil.copyfile(result.requests_path, folder / "requests.parquet")
        else:
            result.requests.to_parquet(folder / "requests.parquet", index=False)
        if result.probes is not None:
            result.probes.to_parquet(folder / "probes.parquet", index=False)
        if result.timeseries is not None:
            result.timeseries.to_parquet(folder / "timeseries.parquet", index=False)
        (folder / "summary.json").write_text(json.dumps(result.summary, indent=2, allow_nan=False) + "\n",
                                             encoding="utf-8")
        portable = portable_copy(result.scenario, folder)
        (folder / "scenario.yaml").write_text(to_yaml(portable), encoding="utf-8")

    return write_folder(Path(out_dir), write, kind="run")
