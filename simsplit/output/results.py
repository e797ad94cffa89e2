"""From the engine's raw columns to the per-request table, the summary, and the result folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from simsplit.core.units import MJ
from simsplit.engine.records import (
    COMPLETED,
    DROPPED,
    IN_FLIGHT,
    LOST,
    TIMED_OUT,
    RunOutput,
    status_categorical,
)
from simsplit.engine.setup import BITS_PER_BYTE, Setup
from simsplit.model.energy import compute_j, transfer_j
from simsplit.output.outdir import write_folder
from simsplit.output.summary import ENERGY_PARTS
from simsplit.scenario import Scenario, to_yaml

if TYPE_CHECKING:
    from simsplit.figures.result_plots import ResultPlots


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
        """One row per request, in arrival order (read from ``requests_path`` on first use for a streamed run),
        the warm-up's included; its ``measured`` column says which rows the summary counts (those that arrived
        after ``warmup_s``; :attr:`measured` holds just them). ``requests.parquet`` has no such column: there the
        warm-up is ``arrival_at_s < warmup_s`` of ``summary.json``."""
        if self._requests is None:
            assert self.requests_path is not None  # a Result holds its table or the path of its file
            self._requests = pd.read_parquet(self.requests_path)
        if MEASURED not in self._requests.columns:
            self._requests[MEASURED] = self._requests["arrival_at_s"].to_numpy() >= self.summary["warmup_s"]
        return self._requests

    @property
    def measured(self) -> pd.DataFrame:
        """The requests the summary counts: those that arrived after the warm-up (``warmup_s``), every status
        (the completed ones carry the latencies its means and quantiles are of)."""
        requests = self.requests
        return requests[requests[MEASURED]]

    def write(self, out_dir: str | Path) -> Path:
        """Write the result folder atomically; see :func:`write_result`."""
        return write_result(self, Path(out_dir))

    @property
    def plot(self) -> ResultPlots:
        """This run's figures as matplotlib Figures: ``result.plot.latency_cdf()``, ``.latency_breakdown()``,
        ``.energy_breakdown()``, ``.timeseries()``; each takes ``style="paper"`` or ``"screen"``
        (:class:`~simsplit.figures.result_plots.ResultPlots`, imported on first use)."""
        from simsplit.figures.result_plots import ResultPlots
        return ResultPlots(self)

    def summary_frame(self, long: bool = False) -> pd.DataFrame:
        """The summary as a table: one row for the whole run (``scope`` "all", its strategy missing) and one per
        device group, in SI units (s, J, bytes); the whole run's 95% intervals as ``*_low``/``*_high`` columns;
        a value the run has none of is NaN. ``long``: tidy long form, one row per (scope, strategy, metric,
        value), for plotting libraries."""
        frame = summary_frame(self.summary)
        if not long:
            return frame
        return frame.melt(id_vars=["scope", "strategy"], var_name="metric", value_name="value")

    def __repr__(self) -> str:
        s = self.summary
        latency, energy = s["latency_s"], s["energy_j"]

        def ms(value):
            return "-" if value is None else f"{value * 1e3:.2f}"

        return (f"<Result {s['scenario']!r} seed {s['seed']}: {s['generated']} requests, {s['completed']} completed; "
                f"latency mean {ms(latency['mean'])} ms, p95 {ms(latency['p95'])} ms; energy "
                f"{ms(energy['total'])} mJ/request; {len(s['groups'])} device group(s) — .summary_frame(), "
                f".requests, .plot, .summary>")

    def _repr_html_(self) -> str:
        frame = self.summary_frame().set_index("scope")
        shown = pd.DataFrame({
            "strategy": frame["strategy"], "completed": frame["completed"],
            "latency mean (ms)": frame["latency_mean_s"] * 1e3, "latency p95 (ms)": frame["latency_p95_s"] * 1e3,
            "energy (mJ/request)": frame["energy_j"] * 1e3, "accuracy": frame["accuracy"],
            "deadline miss rate": frame["deadline_miss_rate"]})
        title = f"<p><b>{self.summary['scenario']}</b> (seed {self.summary['seed']})</p>"
        return title + shown.to_html(float_format=lambda v: f"{v:.4g}", na_rep="-")


MEASURED = "measured"
"""The in-memory request table's column saying whether the summary counts a row (it arrived after the warm-up)."""
SUMMARY_COLUMNS = ("generated", "completed", "dropped", "lost", "timed_out", "in_flight", "accuracy",
                   "deadline_miss_rate", "switches", "bytes_up", "bytes_up_p95", "bytes_sent_up")
