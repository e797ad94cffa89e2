"""``simsplit run | validate | compare | sweep | plot | report``: experiments and their outputs."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from simsplit.cli.app import (
    ForceOption,
    JsonOption,
    SetOption,
    app,
    console,
    err_console,
    fail,
    positive,
)
from simsplit.core.errors import InputError
from simsplit.core.words import counted
from simsplit.output.outdir import claim, write_folder


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1e3:.2f}"


def _mj(value: float | None) -> str:
    return "-" if value is None else f"{value * 1e3:.2f}"


def print_summary(summary: dict) -> None:
    """The summary as tables: overall (with 95% intervals), per device group, and per phase (if it has phases)."""
    console.print(_overall_table(summary))
    console.print(_groups_table(summary))
    if "phases" in summary:
        console.print(_phases_table(summary))


def _overall_table(summary: dict) -> Table:
    from simsplit.core.stats import fewest_for_interval
    from simsplit.output.summary import QUANTILES  # loaded already: a summary is being printed
    lat = summary["latency_s"]
    groups = summary.get("groups", {})
    strategies = {g["strategy"] for g in groups.values()}
    pooled = (f": all {len(groups):,} device groups pooled ({len(strategies):,} strategies; they differ by design, "
              "so read them one by one below)" if len(groups) > 1 and len(strategies) > 1 else "")
    overall = Table(title=f"{summary['scenario']} (seed {summary['seed']}){pooled}", show_header=True)
    overall.add_column("metric")
    overall.add_column("value", justify="right")
    overall.add_column("95% interval", justify="right")
    overall.add_row("generated / completed / dropped / lost / timed out / in flight",
                    f"{summary['generated']:,} / {summary['completed']:,} / {summary['dropped']:,} / "
                    f"{summary['lost']:,} / {summary['timed_out']:,} / {summary['in_flight']:,}", "")
    overall.add_row("throughput (req/s)", f"{summary['throughput_rps']:.2f}", "")
    for key in ("mean", "p50", "p95", "p99"):
        low, high = lat["ci95"][key]
        if "sites" in summary:  # the mean's interval is across sites; quantiles come from a sketch, no interval
            why = "- (needs 2 sites)" if key == "mean" else "- (none for merged sites)"
        else:
            why = f"- (needs {fewest_for_interval(QUANTILES.get(key)):,} completed)"
        interval = why if low is None else f"[{_ms(low)}, {_ms(high)}]"
        overall.add_row(f"latency {key} (ms)", _ms(lat[key]), interval)
    if lat["mean"] is not None and lat["p95"] is not None and lat["mean"] > lat["p95"]:
        overall.caption = "The mean is above p95: a few requests take far longer than the rest (read p99)."
    energy = summary["energy_j"]
    overall.add_row("energy / request (mJ): compute + uplink + downlink",
                    f"{_mj(energy['compute'])} + {_mj(energy['uplink'])} + {_mj(energy['downlink'])}", "")
    if energy["promotion"] or energy["tail"]:
        overall.add_row("energy / request (mJ): radio promotion + tail",
                        f"{_mj(energy['promotion'])} + {_mj(energy['tail'])}", "")
    overall.add_row("energy / request (mJ): total", _mj(energy["total"]), "")
    overall.add_row("accuracy (top-1)", _fixed(summary["accuracy"], 4), "")
    overall.add_row("deadline miss rate", _fixed(summary["deadline_miss_rate"], 4), "")
    for name, server in summary["servers"].items():
        _add_server_rows(overall, name, server)
    return overall


def _fixed(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _add_server_rows(table: Table, name: str, server: dict) -> None:
    """A server's utilisation (and its other tenants' share) and, if metered, its energy."""
    share = f" (other tenants {server['background_utilisation']:.4f})" if server["background_jobs"] else ""
    table.add_row(f"server {name} utilisation", f"{server['utilisation']:.4f}{share}", "")
    if "energy_j" in server:
        per = server["j_per_request"]
        table.add_row(f"server {name} energy: total kWh / mean W / J per request",
                      f"{server['energy_kwh']:.4g} / {server['mean_power_w']:.4g} / "
                      f"{'-' if per is None else f'{per:.4g}'}", "")


def _groups_table(summary: dict) -> Table:
    groups = Table(title="per device group")
    for name in ("group", "strategy", "done", "mean ms", "p95 ms", "energy mJ", "up bytes", "accuracy", "miss"):
        groups.add_column(name, justify="left" if name in ("group", "strategy") else "right")
    for name, g in summary["groups"].items():
        groups.add_row(name, g["strategy"], f"{g['completed']:,}", _ms(g["latency_s"]["mean"]),
                       _ms(g["latency_s"]["p95"]), _mj(g["energy_j"]["total"]), _fixed(g["bytes_up"], 0),
                       _fixed(g["accuracy"], 3), _fixed(g["deadline_miss_rate"], 3))
    return groups


def _phases_table(summary: dict) -> Table:
    phases = Table(title="mean latency (ms) per phase of arrival time")
    phases.add_column("group")
    for phase in summary["phases"]:
        phases.add_column(f"{phase['from_s']:g}-{phase['to_s']:g} s", justify="right")
    for name in summary["groups"]:
        phases.add_row(name, *[_ms(p["groups"][name]["latency_s"]["mean"]) for p in summary["phases"]])
    return phases


@app.command()
def run(file: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
        out: Annotated[Path | None, typer.Option(help="Result folder (default results/<scenario name>).")] = None,
        seed: Annotated[str | None, typer.Option(
            metavar="INT", help="Override the scenario's seed (an integer >= 0).")] = None,
        monitor: Annotated[float | None, typer.Option(
            help="Also sample uplink capacity and server queues every this many seconds (timeseries.parquet).")] = None,
        force: ForceOption = False, json_: JsonOption = False,
        set_: SetOption = None,
        workers: Annotated[int, typer.Option(min=1, max=512, help="Parallel sites (a scenario with sites).")] = 1,
        scheduler: Annotated[str | None, typer.Option(
            help="Run the sites on Dask: 'local' starts a local cluster, else a scheduler address.")] = None) -> None:
    """Run a scenario, print its summary, and write its result folder."""
    from simsplit.scenario import load_scenario
    from simsplit.studies.simulation import simulate
    positive(monitor, "--monitor")
    if seed is not None and not (seed.isascii() and seed.isdigit()):
        fail(InputError("--seed", None, f"expected an integer >= 0, got {seed!r}"))
    try:
        scenario = load_scenario(file, set_ or [], seed=None if seed is None else int(seed))
        setup = _checked_setup(scenario, monitor, workers, scheduler, force)
        with claim(out if out is not None else Path("results") / scenario.name, kind="run") as target:
            started = time.perf_counter()
            if scenario.sites is not None:
                from simsplit.cli.progress import progress
                from simsplit.studies.sites import run_sites
                with progress(f"run {scenario.name}", scenario.sites.count, "sites") as advance:
                    summary = run_sites(scenario, target, workers=workers, scheduler=scheduler, progress=advance)
                elapsed = time.perf_counter() - started
                folder = target
                simulated = f"{summary['generated']:,} requests at {summary['sites']:,} sites"
            else:
                result = simulate(scenario, monitor_period_s=monitor, setup=setup)
                elapsed = time.perf_counter() - started
                folder = result.write(target)
                summary = result.summary
                simulated = f"{result.request_count:,} requests"
    except InputError as exc:
        fail(exc)
    if json_:
        print(json.dumps({**summary, "folder": str(folder), "wall_s": elapsed}, allow_nan=False))
        return
    print_summary(summary)
    console.print(f"{simulated} simulated in {elapsed:.2f} s; wrote {folder}/")


def _checked_setup(scenario, monitor: float | None, workers: int, scheduler: str | None, force: bool):
    """The scenario's setup, checked feasible (for a scenario with sites, its first site's, for every site);
    InputError for an option the scenario does not take."""
    from simsplit.core.pool import check_scheduler
    from simsplit.engine.feasibility import check_feasible
    from simsplit.engine.setup import build_setup
    check_scheduler(scheduler)
    if scenario.sites is not None:
        if monitor is not None:
            raise InputError("--monitor", None, "a scenario with sites samples no time series; drop --monitor")
        from simsplit.studies.site_checks import check_sites
        return check_sites(scenario, workers, force)[0]
    setup = build_setup(scenario)
    for option, given in (("--workers", workers != 1), ("--scheduler", scheduler is not None)):
        if given:
            raise InputError(option, None, "only the sites of a scenario with sites run in parallel, and "
                             "this one has none; drop it (simsplit sweep runs scenarios in parallel)")
    check_feasible(setup, monitor_period_s=monitor, force=force)
    return setup


@app.command()
def validate(file: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
             force: ForceOption = False, json_: JsonOption = False, set_: SetOption = None) -> None:
    """Check a scenario and every file it references, without running it."""
    from simsplit.engine.feasibility import check_feasible
    from simsplit.engine.setup import build_setup
    from simsplit.scenario import load_scenario
    try:
        scenario = load_scenario(file, set_ or [])
        sites = scenario.sites.count if scenario.sites is not None else None
        if sites is not None:
            from simsplit.studies.site_checks import check_sites
            setup, estimate = check_sites(scenario, force=force)
        else:
            setup = build_setup(scenario)
            estimate = check_feasible(setup, force=force)
    except InputError as exc:
        fail(exc)
    devices = sum(g.group.count for g in setup.groups)
    if json_:
        print(json.dumps({"file": str(file), "ok": True, "groups": len(setup.groups), "devices": devices,
                          "split_points": len(setup.profile.names), "payload_rows": len(setup.payloads.entries),
                          "estimate": {"requests": estimate.requests, "events": estimate.events,
                                       "memory_bytes": estimate.memory_bytes, "wall_s": estimate.wall_s},
                          "sites": sites}))
        return
    per_site = f"{counted(sites, 'site')}, each " if sites is not None else ""
    console.print(f"{file}: ok ({per_site}{counted(len(setup.groups), 'device group')}, {counted(devices, 'device')}, "
                  f"{counted(len(setup.profile.names), 'split point')}, "
                  f"{counted(len(setup.payloads.entries), 'payload row')}; {estimate.describe(alone=sites is None)})")


@app.command("compare")
def compare_command(file: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
                    seeds: Annotated[int, typer.Option(
                        min=1, max=1000, help="Replications (seeds) per strategy.")] = 5,
                    out: Annotated[Path | None, typer.Option(help="Folder (default results/<name>-compare).")] = None,
                    only: Annotated[list[str] | None, typer.Option(
                        metavar="NAME",
                        help="Run only this strategy (repeatable), e.g. --only dynamic --only 'fixed(1, bottlenet)'.")
                    ] = None,
                    force: ForceOption = False, json_: JsonOption = False, set_: SetOption = None) -> None:
    """Run every strategy (local, full offload, each fixed split, Neurosurgeon, Edgent, dynamic, oracle) over
    several seeds, and plan each device's requests offline beside the oracle (planned); print means with 95%
    intervals and regret against the bound (the best of planned, the oracle and every static strategy); write the
    tables, the latency quantiles and the time series of dynamic and the oracle (simsplit plot or report draws
    the figures)."""
    from simsplit.engine.feasibility import check_feasible
    from simsplit.engine.setup import build_setup
    from simsplit.scenario import load_scenario
    from simsplit.studies.compare import variants, with_strategy

    try:
        scenario = load_scenario(file, set_ or [])
        if scenario.sites is not None:
            raise InputError(scenario.source, "sites", "expected a scenario of one site: compare runs each "
                             "strategy on one; drop the sites block, or run the sites with simsplit run")
        names = variants(scenario)
    except InputError as exc:
        fail(exc)
    chosen = list(dict.fromkeys(only)) if only else None
    if chosen is not None and any(n not in names for n in chosen):
        fail(InputError("--only", None, f"expected names among {list(names)}, got {chosen}"))
    target = out if out is not None else Path("results") / f"{scenario.name}-compare"
    try:
        for name in chosen or names:
            check_feasible(build_setup(with_strategy(scenario, names[name])), runs=seeds, force=force)
        held = contextlib.ExitStack()
        held.enter_context(claim(target, kind="compare"))
    except InputError as exc:
        fail(exc)
    with held:
        _compare_and_write(scenario, names, chosen, seeds, target, json_)


def _compare_and_write(scenario, names: dict, chosen: list[str] | None, seeds: int, target: Path,
                       as_json: bool) -> None:
    """The body of ``compare`` once its inputs are checked and its folder claimed."""
    import numpy as np

    from simsplit.cli.progress import progress
    from simsplit.studies.compare import compare

    seed_list = [int(s) for s in np.random.SeedSequence(scenario.seed).generate_state(seeds)]
    total = len(chosen or names) * seeds
    with progress(f"compare {scenario.name}", total) as advance:
        runs, table, quantiles = compare(scenario, seed_list, chosen, progress=lambda name: advance(1))
    flat = _flat_intervals(table)
    if not as_json:
        console.print(_compare_table(scenario.name, seeds, table))
        if table.attrs.get("planned"):
            console.print(table.attrs["planned"], markup=False, highlight=False)
        from simsplit.studies.compare import left_out
        for kind, needs in left_out(scenario, names).items():
            console.print(f"not compared: {kind}, which needs {needs}", markup=False, highlight=False)

    def write(folder: Path) -> None:
        runs.to_csv(folder / "runs.csv", index=False)
        flat.to_csv(folder / "compare.csv", index=False)
        quantiles.to_csv(folder / "latency-quantiles.csv", index=False)
        _write_compare_extras(folder, scenario, names, chosen, seed_list, list(table["strategy"]),
                              table.attrs.get("planned"))

    folder = write_folder(target, write, kind="compare")
    if as_json:
        from simsplit.output.summary import json_safe
        rows = json_safe(flat.to_dict(orient="records"))
        print(json.dumps({"scenario": scenario.name, "seeds": seed_list, "folder": str(folder), "strategies": rows}))
        return
    console.print(f"wrote {folder}/")


def _flat_intervals(table):
    """A copy of the compare table with each ``<metric>_ci95`` pair as two columns, ``_low`` and ``_high``."""
    flat = table.copy()
    for column in [c for c in flat.columns if c.endswith("_ci95")]:
        flat[column.replace("_ci95", "_low")] = [v[0] for v in flat[column]]
        flat[column.replace("_ci95", "_high")] = [v[1] for v in flat[column]]
        del flat[column]
    return flat


def _compare_table(name: str, seeds: int, table) -> Table:
    """The compare table as shown: means with the half-width of their 95% intervals, and regret."""
    import numpy as np
    objective = table.attrs.get("objective", "objective")
    shown = Table(title=f"{name}: {seeds} seeds, mean ± half-width of the 95% interval; "
                        f"regret: the {objective} objective against the bound, relative (per seed, the best of "
                        f"planned, the oracle and every static strategy)")
    shown.add_column("strategy", justify="left", no_wrap=True)
    for column in ("latency ms", "p95 ms", "energy mJ", "accuracy", "deadline hit", "switches",
                   f"{objective} regret"):
        shown.add_column(column, justify="right")
    for _, row in table.iterrows():
        regret = "-" if "regret" not in row or np.isnan(row["regret"]) else f"{100 * row['relative_regret']:+.1f}%"
        shown.add_row(row["strategy"], _interval(row, "latency_mean_s", 1e3), _interval(row, "latency_p95_s", 1e3),
                      _interval(row, "energy_j", 1e3), f"{row['accuracy']:.3f}",
                      "-" if np.isnan(row["deadline_hit_rate"]) else f"{row['deadline_hit_rate']:.3f}",
                      f"{row['switches']:.0f}", regret)
    return shown


def _interval(row, key: str, scale: float) -> str:
    """``row[key]`` x ``scale`` and the half-width of its 95% interval (none where it has none)."""
    import numpy as np
    low, high = row[f"{key}_ci95"]
    if low is None or np.isnan(low):
        return f"{row[key] * scale:.2f}"
    value, half = row[key] * scale, (high - low) / 2 * scale
    if half <= 1e-9 * abs(value):  # the seeds agree (up to rounding)
        return f"{value:.2f} ±0"
    return f"{value:.2f} ±{half:.2f}" if half >= 0.01 else f"{value:.2f} ±{half:.1g}"


def _write_compare_extras(folder: Path, scenario, names: dict, chosen: list[str] | None, seed_list: list[int],
                          strategies: list[str], planned: str | None) -> None:
    """The scenario, compare.json (seeds, objective, strategies, the planned bound's note, provenance), and the
    time series and requests of dynamic and the oracle (when they were compared) at the first seed."""
    from simsplit.figures.folder_figures import TIMESERIES_COLUMNS
    from simsplit.model.strategies.context import objective_name
    from simsplit.output.provenance import portable_copy, provenance
    from simsplit.scenario import to_yaml
    from simsplit.studies.compare import with_strategy
    from simsplit.studies.simulation import simulate
    (folder / "scenario.yaml").write_text(to_yaml(portable_copy(scenario, folder)), encoding="utf-8")
    meta = {"scenario": scenario.name, "seed": scenario.seed, "seeds": seed_list,
            "objective": objective_name(scenario), "strategies": strategies, "planned": planned,
            "provenance": provenance(scenario)}
    (folder / "compare.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    for name in ("dynamic", "oracle"):
        if chosen is None or name in chosen:
            result = simulate(with_strategy(scenario, names[name]), seed=seed_list[0], monitor_period_s=0.1)
            assert result.timeseries is not None  # sampled: a monitor period was given
            result.timeseries.to_parquet(folder / f"timeseries-{name}.parquet", index=False)
            result.requests[list(TIMESERIES_COLUMNS)].to_parquet(folder / f"requests-{name}.parquet", index=False)


@app.command("sweep")
def sweep_command(file: Annotated[Path, typer.Argument(help="Sweep YAML file.")],
                  out: Annotated[Path | None, typer.Option(help="Folder (default results/<sweep name>).")] = None,
                  workers: Annotated[int, typer.Option(min=1, max=512, help="Parallel runs.")] = 2,
                  scheduler: Annotated[str | None, typer.Option(
                      help="Run on Dask: 'local' starts a local cluster, else a scheduler address.")] = None,
                  limit: Annotated[int | None, typer.Option(
                      min=0, help="Run at most this many unfinished runs.")] = None,
                  force: ForceOption = False) -> None:
    """Run a grid of scenario variations x seeds (skipping finished runs) and write the combined tables."""
    from simsplit.cli.progress import progress
    from simsplit.core.pool import check_scheduler
    from simsplit.output.outdir import is_ours, mark
    from simsplit.studies.sweep import is_done, load_sweep, run_sweep, write_tables
    try:
        check_scheduler(scheduler)
        sweep = load_sweep(file, force=force)
        held = contextlib.ExitStack()
        folder = held.enter_context(claim(out if out is not None else Path("results") / sweep.name, kind="sweep"))
    except InputError as exc:
        fail(exc)
    with held:
        if not is_ours(folder):
            folder.mkdir(parents=True, exist_ok=True)
            mark(folder, "sweep")
        finished = sum(1 for run in sweep.runs if is_done(folder / "runs" / run.run_id, run.key))
        with progress(f"sweep {sweep.name}", len(sweep.runs) - finished) as advance:
            try:
                ran, skipped = run_sweep(sweep, folder, workers, scheduler, limit, progress=lambda: advance(1))
            except InputError as exc:
                fail(exc)
            except KeyboardInterrupt:
                runs, _ = write_tables(sweep, folder)
                err_console.print(f"interrupted: {len(runs)} of {len(sweep.runs)} runs complete; tables written; "
                                  "run the same command again to resume", markup=False, highlight=False, soft_wrap=True)
                raise typer.Exit(130) from None
        runs, table = write_tables(sweep, folder)
    console.print(f"{sweep.name}: {ran} runs now, {skipped} already finished, {len(runs)} of {len(sweep.runs)} "
                  f"complete; wrote {folder}/table.parquet ({len(table)} configurations)")
