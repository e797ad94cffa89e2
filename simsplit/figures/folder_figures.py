"""Every figure of a result folder (run, sweep or compare), drawn from the files the folder keeps and written
into its ``figures/`` (or another folder), each named by what it shows."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from simsplit.figures.compare_figures import (
    compare_bars_figure,
    compare_tradeoff_figure,
    rate_accuracy_figure,
    split_energy_figure,
    split_latency_figure,
    strategy_cdf_figure,
)
from simsplit.figures.drawing import varies
from simsplit.figures.run_figures import energy_breakdown_figure, latency_breakdown_figure, latency_cdf_figure
from simsplit.figures.style import SCREEN, FigureStyle, save
from simsplit.figures.sweep_figures import sweep_curve_figure, tradeoff_figure
from simsplit.figures.timeseries import timeseries_figure

FIGURES = "figures"


def is_sweep(folder: Path) -> bool:
    """Whether ``folder`` holds a sweep (its ``table.parquet``)."""
    return (folder / "table.parquet").is_file()


def folder_kind(folder: Path) -> str | None:
    """``run``, ``sweep``, ``compare`` or ``sites``: what a result folder holds (None: none of them)."""
    if (folder / "sites.csv").is_file():
        return "sites"
    if is_sweep(folder):
        return "sweep"
    if (folder / "compare.csv").is_file():
        return "compare"
    if (folder / "summary.json").is_file():
        return "run"
    return None


def compare_meta(folder: Path) -> dict:
    """A compare folder's ``compare.json`` (scenario, seeds, objective, provenance), or its folder's name as the
    scenario with no seeds."""
    path = folder / "compare.json"  # absent in folders written before it existed
    return json.loads(path.read_text()) if path.is_file() else {"scenario": folder.name, "seed": None, "seeds": []}


TIMESERIES_COLUMNS = ("device", "group", "status", "arrival_at_s", "latency_s", "split", "bottleneck", "bytes_sent_up",
                      "uplink_s", "uplink_start_at_s")
"""Per-request columns the time-series figure reads (a comparison keeps only these for its monitored runs)."""


def _saver(out: Path, style: FigureStyle, formats: tuple[str, ...] | None):
    """(keep, written): ``keep(name, fig)`` saves a figure into ``out`` and adds its files to ``written``."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def keep(name: str, fig) -> None:
        written.extend(save(fig, out / name, style, formats))
    return keep, written


def scenario_of(folder: Path):
    """The resolved scenario a result folder keeps (``scenario.yaml``), or None (older folders, edited files, a
    scenario with plugins: drawing a folder never runs the code it holds)."""
    from simsplit.core.errors import InputError
    from simsplit.scenario import load_scenario
    path = folder / "scenario.yaml"
    try:
        return load_scenario(path, run_plugins=False) if path.is_file() else None
    except (InputError, OSError, ValueError):
        return None


def groups_of(summary: dict, scenario) -> dict:
    """What a latency CDF needs to choose its groups by meaning: each group's strategy (from the summary) and
    network (from the scenario, when it can be read back)."""
    from simsplit.figures.run_figures import network_labels
    return {"strategies": {name: group["strategy"] for name, group in summary["groups"].items()},
            "networks": None if scenario is None else network_labels(scenario)}


def timeseries_of(scenario, local_split: int, series: pd.DataFrame, requests: pd.DataFrame, title: str,
                  style: FigureStyle = SCREEN):
    """:func:`~simsplit.figures.timeseries.timeseries_figure` of a run of ``scenario``: its first server,
    deadline and phases, and the names of the first device's cells."""
    uplink = scenario.network_of(scenario.devices[0]).uplink
    cells = [cell.name for cell in uplink.cells] if uplink.kind == "cellular" else None
    return timeseries_figure(series, requests, local_split, scenario.server_list[0].name, title,
                             deadline_s=scenario.deadline_s, phases_s=scenario.phases_s, style=style,
                             cell_names=cells)


def _timeseries(keep, style: FigureStyle, scenario, name: str, series: pd.DataFrame, requests: pd.DataFrame,
                title: str) -> None:
    """Keep the time series of a folder's run (none when its scenario cannot be read back)."""
    if scenario is not None:
        from simsplit.scenario.profiles import load_profile
        keep(name, timeseries_of(scenario, load_profile(scenario.model.profile).local_split, series, requests, title,
                                 style))


