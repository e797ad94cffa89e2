"""Command line: ``simsplit run | validate | compare | sweep | plot | report | profile | train-bottleneck |
traces``. Parses arguments, checks them, and calls the library; nothing more.

Every usage or input error prints one line (``error: ...``) and exits with status 2; Ctrl-C exits 130.
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from simsplit.errors import InputError
from simsplit.outdir import claim, write_folder

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  context_settings={"help_option_names": ["-h", "--help"]},
                  help="simsplit: simulate split-inference offloading.")
console = Console(width=max(shutil.get_terminal_size((120, 24)).columns, 120), soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

ForceOption = Annotated[bool, typer.Option("--force", help="Run even if the estimated work or memory exceeds "
                                                            "what this machine can do.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout instead of tables.")]
SetOption = Annotated[Optional[list[str]], typer.Option(
    "--set", help="Override a scenario field: dotted.path=value (repeatable), e.g. network.uplink.rate_mbps=10.")]


def _fail(exc: InputError) -> None:
    err_console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def _positive(value: float | None, option: str) -> None:
    """Exit 2 unless ``value`` is None or a finite number > 0."""
    if value is not None and not (math.isfinite(value) and value > 0):
        _fail(InputError(option, None, f"expected a finite number > 0, got {value:g}"))


def _refuse_existing(target: Path | None, overwrite: bool) -> None:
    """Exit 2 if ``target`` exists, unless it is a file and ``overwrite`` allows replacing it."""
    if target is not None and target.exists() and not (overwrite and target.is_file()):
        _fail(InputError(target, None, "exists already; pass --overwrite to replace a file"))


def _version(value: bool) -> None:
    if value:
        from simsplit import __version__
        console.print(f"simsplit {__version__}")
        raise typer.Exit(0)


@app.callback()
def _main(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="Print the version and exit.")] = False) -> None:
    """simsplit: simulate split-inference offloading."""


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1e3:.2f}"


def _mj(value: float | None) -> str:
    return "-" if value is None else f"{value * 1e3:.2f}"


def print_summary(summary: dict) -> None:
    """The summary as two tables: overall (with 95% intervals) and per device group."""
    lat = summary["latency_s"]
    overall = Table(title=f"{summary['scenario']} (seed {summary['seed']})", show_header=True)
    overall.add_column("metric")
    overall.add_column("value", justify="right")
    overall.add_column("95% interval", justify="right")
    overall.add_row("generated / completed / dropped / lost / timed out / in flight",
                    f"{summary['generated']} / {summary['completed']} / {summary['dropped']} / "
                    f"{summary['lost']} / {summary['timed_out']} / {summary['in_flight']}", "")
    overall.add_row("throughput (req/s)", f"{summary['throughput_rps']:.2f}", "")
    for key in ("mean", "p50", "p95", "p99"):
        low, high = lat["ci95"][key]
        interval = "-" if low is None else f"[{_ms(low)}, {_ms(high)}]"
        overall.add_row(f"latency {key} (ms)", _ms(lat[key]), interval)
    energy = summary["energy_j"]
    overall.add_row("energy / request (mJ): compute + uplink + downlink",
                    f"{_mj(energy['compute'])} + {_mj(energy['uplink'])} + {_mj(energy['downlink'])}", "")
    if energy["promotion"] or energy["tail"]:
        overall.add_row("energy / request (mJ): radio promotion + tail",
                        f"{_mj(energy['promotion'])} + {_mj(energy['tail'])}", "")
    overall.add_row("energy / request (mJ): total", _mj(energy["total"]), "")
    overall.add_row("accuracy (top-1)", "-" if summary["accuracy"] is None else f"{summary['accuracy']:.4f}", "")
    miss = summary["deadline_miss_rate"]
    overall.add_row("deadline miss rate", "-" if miss is None else f"{miss:.4f}", "")
    for name, server in summary["servers"].items():
        share = f" (other tenants {server['background_utilisation']:.4f})" if server["background_jobs"] else ""
        overall.add_row(f"server {name} utilisation", f"{server['utilisation']:.4f}{share}", "")
    console.print(overall)
    groups = Table(title="per device group")
    for name in ("group", "strategy", "done", "mean ms", "p95 ms", "energy mJ", "up bytes", "accuracy", "miss"):
        groups.add_column(name, justify="left" if name in ("group", "strategy") else "right")
    for name, g in summary["groups"].items():
        miss = g["deadline_miss_rate"]
        groups.add_row(name, g["strategy"], str(g["completed"]), _ms(g["latency_s"]["mean"]),
                       _ms(g["latency_s"]["p95"]), _mj(g["energy_j"]["total"]),
                       "-" if g["bytes_up"] is None else f"{g['bytes_up']:.0f}",
                       "-" if g["accuracy"] is None else f"{g['accuracy']:.3f}",
                       "-" if miss is None else f"{miss:.3f}")
    console.print(groups)
    if "phases" in summary:
        phases = Table(title="mean latency (ms) per phase of arrival time")
        phases.add_column("group")
        for phase in summary["phases"]:
            phases.add_column(f"{phase['from_s']:g}-{phase['to_s']:g} s", justify="right")
        for name in summary["groups"]:
            phases.add_row(name, *[_ms(p["groups"][name]["latency_s"]["mean"]) for p in summary["phases"]])
        console.print(phases)


@app.command()
def run(file: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
        out: Annotated[Optional[Path], typer.Option(help="Result folder (default results/<scenario name>).")] = None,
        seed: Annotated[Optional[str], typer.Option(help="Override the scenario's seed (an integer >= 0).")] = None,
        monitor: Annotated[Optional[float], typer.Option(
            help="Also sample uplink capacity and server queues every this many seconds (timeseries.parquet).")] = None,
        force: ForceOption = False, json_: JsonOption = False,
        set_: SetOption = None) -> None:
    """Run a scenario, print its summary, and write its result folder."""
    from simsplit.feasibility import check_feasible
    from simsplit.scenario import load_scenario
    from simsplit.setup import build_setup
    from simsplit.simulation import simulate
    _positive(monitor, "--monitor")
    if seed is not None and not (seed.isascii() and seed.isdigit()):
        _fail(InputError("--seed", None, f"expected an integer >= 0, got {seed!r}"))
    try:
        scenario = load_scenario(file, set_ or [], seed=None if seed is None else int(seed))
        setup = build_setup(scenario)
        check_feasible(setup, monitor_period_s=monitor, force=force)
        with claim(out if out is not None else Path("results") / scenario.name) as target:
            started = time.perf_counter()
            result = simulate(scenario, monitor_period_s=monitor, setup=setup)
            elapsed = time.perf_counter() - started
            folder = result.write(target)
    except InputError as exc:
        _fail(exc)
    if json_:
        print(json.dumps({**result.summary, "folder": str(folder), "wall_s": elapsed}, allow_nan=False))
        return
    print_summary(result.summary)
    console.print(f"{len(result.requests)} requests simulated in {elapsed:.2f} s; wrote {folder}/")


@app.command()
def validate(file: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
             force: ForceOption = False, json_: JsonOption = False, set_: SetOption = None) -> None:
    """Check a scenario and every file it references, without running it."""
    from simsplit.feasibility import check_feasible
    from simsplit.scenario import load_scenario
    from simsplit.setup import build_setup
    try:
        scenario = load_scenario(file, set_ or [])
        setup = build_setup(scenario)
        estimate = check_feasible(setup, force=force)
    except InputError as exc:
        _fail(exc)
    devices = sum(g.group.count for g in setup.groups)
    if json_:
        print(json.dumps({"file": str(file), "ok": True, "groups": len(setup.groups), "devices": devices,
                          "split_points": len(setup.profile.names), "payload_rows": len(setup.payloads.entries),
                          "estimate": {"requests": estimate.requests, "events": estimate.events,
                                       "memory_bytes": estimate.memory_bytes, "wall_s": estimate.seconds}}))
        return
    console.print(f"{file}: ok ({len(setup.groups)} device groups, {devices} devices, "
                  f"{len(setup.profile.names)} split points, {len(setup.payloads.entries)} payload rows; "
                  f"{estimate.describe()})")


@app.command("compare")
def compare_command(file: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
                    seeds: Annotated[int, typer.Option(min=1, max=1000, help="Replications (seeds) per strategy.")] = 5,
                    out: Annotated[Optional[Path], typer.Option(help="Folder (default results/<name>-compare).")] = None,
                    only: Annotated[Optional[list[str]], typer.Option(
                        help="Run only this strategy (repeatable), e.g. --only dynamic --only 'fixed(1, bottlenet)'.")] = None,
                    force: ForceOption = False, json_: JsonOption = False, set_: SetOption = None) -> None:
    """Run every strategy (local, full offload, each fixed split, Neurosurgeon, Edgent, dynamic, oracle) over
    several seeds; print means with 95% intervals and regret against the bound (the better of the oracle and
    every static strategy); write tables and a figure."""
    from simsplit.compare import variants, with_strategy
    from simsplit.feasibility import check_feasible
    from simsplit.scenario import load_scenario
    from simsplit.setup import build_setup

    try:
        scenario = load_scenario(file, set_ or [])
        names = variants(scenario)
    except InputError as exc:
        _fail(exc)
    chosen = list(dict.fromkeys(only)) if only else None
    if chosen is not None and any(n not in names for n in chosen):
        _fail(InputError("--only", None, f"expected names among {list(names)}, got {chosen}"))
    target = out if out is not None else Path("results") / f"{scenario.name}-compare"
    try:
        for name in chosen or names:
            check_feasible(build_setup(with_strategy(scenario, names[name])), runs=seeds, force=force)
        held = contextlib.ExitStack()
        held.enter_context(claim(target))
    except InputError as exc:
        _fail(exc)
    with held:
        _compare_and_write(scenario, names, chosen, seeds, target, json_)


def _compare_and_write(scenario, names: dict, chosen: list[str] | None, seeds: int, target: Path,
                       as_json: bool) -> None:
    """The body of ``compare`` once its inputs are checked and its folder claimed."""
    import numpy as np
    from rich.progress import Progress

    from simsplit.compare import compare, with_strategy
    from simsplit.plots import plot_timeseries
    from simsplit.simulation import simulate

    seed_list = [int(s) for s in np.random.SeedSequence(scenario.seed).generate_state(seeds)]
    total = len(chosen or names) * seeds
    with Progress(console=err_console, transient=True) as progress:
        task = progress.add_task("simulating", total=total)
        runs, table = compare(scenario, seed_list, chosen, progress=lambda name: progress.advance(task))
    flat = table.copy()
    for column in [c for c in flat.columns if c.endswith("_ci95")]:
        flat[column.replace("_ci95", "_low")] = [v[0] for v in flat[column]]
        flat[column.replace("_ci95", "_high")] = [v[1] for v in flat[column]]
        del flat[column]
    shown = Table(title=f"{scenario.name}: {seeds} seeds, mean ± half-width of the 95% interval; "
                        f"regret: objective vs the bound (per seed, the better of the oracle and every static strategy)")
    for name in ("strategy", "latency ms", "p95 ms", "energy mJ", "accuracy", "deadline hit", "switches", "regret"):
        shown.add_column(name, justify="left" if name == "strategy" else "right")

    def interval(row, key, scale):
        low, high = row[f"{key}_ci95"]
        if low is None or np.isnan(low):
            return f"{row[key] * scale:.2f}"
        return f"{row[key] * scale:.2f} ±{(high - low) / 2 * scale:.2f}"

    for _, row in table.iterrows():
        regret = "-" if "regret" not in row or np.isnan(row["regret"]) else f"{100 * row['relative_regret']:+.1f}%"
        shown.add_row(row["strategy"], interval(row, "latency_mean_s", 1e3), interval(row, "latency_p95_s", 1e3),
                      interval(row, "energy_j", 1e3), f"{row['accuracy']:.3f}",
                      "-" if np.isnan(row["deadline_hit_rate"]) else f"{row['deadline_hit_rate']:.3f}",
                      f"{row['switches']:.0f}", regret)
    if not as_json:
        console.print(shown)

    def write(folder: Path) -> None:
        runs.to_csv(folder / "runs.csv", index=False)
        flat.to_csv(folder / "compare.csv", index=False)
        for name in ("dynamic", "oracle"):
            if chosen is None or name in chosen:
                result = simulate(with_strategy(scenario, names[name]), seed=seed_list[0], monitor_period_s=0.1)
                plot_timeseries(result.timeseries, result.requests, result.setup.profile.local_split,
                                scenario.server_list[0].name, folder / f"timeseries-{name}.png",
                                title=f"{scenario.name}: {name} (seed {seed_list[0]})")

    folder = write_folder(target, write, kind="compare")
    if as_json:
        from simsplit.results import json_safe
        rows = json_safe(flat.to_dict(orient="records"))
        print(json.dumps({"scenario": scenario.name, "seeds": seed_list, "folder": str(folder), "strategies": rows}))
        return
    console.print(f"wrote {folder}/")


@app.command("profile")
def profile_command(model: Annotated[str, typer.Argument(help="resnet18 | resnet50 | mobilenet_v2 | vgg16")],
                    out: Annotated[Path, typer.Option(help="Profile CSV to write.")],
                    batch: Annotated[int, typer.Option(min=1, max=4096, help="Batch size.")] = 1,
                    resolution: Annotated[int, typer.Option(min=32, max=4096,
                                                            help="Input height and width (pixels).")] = 224,
                    threads: Annotated[int, typer.Option(min=1, max=1024,
                                                         help="torch threads (fixed and recorded).")] = 2,
                    warmup: Annotated[int, typer.Option(min=0, max=10_000, help="Untimed runs per block.")] = 3,
                    repeats: Annotated[int, typer.Option(min=1, max=100_000,
                                                         help="Timed runs per block (median kept).")] = 10,
                    measured_class: Annotated[str, typer.Option(help="Name of this machine's column.")] = "host",
                    classes: Annotated[str, typer.Option(help="Device classes mapped by the roofline model.")] =
                    "jetson-tx2,jetson-nano,rpi4",
                    server_classes: Annotated[str, typer.Option(help="Server classes mapped by the roofline model.")] =
                    "edge-t4",
                    split_after: Annotated[Optional[str], typer.Option(
                        help="Keep only split points after these blocks, e.g. RB3,RB7,RB13 (default: every block).")] = None,
                    plot: Annotated[Optional[Path], typer.Option(help="Also draw the per-split figure (PNG/SVG).")] = None,
                    payloads: Annotated[Optional[Path], typer.Option(
                        help="Also write a raw-tensor payload table at torchvision's top-1.")] = None,
                    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace output files that exist.")]
                    = False) -> None:
    """Measure a per-split profile of a torchvision network on this machine (needs the ml extra)."""
    for target in (out, plot, payloads):
        _refuse_existing(target, overwrite)
    try:
        from simsplit import measure as measuring
    except ImportError:
        _fail(InputError("simsplit profile", None, "expected torch and torchvision (pip install 'simsplit[ml]')"))
    from rich.progress import Progress

    if model not in measuring.ARCHITECTURES:
        _fail(InputError("MODEL", None, f"expected one of {list(measuring.ARCHITECTURES)}, got {model!r}"))
    mapped = [c for c in classes.split(",") if c]
    servers = [c for c in server_classes.split(",") if c]
    unknown = [c for c in mapped + servers if c not in measuring.DEVICE_CLASSES]
    if unknown:
        _fail(InputError("--classes", None, f"expected names among {list(measuring.DEVICE_CLASSES)}, got {unknown}"))
    chosen = [n for n in (split_after or "").split(",") if n]
    try:
        blocks = len(measuring.merge_blocks(measuring.build_blocks(model), chosen))
    except ValueError as exc:
        _fail(InputError("--split-after", None, str(exc)))
    with Progress(console=err_console, transient=True) as progress:
        task = progress.add_task(f"measuring {model}", total=repeats)
        measurement = measuring.measure(model, batch, resolution, threads, warmup, repeats, split_after=chosen,
                                        progress=lambda name: progress.advance(task))
    measuring.write_profile(measurement, out, measured_class, servers, mapped)
    console.print(f"wrote {out}: {blocks} blocks, {sum(b.flops for b in measurement.blocks) / 2e9:.3f} GMACs, "
                  f"sum of blocks / whole model = {measurement.sum_over_whole:.3f}")
    if plot is not None:
        from simsplit.plots import plot_profile
        from simsplit.profiles import load_profile
        plot_profile(load_profile(out), plot, measured_class, title=f"{model}, {resolution}x{resolution}")
        console.print(f"wrote {plot}")
    if payloads is not None:
        from simsplit.payloads import raw_payload_lines
        from simsplit.profiles import load_profile
        lines = raw_payload_lines(load_profile(out), measuring.TORCHVISION_TOP1[model])
        header = [f"# Raw tensors of {out.name} at every split; accuracy: torchvision's documented ImageNet top-1",
                  "# for the unsplit model, assumed unchanged by fp16/int8 features (not measured)."]
        payloads.write_text("\n".join(header + lines) + "\n")
        console.print(f"wrote {payloads}")


@app.command("sweep")
def sweep_command(file: Annotated[Path, typer.Argument(help="Sweep YAML file.")],
                  out: Annotated[Optional[Path], typer.Option(help="Folder (default results/<sweep name>).")] = None,
                  workers: Annotated[int, typer.Option(min=1, max=512, help="Parallel runs.")] = 2,
                  scheduler: Annotated[Optional[str], typer.Option(
                      help="Run on Dask: 'local' starts a local cluster, else a scheduler address.")] = None,
                  limit: Annotated[Optional[int], typer.Option(min=0, help="Run at most this many unfinished runs.")] = None,
                  force: ForceOption = False) -> None:
    """Run a grid of scenario variations x seeds (skipping finished runs) and write the combined tables."""
    from rich.progress import Progress

    from simsplit.outdir import is_ours, mark
    from simsplit.sweep import is_done, load_sweep, run_sweep, write_tables
    try:
        sweep = load_sweep(file, force=force)
        held = contextlib.ExitStack()
        folder = held.enter_context(claim(out if out is not None else Path("results") / sweep.name))
    except InputError as exc:
        _fail(exc)
    with held:
        if not is_ours(folder):
            folder.mkdir(parents=True, exist_ok=True)
            mark(folder, "sweep")
        with Progress(console=err_console, transient=True) as progress:
            task = progress.add_task(f"sweep {sweep.name}", total=len(sweep.runs))
            progress.advance(task, sum(1 for run in sweep.runs if is_done(folder / "runs" / run.run_id, run.key)))
            try:
                ran, skipped = run_sweep(sweep, folder, workers, scheduler, limit,
                                         progress=lambda: progress.advance(task))
            except InputError as exc:
                _fail(exc)
            except KeyboardInterrupt:
                runs, _ = write_tables(sweep, folder)
                err_console.print(f"interrupted: {len(runs)} of {len(sweep.runs)} runs complete; tables written; "
                                  "run the same command again to resume", markup=False, highlight=False, soft_wrap=True)
                raise typer.Exit(130) from None
        runs, table = write_tables(sweep, folder)
    console.print(f"{sweep.name}: {ran} runs now, {skipped} already finished, {len(runs)} of {len(sweep.runs)} "
                  f"complete; wrote {folder}/table.parquet ({len(table)} configurations)")


@app.command("plot")
def plot_command(folder: Annotated[Path, typer.Argument(help="A run folder or a sweep folder.")]) -> None:
    """Draw the figures of a run or sweep folder into its figures/ (PNG and SVG)."""
    from simsplit.report import figures_for_run, figures_for_sweep, is_sweep
    if not is_sweep(folder) and not (folder / "summary.json").is_file():
        _fail(InputError(folder, None, "expected a run folder (summary.json) or a sweep folder (table.parquet)"))
    written = figures_for_sweep(folder) if is_sweep(folder) else figures_for_run(folder)
    console.print(f"wrote {len(written)} files into {folder / 'figures'}/")


@app.command("report")
def report_command(folder: Annotated[Path, typer.Argument(help="A run folder or a sweep folder.")]) -> None:
    """Write one self-contained HTML page (tables and figures) for a run or sweep folder."""
    from simsplit.report import is_sweep, write_report
    if not is_sweep(folder) and not (folder / "summary.json").is_file():
        _fail(InputError(folder, None, "expected a run folder (summary.json) or a sweep folder (table.parquet)"))
    console.print(f"wrote {write_report(folder)}")


@app.command("train-bottleneck")
def train_bottleneck_command(config_file: Annotated[Path, typer.Argument(help="Training configuration (YAML).")],
                             out: Annotated[Optional[Path], typer.Option(help="Folder (default results/<name>).")] = None
                             ) -> None:
    """Train BottleNet units (BottleFit-style) on scikit-learn's digits and write a payload table, a profile
    of the backbone, the naive-vs-aware comparison and a rate-accuracy plot (needs the ml extra)."""
    try:
        from simsplit.bottleneck.train import TrainConfig, train_bottlenecks
    except ImportError:
        _fail(InputError("simsplit train-bottleneck", None, "expected torch, torchvision, scikit-learn and Pillow "
                         "(pip install 'simsplit[ml]')"))
    from pydantic import ValidationError
    from rich.progress import Progress

    from simsplit.scenario import read_yaml
    try:
        config = TrainConfig.model_validate(read_yaml(config_file))
    except InputError as exc:
        _fail(exc)
    except ValidationError as exc:
        err = exc.errors()[0]
        _fail(InputError(config_file, ".".join(map(str, err["loc"])) or None, err["msg"]))
    units = len(config.splits) * len(config.reduced_channels) * (2 if config.naive else 1)
    total = config.backbone_epochs + units * (config.distil_epochs + config.finetune_epochs)
    summary = {}
    with Progress(console=err_console, transient=True) as progress:
        task = progress.add_task(f"training {config.name}", total=total)
        try:
            folder = write_folder(out if out is not None else Path("results") / config.name,
                                  lambda path: summary.update(train_bottlenecks(config, path,
                                                                                lambda: progress.advance(task))),
                                  kind="training")
        except InputError as exc:
            _fail(exc)
    console.print(f"teacher accuracy {summary['teacher_accuracy']:.4f}")
    for gap in summary["naive_vs_aware"]:
        console.print(f"split {gap['split']}, {gap['reduced_channels']} channels, JPEG q{gap['quality']}: "
                      f"aware {gap['aware_accuracy']:.4f}, naive {gap['naive_accuracy']:.4f} "
                      f"(naive with 8-bit quantisation only {gap['quantised_only_naive_accuracy']:.4f})")
    console.print(f"wrote {folder}/ (payloads.csv, profile.csv, results.json, rate-accuracy.png)")


traces_app = typer.Typer(no_args_is_help=True, help="Inspect and convert bandwidth traces.")
app.add_typer(traces_app, name="traces")
FormatOption = Annotated[str, typer.Option("--format", "-f", help="mahimahi | pensieve | csv | gnettrack | mecperf")]


def _read(file: Path, fmt: str, window_ms: float | None, direction: str | None):
    """The trace, or exit 2 with the reader's one-line error."""
    from simsplit.channel.traces import FORMATS, read_trace
    _positive(window_ms, "--window-ms")
    if direction is not None and direction not in ("down", "up"):
        _fail(InputError("--direction", None, f"expected down or up, got {direction!r}"))
    if fmt not in FORMATS:
        _fail(InputError("--format", None, f"expected one of {', '.join(FORMATS)}, got {fmt!r}"))
    if window_ms is not None and fmt != "mahimahi":
        _fail(InputError("--window-ms", None, f"only a mahimahi trace takes --window-ms, got format {fmt}"))
    if direction is not None and fmt != "gnettrack":
        _fail(InputError("--direction", None, f"only a gnettrack trace takes --direction, got format {fmt}"))
    options = {}
    if window_ms is not None:
        options["window_ms"] = window_ms
    if direction is not None:
        options["direction"] = direction
    try:
        return read_trace(file, fmt, **options)
    except InputError as exc:
        _fail(exc)