"""Plain numbers of a summary block that become columns of :func:`summary_frame`."""


def summary_frame(summary: dict) -> pd.DataFrame:
    """A summary (dict, as in summary.json) as a tidy DataFrame; see :meth:`Result.summary_frame`."""
    rows = []
    blocks = [("all", None, summary)] + [(name, g["strategy"], g) for name, g in summary["groups"].items()]
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
    # a value the summary gives as None (no deadline, nothing completed) becomes NaN
    return frame.astype({c: (int if c in counts else float) for c in frame.columns if c not in ("scope", "strategy")})


def _categorical(codes: np.ndarray, names: list[str]) -> pd.Categorical:
    """``codes`` as a Categorical of ``names`` (-1: missing)."""
    return pd.Categorical.from_codes(codes, categories=names)  # type: ignore[call-overload]  # stubs want an Index


def _local_power(setup: Setup) -> np.ndarray:
    """Each group's device power (W) running its whole network: its local plan's (NaN: it has none)."""
    return np.array([next((p.compute_power_w for p in g.plans.values() if p.local), np.nan) for g in setup.groups])


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
        "group": _categorical(group, [g.group.name for g in setup.groups]),
        "server": _categorical(p["server"], names),
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
    return pd.DataFrame(request_columns(setup, output, tail_j))


def request_columns(setup: Setup, output: RunOutput, tail_j: np.ndarray, table: bool = True) -> dict:
    """The columns of :func:`build_requests` by name (numpy arrays; groups, statuses, servers and
    bottlenecks as pandas Categoricals), without building the table. ``table=False``: only what a
    :class:`~simsplit.output.tally.Tally` reads (no server or deadline column), categories as integer codes."""
    c = output.columns
    plans = setup.plans
    plan = c["plan"]
    group = output.device_group[c["device"]]
    status = c["status"]
    completed = status == COMPLETED
    reached = status != IN_FLIGHT

    def plan_field(name, dtype=float):
        return np.array([getattr(p, name) for p in plans], dtype=dtype)[plan]

    power = plan_field("compute_power_w")
    alpha_up, alpha_down, beta = _radio_arrays(setup, group)
    uplink_s, downlink_s = _nan_to_zero(c["uplink_s"]), _nan_to_zero(c["downlink_s"])
    sent_up, sent_down = c["bits_up"], c["bits_down"]
    promotion_w = np.array([g.network.radio.promotion_w for g in setup.groups])[group]
    fallback_s = c["fallback_s"]
    fell_back = ~np.isnan(fallback_s)
    energy = {
        "compute_j": compute_j(power, c["head_s"]) + np.where(
            fell_back, compute_j(_local_power(setup)[group], _nan_to_zero(fallback_s)), 0.0),
        "switch_j": c["switched"] * setup.scenario.switch_cost.energy_mj * MJ,
        "uplink_j": transfer_j(alpha_up, beta, sent_up, uplink_s),
        "downlink_j": transfer_j(alpha_down, beta, sent_down, downlink_s),
        "promotion_j": promotion_w * c["promotion_s"],
        "tail_j": tail_j,
    }
    finish = np.where(reached, c["finish_at_s"], np.nan)
    latency = np.where(completed, finish - c["arrival_at_s"], np.nan)
    group_names = [g.group.name for g in setup.groups]
    bottlenecks = sorted({p.bottleneck for p in plans})
    numbers = {
        "device": c["device"],
        "request_id": c["request_id"],
        "split": plan_field("split", np.int64),
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
        "fallback_wait_s": c["fallback_wait_s"],
        "fallback_s": fallback_s,
        "fell_back": fell_back,
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
        "handovers": c["handovers"],
        **energy,
        "energy_j": sum(energy[p] for p in ENERGY_PARTS),
    }
    bottleneck_code = np.array([bottlenecks.index(p.bottleneck) for p in plans], dtype=np.int64)[plan]
    if not table:
        return {**numbers, "group": group, "status": status, "bottleneck": bottleneck_code}
    deadline = setup.scenario.deadline_s
    met = pd.array(np.zeros(len(status), dtype=bool) if deadline is None else latency <= deadline, dtype="boolean")
    met[~reached | (deadline is None)] = pd.NA
    met[(status == DROPPED) | (status == LOST) | (status == TIMED_OUT)] = False if deadline is not None else pd.NA
    categories = {
        "group": _categorical(group, group_names),
        "status": status_categorical(status),
        "server": _categorical(np.where(plan_field("local", bool), -1, plan_field("server", np.int64)),
                               [c.name for c in setup.scenario.server_list]),
        "bottleneck": _categorical(bottleneck_code, bottlenecks),
    }
    first = ("device", "group", "request_id", "status", "split", "server", "bottleneck")
    return {**{name: categories[name] if name in categories else numbers[name] for name in first},
            **{name: values for name, values in numbers.items() if name not in first}, "deadline_met": met}