def figures_for_compare(folder: Path, out: Path | None = None, style: FigureStyle = SCREEN,
                        formats: tuple[str, ...] | None = None) -> list[Path]:
    """The strategies' energy–latency plane with the Pareto front; bars of latency, energy and regret; the
    latency CDF of every strategy; the fixed splits' latency by stage and energy by component with local and
    full offload as references; bytes against accuracy; the time series of dynamic and the oracle."""
    keep, written = _saver(out or folder / FIGURES, style, formats)
    table = pd.read_csv(folder / "compare.csv")
    if "static" not in table.columns:
        table["static"] = table["strategy"].str.match(r"^(local|full_offload|fixed\()")
    meta = compare_meta(folder)
    seeds = f"{len(meta['seeds'])} seeds" if meta["seeds"] else "over seeds"
    name = meta["scenario"]
    keep("pareto-energy-latency", compare_tradeoff_figure(table, f"{name}: strategies, {seeds}", style=style))
    keep("latency-by-strategy", compare_bars_figure(table, "latency_mean_s", 1e3, "mean latency per request (ms)",
                                                    f"{name}: mean latency, {seeds}", style=style))
    keep("energy-by-strategy", compare_bars_figure(table, "energy_j", 1e3, "device energy per request (mJ)",
                                                   f"{name}: energy, {seeds}", style=style))
    if "relative_regret" in table.columns and table["relative_regret"].notna().any():
        objective = meta.get("objective", "latency")
        keep("regret-by-strategy", compare_bars_figure(
            table, "relative_regret", 100.0, f"regret of the {objective} objective (% above the bound)",
            f"{name}: regret against the bound, {seeds}", style=style))
    scenario = scenario_of(folder)
    if (folder / "latency-quantiles.csv").is_file():
        quantiles = pd.read_csv(folder / "latency-quantiles.csv")
        keep("latency-cdf-by-strategy", strategy_cdf_figure(
            quantiles, f"{name}: latency, quantiles averaged over {seeds}",
            deadline_s=None if scenario is None else scenario.deadline_s, style=style))
    fixed = table["strategy"].astype(str).str.startswith("fixed(")
    if "head_s" in table.columns and fixed.any():
        keep("latency-by-split", split_latency_figure(table, f"{name}: latency by stage, {seeds}", style=style))
        keep("energy-by-split", split_energy_figure(table, f"{name}: energy by component, {seeds}", style=style))
    if "bytes_up" in table.columns and table["static"].astype(bool).any():
        keep("rate-accuracy", rate_accuracy_figure(table, f"{name}: bytes sent against accuracy", style=style))
    for strategy in ("dynamic", "oracle"):
        series = folder / f"timeseries-{strategy}.parquet"
        if series.is_file():
            _timeseries(keep, style, scenario, f"timeseries-{strategy}", pd.read_parquet(series),
                        pd.read_parquet(folder / f"requests-{strategy}.parquet"),
                        f"{name}: {strategy}, the first of the {seeds}")
    return written


def figures_for_run(folder: Path, out: Path | None = None, style: FigureStyle = SCREEN,
                    formats: tuple[str, ...] | None = None) -> list[Path]:
    """Latency CDF, latency by stage, energy by component and (if monitored) the time series of a run folder."""
    keep, written = _saver(out or folder / FIGURES, style, formats)
    summary = json.loads((folder / "summary.json").read_text())
    name = summary["scenario"]
    has_rows = (folder / "requests.parquet").is_file()  # absent for a run with records: none
    requests = pd.read_parquet(folder / "requests.parquet") if has_rows else None
    scenario = scenario_of(folder)
    if requests is not None:
        keep("latency-cdf", latency_cdf_figure(requests, f"{name}: latency", deadline_s=summary.get("deadline_s"),
                                               warmup_s=summary["warmup_s"], style=style,
                                               **groups_of(summary, scenario)))
    keep("latency-breakdown", latency_breakdown_figure(summary, f"{name}: mean latency by stage", style=style))
    keep("energy-breakdown", energy_breakdown_figure(summary, f"{name}: device energy by component", style=style))
    if requests is not None and (folder / "timeseries.parquet").is_file():
        _timeseries(keep, style, scenario, "timeseries", pd.read_parquet(folder / "timeseries.parquet"),
                    requests, f"{name}: over time")
    return written