@traces_app.command("show")
def traces_show(file: Annotated[Path, typer.Argument(help="Trace file.")], fmt: FormatOption,
                plot: Annotated[Optional[Path], typer.Option(help="Also draw the trace into this PNG/SVG.")] = None,
                window_ms: Annotated[Optional[float], typer.Option(help="Mahimahi bin width (ms).")] = None,
                direction: Annotated[Optional[str], typer.Option(help="gnettrack: down or up.")] = None) -> None:
    """Duration, time-weighted rate statistics and outage fraction of a trace."""
    trace = _read(file, fmt, window_ms, direction)
    stats = trace.statistics()
    table = Table(title=f"{file} ({fmt})")
    table.add_column("statistic")
    table.add_column("value", justify="right")
    table.add_row("duration (s)", f"{stats['duration_s']:.3f}")
    table.add_row("steps", str(stats["steps"]))
    for key in ("mean", "min", "p5", "p50", "p95", "max"):
        table.add_row(f"rate {key} (Mbps)", f"{stats[key + '_bps'] / 1e6:.3f}")
    table.add_row("outage fraction (rate 0)", f"{stats['outage_fraction']:.4f}")
    console.print(table)
    if plot is not None:
        from simsplit.plots import plot_trace
        plot_trace(trace, plot, title=f"{file.name} ({fmt})")
        console.print(f"wrote {plot}")