def sampled(device: np.ndarray, request_id: np.ndarray, seed: int, fraction: float) -> np.ndarray:
    """Which requests a ``sample:fraction`` folder keeps: a SplitMix64 hash of (seed, device, request id)
    below ``fraction`` of its range, so a request kept in a run is kept in a longer run of the same seed."""
    with np.errstate(over="ignore"):
        z = (device.astype(np.uint64) << np.uint64(32)) ^ request_id.astype(np.uint64)
        z = z + np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * 2.0**-53 < fraction


def _write_sample(result: Result, target: Path, fraction: float) -> None:
    """The sampled rows of the per-request table, one row group at a time for a streamed table."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    seed = result.scenario.seed
    if result.requests_path is None:
        frame = result.requests.drop(columns=MEASURED)
        keep = sampled(frame["device"].to_numpy(), frame["request_id"].to_numpy(), seed, fraction)
        frame[keep].reset_index(drop=True).to_parquet(target, index=False)
        return
    source = pq.ParquetFile(result.requests_path)
    with pq.ParquetWriter(target, source.schema_arrow) as writer:
        for k in range(source.num_row_groups):
            group = source.read_row_group(k)
            keep = sampled(group.column("device").to_numpy(), group.column("request_id").to_numpy(), seed, fraction)
            writer.write_table(group.filter(pa.array(keep)))


def write_result(result: Result, out_dir: Path) -> Path:
    """Write ``requests.parquet`` (all rows, a sample or none, as the scenario's ``records`` says; and
    ``probes.parquet``, ``timeseries.parquet``), ``summary.json`` and
    ``scenario.yaml`` (resolved, pointing at copies of every input file beside it: profile, payload table,
    traces) into ``out_dir``, atomically (:func:`simsplit.output.outdir.write_folder`)."""
    from simsplit.output.provenance import portable_copy

    def write(folder: Path) -> None:
        fraction = result.scenario.record_fraction
        if fraction == 1.0 and result.requests_path is not None:
            shutil.copyfile(result.requests_path, folder / "requests.parquet")
        elif fraction == 1.0:
            result.requests.drop(columns=MEASURED).to_parquet(folder / "requests.parquet", index=False)
        elif fraction > 0.0:
            _write_sample(result, folder / "requests.parquet", fraction)
        if result.probes is not None:
            result.probes.to_parquet(folder / "probes.parquet", index=False)
        if result.timeseries is not None:
            result.timeseries.to_parquet(folder / "timeseries.parquet", index=False)
        (folder / "summary.json").write_text(json.dumps(result.summary, indent=2, allow_nan=False) + "\n",
                                             encoding="utf-8")
        portable = portable_copy(result.scenario, folder)
        (folder / "scenario.yaml").write_text(to_yaml(portable), encoding="utf-8")

    return write_folder(Path(out_dir), write, kind="run")
