"""Sweeps: a grid (or list) of scenario variations x seeds, one result folder per run, resumable.

A sweep file names a base scenario and its factors:

    name: bottlenet-networks
    scenario: bottlenet-base.yaml          # relative to the sweep file
    seeds: 3                               # or a list of seeds
    grid:                                  # cartesian product of the factors' levels
      network:                             # a factor: a list of levels
        - {label: 3g, set: {network.uplink.rate_mbps: 1.10, network.radio.technology: 3g}}
      server.workers: [1, 2, 4]            # a factor named by a dotted path: plain values
    # or, instead of grid, runs: [{label: ..., set: {...}}, ...]

Each run applies its levels' ``set`` entries as ``--set`` overrides and runs with one seed; its folder is
``<out>/runs/<run id>``. A run is skipped when its folder holds a summary whose ``run_key`` (the resolved
scenario with the content hash of every file it reads, :func:`simsplit.output.provenance.run_key`) is the run's
own, so a killed sweep resumes where it stopped and an edited base scenario, profile, payload table or
trace reruns what it changes. Runs go to a local process pool, or to a Dask cluster. Ctrl-C stops the
workers within a second and the tables are written from the runs finished so far; workers die with their
parent.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, ValidationError

from simsplit.core.errors import InputError
from simsplit.core.pool import run_parallel
from simsplit.core.stats import metric_bounds, t_interval
from simsplit.engine.feasibility import check_feasible
from simsplit.engine.setup import build_setup
from simsplit.output.metrics import SWEEP_METRICS, run_metrics
from simsplit.output.provenance import run_key
from simsplit.scenario import apply_overrides, read_yaml, validate_scenario

Combo = list[tuple[str, str, dict]]
"""One configuration: per factor, (factor, level label, the level's ``set`` overrides)."""


class _Level(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    label: str = Field(min_length=1)
    set: dict[str, Any] = Field(min_length=1)


class ReportOptions(BaseModel):
    """What a sweep's figures and report group by: ``x`` (the curves' x axis), ``lines`` (one line per
    level), ``best_by`` (a best-configuration table per level) and ``baseline`` ({factor: label}, the
    configuration gains are measured against). Every name must be a factor of the sweep, every label one of
    its levels (checked when the sweep is loaded)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    x: str | None = None
    lines: str | None = None
    best_by: str | None = None
    baseline: dict[str, str] | None = None


class SweepFile(BaseModel):
    """The sweep file's schema."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    scenario: str = Field(min_length=1)
    seeds: Annotated[int, Field(ge=1, le=100_000)] | Annotated[list[NonNegativeInt], Field(min_length=1)] = 1
    grid: Annotated[dict[str, Annotated[list[Any], Field(min_length=1)]], Field(min_length=1)] | None = None
    runs: Annotated[list[_Level], Field(min_length=1)] | None = None
    report: ReportOptions = ReportOptions()


@dataclass(frozen=True)
class Run:
    """One run: its factor labels, the overrides they imply, and its seed."""

    labels: tuple[tuple[str, str], ...]
    overrides: tuple[str, ...]
    seed: int
    key: str
    """The run's :func:`~simsplit.output.provenance.run_key`: what its finished folder must carry to be reused."""

    @property
    def run_id(self) -> str:
        """Folder name: readable labels plus a short hash of the overrides and seed."""
        readable = "_".join(f"{k.split('.')[-1]}-{v}" for k, v in self.labels)
        digest = hashlib.blake2b(repr((self.overrides, self.seed)).encode(), digest_size=4).hexdigest()
        safe = "".join(c if c.isalnum() or c in "-." else "-" for c in readable)[:80]
        return f"{safe}_seed-{self.seed}_{digest}"


@dataclass(frozen=True)
class Sweep:
    """A loaded sweep: its name, base scenario file, runs and report options."""

    name: str
    scenario_path: Path
    runs: list[Run]
    factors: list[str]
    report: dict


def _level(factor: str, value: Any, source: str, where: str) -> tuple[str, dict]:
    if isinstance(value, dict) and "set" in value:
        try:
            level = _Level.model_validate(value)
        except ValidationError as exc:
            raise InputError(source, where, f"expected {{label, set}}: {exc.errors()[0]['msg']}") from None
        return level.label, level.set
    return str(value), {factor: value}


def load_sweep(path: str | Path, force: bool = False) -> Sweep:
    """Read a sweep file and expand its runs; every configuration is validated, its files and references
    checked, before anything runs."""
    path = Path(path)
    data = read_yaml(path)
    try:
        spec = SweepFile.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(k) for k in err["loc"] if k not in ("int", "list[constrained-int]",
                                                                   "list[int]")) or None
        raise InputError(path, where, f"{err['msg']}, got {err.get('input')!r}") from None
    if (spec.grid is None) == (spec.runs is None):
        raise InputError(path, "grid", "expected exactly one of grid (a product of factors) or runs (a list)")
    seeds = list(range(spec.seeds)) if isinstance(spec.seeds, int) else spec.seeds
    _distinct(seeds, path, "seeds", "seeds")
    scenario_path = (path.parent / spec.scenario).resolve()
    base = read_yaml(scenario_path)
    factors, combos = _combos(spec, path)
    runs = _runs(combos, base, seeds, path, scenario_path, force)
    _check_report(spec.report, factors, runs, path)
    return Sweep(spec.name, scenario_path, runs, factors, spec.report.model_dump(exclude_none=True))


def _combos(spec: SweepFile, path: Path) -> tuple[list[str], list[Combo]]:
    """The sweep's factors, and every configuration: the grid's product of levels, or the list of runs."""
    if spec.grid is not None:
        factors = list(spec.grid)
        levels = [[(f, *_level(f, v, str(path), f"grid.{f}.{i}")) for i, v in enumerate(spec.grid[f])] for f in factors]
        for f, factor_levels in zip(factors, levels, strict=True):
            _distinct([label for _, label, _ in factor_levels], path, f"grid.{f}", "labels")
        return factors, [list(c) for c in itertools.product(*levels)]
    assert spec.runs is not None  # exactly one of grid and runs (checked by load_sweep)
    _distinct([level.label for level in spec.runs], path, "runs", "labels")
    return ["run"], [[("run", level.label, level.set)] for level in spec.runs]


def _runs(combos: list[Combo], base: dict, seeds: list[int], path: Path, scenario_path: Path,
          force: bool) -> list[Run]:
    """Every run: each configuration's scenario (``base`` with its overrides) validated and checked
    feasible, then once per seed."""
    runs = []
    for combo in combos:
        overrides = tuple(f"{k}={json.dumps(v)}" for _, _, sets in combo for k, v in sets.items())
        labels = tuple((factor, label) for factor, label, _ in combo)
        data = apply_overrides(base, list(overrides), source=str(path))
        scenario = validate_scenario(data, source=f"{path} ({', '.join(f'{f}={label}' for f, label in labels)})",
                                     base_dir=scenario_path.parent)
        if scenario.sites is not None:
            raise InputError(scenario.source, "sites", "expected a scenario of one site: a sweep runs each "
                             "configuration whole; run a scenario with sites with simsplit run")
        check_feasible(build_setup(scenario), runs=len(seeds) * len(combos), force=force)
        for seed in seeds:
            seeded = scenario.model_copy(update={"seed": seed})
            runs.append(Run(labels, overrides, seed, run_key(seeded)))
    return runs


def _check_report(report: ReportOptions, factors: list[str], runs: list[Run], path: Path) -> None:
    """InputError unless the report options name factors of the sweep and labels of their levels."""
    for key in ("x", "lines", "best_by"):
        name = getattr(report, key)
        if name is not None and name not in factors:
            raise InputError(path, f"report.{key}", f"expected a factor among {factors}, got {name!r}")
    for factor, label in (report.baseline or {}).items():
        if factor not in factors:
            raise InputError(path, f"report.baseline.{factor}", f"expected a factor among {factors}, got {factor!r}")
        labels = list(dict.fromkeys(lab for run in runs for f, lab in run.labels if f == factor))
        if label not in labels:
            raise InputError(path, f"report.baseline.{factor}", f"expected a label among {labels}, got {label!r}")


def _distinct(values: list, path: Path, where: str, what: str) -> None:
    """InputError unless ``values`` (labels or seeds) are distinct: repeats would be merged as replications."""
    repeated = sorted({value for value in values if values.count(value) > 1})
    if repeated:
        raise InputError(path, where, f"expected distinct {what}, got {repeated} more than once (their runs "
                         "would be merged as replications)")


def run_one(scenario_path: str, overrides: tuple[str, ...], seed: int, out_dir: str) -> str:
    """Run one sweep point into ``out_dir`` (atomically); a top-level function so workers can import it."""
    from simsplit.scenario import load_scenario
    from simsplit.studies.simulation import simulate
    scenario = load_scenario(scenario_path, list(overrides), seed=seed)
    simulate(scenario).write(out_dir)
    return out_dir


def is_done(folder: Path, key: str) -> bool:
    """Whether ``folder`` holds a finished run of the run keyed ``key``."""
    summary = folder / "summary.json"
    if not summary.is_file():
        return False
    try:
        return json.loads(summary.read_text())["provenance"]["run_key"] == key
    except (ValueError, KeyError, TypeError, OSError):
        return False


def run_sweep(sweep: Sweep, out: Path, workers: int = 2, scheduler: str | None = None, limit: int | None = None,
              progress: Callable[[], None] | None = None) -> tuple[int, int]:
    """Run the sweep's unfinished runs; return (run now, skipped as finished). ``scheduler``: None for a
    local process pool, ``local`` for a local Dask cluster, or a Dask scheduler address."""
    runs_dir = out / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    for stale in runs_dir.glob(".*.partial-*"):  # left by a run killed mid-write
        shutil.rmtree(stale, ignore_errors=True)
    todo = [run for run in sweep.runs if not is_done(runs_dir / run.run_id, run.key)]
    skipped = len(sweep.runs) - len(todo)
    if limit is not None:
        todo = todo[:limit]
    args = [(str(sweep.scenario_path), run.overrides, run.seed, str(runs_dir / run.run_id)) for run in todo]
    if not args:
        return 0, skipped

    def tick(results) -> None:
        for _ in results:
            if progress is not None:
                progress()
    if scheduler is None:
        run_parallel(run_batch, [([a],) for a in args], workers, None, tick)
    else:  # several runs per task: a task's round trip through the scheduler costs more than a short run
        size = max(1, math.ceil(len(args) / (4 * workers)))
        run_parallel(run_batch, [(args[k:k + size],) for k in range(0, len(args), size)], workers, scheduler, tick)
    return len(args), skipped


def run_batch(batch: list[tuple]) -> list[str]:
    """:func:`run_one` for each of several runs' arguments, in one task."""
    return [run_one(*arguments) for arguments in batch]


def collect(sweep: Sweep, out: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one row per finished run, one row per configuration with mean and 95% interval over seeds)."""
    runs = _finished_runs(sweep, out)
    if runs.empty:
        return runs, runs
    order = {factor: list(dict.fromkeys(label for r in sweep.runs for f, label in r.labels if f == factor))
             for factor in sweep.factors}
    table = pd.DataFrame(_configurations(runs, sweep.factors))
    for factor in sweep.factors:
        for frame in (runs, table):
            frame[factor] = pd.Categorical(frame[factor], categories=order[factor], ordered=True)
    sort = list(sweep.factors)
    return (runs.sort_values(sort + ["seed"]).reset_index(drop=True),
            table.sort_values(sort).reset_index(drop=True))


def _finished_runs(sweep: Sweep, out: Path) -> pd.DataFrame:
    """One row per finished run: its labels, seed, run id and :data:`SWEEP_METRICS`."""
    rows = []
    for run in sweep.runs:
        folder = out / "runs" / run.run_id
        if not is_done(folder, run.key):
            continue
        summary = json.loads((folder / "summary.json").read_text())
        row: dict[str, Any] = {factor: label for factor, label in run.labels}
        row.update(seed=run.seed, run_id=run.run_id)
        row.update(run_metrics(summary, SWEEP_METRICS))
        rows.append(row)
    return pd.DataFrame(rows)


def _configurations(runs: pd.DataFrame, factors: list[str]) -> list[dict]:
    """One row per configuration (in order of first appearance): its labels, replications, and each
    metric's mean and 95% interval over them."""
    table = []
    for key, group in runs.groupby(factors, sort=False):
        labels = key if isinstance(key, tuple) else (key,)
        row: dict[str, Any] = dict(zip(factors, labels, strict=True))
        row["replications"] = len(group)
        for name in SWEEP_METRICS:
            values = group[name].dropna().to_numpy(dtype=float)
            mean, low, high = t_interval(values, bounds=metric_bounds(name)) if values.size else (math.nan,) * 3
            row[name], row[f"{name}_low"], row[f"{name}_high"] = mean, low, high
        table.append(row)
    return table


def write_tables(sweep: Sweep, out: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Collect and write runs.parquet/.csv and table.parquet/.csv into ``out``."""
    runs, table = collect(sweep, out)
    for name, frame in (("runs", runs), ("table", table)):
        frame.to_parquet(out / f"{name}.parquet", index=False)
        frame.to_csv(out / f"{name}.csv", index=False)
    (out / "sweep.json").write_text(json.dumps({"name": sweep.name, "factors": sweep.factors,
                                                "report": sweep.report}, indent=2) + "\n")
    return runs, table



def sweep(path: str | Path, out: str | Path, workers: int = 2, scheduler: str | None = None,
          force: bool = False) -> pd.DataFrame:
    """Run the sweep file at ``path`` into the folder ``out`` (its finished runs kept, as ``simsplit sweep``
    does) and return its table: one row per configuration, means over seeds with their intervals."""
    from simsplit.core.pool import check_scheduler
    from simsplit.output.outdir import claim, is_ours, mark
    check_scheduler(scheduler, "scheduler")
    spec = load_sweep(Path(path), force=force)
    with claim(out, "out", kind="sweep") as folder:
        if not is_ours(folder):
            folder.mkdir(parents=True, exist_ok=True)
            mark(folder, "sweep")
        run_sweep(spec, folder, workers, scheduler)
        return write_tables(spec, folder)[1]