@traces_app.command("convert")
def traces_convert(file: Annotated[Path, typer.Argument(help="Trace file to read.")],
                   out: Annotated[Path, typer.Argument(help="File to write.")], fmt: FormatOption,
                   to: Annotated[str, typer.Option(help="csv | pensieve | mahimahi")] = "csv",
                   window_ms: Annotated[Optional[float], typer.Option(help="Mahimahi bin width (ms).")] = None,
                   direction: Annotated[Optional[str], typer.Option(help="gnettrack: down or up.")] = None,
                   overwrite: Annotated[bool, typer.Option("--overwrite", "--force", help="Replace OUT if it exists.")] = False
                   ) -> None:
    """Write a trace in another format (same step function)."""
    from simsplit.channel.traces import write_trace
    if to not in ("csv", "pensieve", "mahimahi"):
        _fail(InputError("--to", None, f"expected csv, pensieve or mahimahi, got {to!r}"))
    _refuse_existing(out, overwrite)
    trace = _read(file, fmt, window_ms, direction)
    try:
        write_trace(trace, out, to)
    except OSError as exc:
        _fail(InputError(out, None, f"cannot write: {exc.strerror}"))
    console.print(f"wrote {out} ({to})")


def main(argv: list[str] | None = None) -> int:
    """Run the command line on ``argv`` (default: sys.argv); usage errors become one line and status 2."""
    try:  # typer >= 0.20 carries its own copy of click
        from typer._click.exceptions import UsageError
    except ImportError:  # pragma: no cover
        from click import UsageError
    command = typer.main.get_command(app)
    try:
        code = command.main(args=argv, prog_name="simsplit", standalone_mode=False)
        return code if isinstance(code, int) else 0
    except typer.Exit as exc:
        return exc.exit_code
    except UsageError as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # help was printed for a bare command: not an error
            return 0
        where = f"simsplit {exc.ctx.command_path.split(' ', 1)[1]}" if exc.ctx and " " in exc.ctx.command_path \
            else "simsplit"
        err_console.print(f"error: {where}: {exc.format_message()}".replace("\n", " "), markup=False,
                          highlight=False, soft_wrap=True)
        return 2
    except (typer.Abort, KeyboardInterrupt):
        err_console.print("interrupted", markup=False, highlight=False)
        return 130


def entry_point() -> None:
    """The ``simsplit`` console script."""
    sys.exit(main())


if __name__ == "__main__":
    entry_point()