def figures_for_sweep(folder: Path, out: Path | None = None, style: FigureStyle = SCREEN,
                      formats: tuple[str, ...] | None = None) -> list[Path]:
    """Energy-latency trade-off and, per metric that varies, its curve (numeric x) or grouped bars
    (categorical x) against the x factor."""
    keep, written = _saver(out or folder / FIGURES, style, formats)
    meta = json.loads((folder / "sweep.json").read_text())
    table = pd.read_parquet(folder / "table.parquet")
    x_factor, line_factor = sweep_axes(meta)
    keep("tradeoff", tradeoff_figure(table, x_factor, line_factor, f"{meta['name']}: energy-latency trade-off",
                                     style=style))
    for metric, scale, unit, label in SWEEP_CURVES:
        if varies(table[metric]):
            keep(f"curve-{metric}", sweep_curve_figure(table, metric, scale, f"{label} ({unit})", x_factor,
                                                       line_factor, f"{meta['name']}: {label} by {x_factor}",
                                                       style=style))
    return written


SWEEP_CURVES = (("latency_mean_s", 1e3, "ms", "mean latency"), ("energy_j", 1e3, "mJ", "device energy per request"),
                ("accuracy", 1.0, "top-1", "accuracy"))
"""Metrics a sweep draws against its x factor: (column, scale, unit, name)."""


def sweep_axes(meta: dict) -> tuple[str, str | None]:
    """(x factor, line factor) of a sweep: its report options, else the last factor and the first other."""
    factors = meta["factors"]
    options = meta.get("report", {})
    x_factor = options.get("x", factors[-1])
    return x_factor, options.get("lines", next((f for f in factors if f != x_factor), None))


def figures_for_sites(folder: Path, out: Path | None = None, style: FigureStyle = SCREEN,
                      formats: tuple[str, ...] | None = None) -> list[Path]:
    """Each site's latency, ranked; the merged latency by stage and energy by component; and, when the sites
    kept rows (``records``), the latency CDF of those rows."""
    from simsplit.figures.sites_figures import sites_latency_figure
    keep, written = _saver(out or folder / FIGURES, style, formats)
    summary = json.loads((folder / "summary.json").read_text())
    name = summary["scenario"]
    sites = pd.read_csv(folder / "sites.csv")
    keep("latency-by-site", sites_latency_figure(sites, summary["latency_s"]["mean"],
                                                 f"{name}: {len(sites):,} sites", style=style))
    keep("latency-breakdown", latency_breakdown_figure(summary, f"{name}: mean latency by stage, all sites",
                                                       style=style))
    keep("energy-breakdown", energy_breakdown_figure(summary, f"{name}: device energy by component, all sites",
                                                     style=style))
    parts = sorted((folder / "requests").glob("site-*.parquet")) if (folder / "requests").is_dir() else []
    if parts:
        requests = pd.concat([pd.read_parquet(part) for part in parts], ignore_index=True)
        keep("latency-cdf", latency_cdf_figure(requests, f"{name}: latency, the rows the sites kept",
                                               deadline_s=summary.get("deadline_s"), warmup_s=summary["warmup_s"],
                                               style=style, **groups_of(summary, scenario_of(folder))))
    return written


FIGURES_OF = {"run": figures_for_run, "sweep": figures_for_sweep, "compare": figures_for_compare,
              "sites": figures_for_sites}
"""The function drawing each kind of folder's figures, by :func:`folder_kind`."""


def draw(folder: Path, out: Path | None = None, style: FigureStyle = SCREEN,
         formats: tuple[str, ...] | None = None) -> list[Path]:
    """Every figure of a run, sweep or compare folder, into ``out`` (default its ``figures/``, and
    ``figures/<style>/`` for a style other than screen's, so that two styles never overwrite each other);
    KeyError for any other folder (the CLI refuses those first)."""
    kind = folder_kind(folder)
    if kind is None:
        raise KeyError(kind)  # as FIGURES_OF[None] would
    if out is None and style.name != SCREEN.name:
        out = Path(folder) / FIGURES / style.name
    return FIGURES_OF[kind](Path(folder), out, style, formats)
