"""``simsplit profile | train-bottleneck | kinds``: measuring models, training bottlenecks, listing kinds."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from simsplit.cli.app import (
    ForceOption,
    app,
    console,
    err_console,
    fail,
    refuse_existing,
)
from simsplit.core.errors import InputError
from simsplit.core.words import counted
from simsplit.output.outdir import write_folder

if TYPE_CHECKING:
    from simsplit.ml.bottleneck.config import TrainConfig


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
                    classes: Annotated[str, typer.Option(
                        help="Device classes mapped by the roofline model.")] = "jetson-tx2,jetson-nano,rpi4",
                    server_classes: Annotated[str, typer.Option(
                        help="Server classes mapped by the roofline model.")] = "edge-t4",
                    split_after: Annotated[str | None, typer.Option(
                        help="Keep only split points after these blocks, e.g. RB3,RB7,RB13 (default: every block).")
                    ] = None,
                    plot: Annotated[Path | None, typer.Option(help="Also draw the per-split figure (PNG/SVG).")] = None,
                    payloads: Annotated[Path | None, typer.Option(
                        help="Also write a raw-tensor payload table at torchvision's top-1.")] = None,
                    overwrite: Annotated[bool, typer.Option(
                        "--overwrite", metavar="", help="Replace output files that exist.")] = False) -> None:
    """Measure a per-split profile of a torchvision network on this machine (needs the ml extra)."""
    for target in (out, plot, payloads):
        refuse_existing(target, overwrite)
    try:
        from simsplit.ml import measure as measuring
    except ImportError:
        fail(InputError("simsplit profile", None, "expected torch and torchvision (pip install 'simsplit[ml]')"))
    from simsplit.cli.progress import progress

    if model not in measuring.ARCHITECTURES:
        fail(InputError("MODEL", None, f"expected one of {list(measuring.ARCHITECTURES)}, got {model!r}"))
    mapped, servers = _device_classes(classes, server_classes)
    chosen = [n for n in (split_after or "").split(",") if n]
    try:
        measuring.merge_blocks(measuring.build_blocks(model), chosen)  # refuses a name that is not a block
    except ValueError as exc:
        fail(InputError("--split-after", None, str(exc)))
    with progress(f"measuring {model}", repeats, "repeats") as advance:
        measurement = measuring.measure(model, batch, resolution, threads, warmup, repeats, split_after=chosen,
                                        progress=lambda name: advance(1))
    measuring.write_profile(measurement, out, measured_class, servers, mapped)
    macs = sum(b.flops for b in measurement.blocks) / 2e9
    console.print(f"wrote {out}: {counted(len(measurement.blocks), 'block')}, {macs:.3f} GMACs, "
                  f"sum of blocks / whole model = {measurement.sum_over_whole:.3f}")
    if plot is not None:
        from simsplit.figures.input_figures import plot_profile
        from simsplit.scenario.profiles import load_profile
        plot_profile(load_profile(out), plot, measured_class, title=f"{model}, {resolution}x{resolution}")
        console.print(f"wrote {plot}")
    if payloads is not None:
        _write_raw_payloads(out, payloads, measuring.TORCHVISION_TOP1[model])


def _device_classes(classes: str, server_classes: str) -> tuple[list[str], list[str]]:
    """The comma-separated device and server classes of ``--classes`` and ``--server-classes``; exit 2 naming
    any that the roofline model does not know."""
    from simsplit.ml.measure import DEVICE_CLASSES
    mapped = [c for c in classes.split(",") if c]
    servers = [c for c in server_classes.split(",") if c]
    unknown = [c for c in mapped + servers if c not in DEVICE_CLASSES]
    if unknown:
        fail(InputError("--classes", None, f"expected names among {list(DEVICE_CLASSES)}, got {unknown}"))
    return mapped, servers


def _write_raw_payloads(profile: Path, path: Path, top1: float) -> None:
    """A payload table of raw tensors at every split of ``profile``, at the unsplit model's ``top1``."""
    from simsplit.scenario.payloads import raw_payload_lines
    from simsplit.scenario.profiles import load_profile
    lines = raw_payload_lines(load_profile(profile), top1)
    header = [f"# Raw tensors of {profile.name} at every split; accuracy: torchvision's documented ImageNet top-1",
              "# for the unsplit model, assumed unchanged by fp16/int8 features (not measured)."]
    path.write_text("\n".join(header + lines) + "\n")
    console.print(f"wrote {path}")


@app.command("train-bottleneck")
def train_bottleneck_command(config_file: Annotated[Path, typer.Argument(help="Training configuration (YAML).")],
                             out: Annotated[Path | None, typer.Option(
                                 help="Folder (default results/<name>).")] = None) -> None:
    """Train BottleNet units (BottleFit-style) on scikit-learn's digits and write a payload table, a profile
    of the backbone, the naive-vs-aware comparison and a rate-accuracy plot (needs the ml extra)."""
    try:
        from simsplit.ml.bottleneck.train import train_bottlenecks
    except ImportError:
        fail(InputError("simsplit train-bottleneck", None, "expected torch, torchvision, scikit-learn and Pillow "
                         "(pip install 'simsplit[ml]')"))
    from simsplit.cli.progress import progress
    from simsplit.core.config import FieldValueError
    config = _train_config(config_file)
    summary: dict = {}
    with progress(f"training {config.name}", _training_epochs(config), "epochs") as advance:
        try:
            folder = write_folder(out if out is not None else Path("results") / config.name,
                                  lambda path: summary.update(train_bottlenecks(config, path, lambda: advance(1))),
                                  kind="training")
        except InputError as exc:
            fail(exc)
        except FieldValueError as exc:  # the data or the weights file, found wanting while loading
            fail(InputError(config_file, exc.field, str(exc)))
    _print_training(summary, folder)


def _train_config(config_file: Path) -> TrainConfig:
    """The training configuration of ``config_file``, its paths relative to the file's folder, or exit 2
    naming what is wrong (a field, a missing folder or weights file, CompressAI not installed)."""
    from pydantic import ValidationError

    from simsplit.ml.bottleneck.config import ImageFolderData, TorchvisionBackbone, TrainConfig
    from simsplit.scenario import read_yaml
    from simsplit.scenario.messages import input_error
    try:
        data = read_yaml(config_file)
        config = TrainConfig.model_validate(data)
    except InputError as exc:
        fail(exc)
    except ValidationError as exc:
        fail(input_error(exc, TrainConfig, data, str(config_file)))
    base = config_file.parent
    if isinstance(config.data, ImageFolderData):
        folder = str(base / config.data.path)
        config = config.model_copy(update={"data": config.data.model_copy(update={"path": folder})})
        if not Path(folder).is_dir():
            fail(InputError(config_file, "data.path", f"expected a folder of class sub-folders, got {folder}"))
    if isinstance(config.backbone, TorchvisionBackbone):
        weights = str(base / config.backbone.weights)
        config = config.model_copy(update={"backbone": config.backbone.model_copy(update={"weights": weights})})
        if not Path(weights).is_file():
            fail(InputError(config_file, "backbone.weights", f"expected a weights file (torch.save of the model's "
                            f"state_dict), got {weights}"))
    if config.entropy is not None:
        import importlib.util
        if importlib.util.find_spec("compressai") is None:
            fail(InputError(config_file, "entropy", "expected CompressAI for entropy-coded bottlenecks "
                            "(pip install compressai==1.2.8 && pip install 'numpy>=2', as .ci/run does)"))
    return config


def _training_epochs(config: TrainConfig) -> int:
    """Epochs the training runs through (the progress bar's length): the backbone's, then every unit's."""
    units = len(config.splits) * len(config.reduced_channels) * (2 if config.naive else 1)
    if config.entropy is not None:
        kinds = config.entropy.kinds
        per_channel = len(config.entropy.lambdas) * ("factorized" in kinds) + ("vbr" in kinds)
        units += len(config.entropy.splits) * len(config.entropy.reduced_channels) * per_channel
    return config.backbone_epochs + units * (config.distil_epochs + config.finetune_epochs)


def _print_training(summary: dict, folder: Path) -> None:
    """The teacher's accuracy, each naive-vs-aware comparison and each entropy-coded unit's rate."""
    console.print(f"teacher accuracy {summary['teacher_accuracy']:.4f}")
    for gap in summary["naive_vs_aware"]:
        console.print(f"split {gap['split']}, {gap['reduced_channels']} channels, JPEG q{gap['quality']}: "
                      f"aware {gap['aware_accuracy']:.4f}, naive {gap['naive_accuracy']:.4f} "
                      f"(naive with 8-bit quantisation only {gap['quantised_only_naive_accuracy']:.4f})")
    for row in summary["rows"]:
        if row["bottleneck"].startswith("entropy-"):
            console.print(f"split {row['split']}, {row['bottleneck']}: accuracy {row['accuracy']:.4f}, "
                          f"{row['bytes']:.1f} bytes per sample (model's estimate {row['estimated_bytes']:.1f})")
    console.print(f"wrote {folder}/ (payloads.csv, profile.csv, results.json, rate-accuracy.png)")


@app.command("kinds")
def kinds_command(family: Annotated[str | None, typer.Argument(
                      help="channels | strategies | arrivals | background | disciplines | estimators (default: all)")
                  ] = None,
                  plugin: Annotated[list[Path] | None, typer.Option(
                      "--plugin", help="Load this plugin file first (repeatable).")] = None,
                  markdown: Annotated[bool, typer.Option(
                      "--markdown", metavar="", help="Print Markdown (docs/kinds.md).")] = False) -> None:
    """List every registered kind (built-in, installed and from --plugin files) with its block's fields."""
    from simsplit.cli.catalog import fields
    from simsplit.cli.catalog import markdown as as_markdown
    from simsplit.core.registry import load_plugin
    from simsplit.model.kinds import FAMILIES
    if family is not None and family not in FAMILIES:
        fail(InputError("FAMILY", None, f"expected one of {', '.join(FAMILIES)}, got {family!r}"))
    for path in plugin or []:
        if not path.is_file():
            fail(InputError(path, None, "expected a Python file (not found)"))
        try:
            load_plugin(path)
        except Exception as exc:
            fail(InputError(path, None, f"{type(exc).__name__}: {exc}"))
    families = [family] if family is not None else list(FAMILIES)
    if markdown:
        print(as_markdown(families))
        return
    for name in families:
        table = Table(title=name)
        for column in ("kind", "description", "fields"):
            table.add_column(column)
        for kind in FAMILIES[name].kinds():
            table.add_row(kind.name, kind.summary, ", ".join(row[0] for row in fields(kind)))
        console.print(table)


@app.command("calibrate")
def calibrate_command(config: Annotated[Path, typer.Argument(help="Calibration YAML (scenario, measurements, "
                                                             "parameters; see docs/calibration.md).")],
                      out: Annotated[Path | None, typer.Option(
                          help="Result folder (default results/calibrate-<config name>).")] = None,
                      json_output: Annotated[bool, typer.Option(
                          "--json", metavar="", help="Print the fit as JSON.")] = False,
                      force: ForceOption = False) -> None:
    """Fit a scenario's device, server and codec parameters to measured latency and energy (weighted least
    squares, the simulator as the model); print each value with its 95% interval and every residual; write
    the calibrated scenario and tables."""
    import json

    from simsplit.output.outdir import check_output
    from simsplit.studies.calibration import Problem, fit
    from simsplit.studies.calibration.output import check_publish, publish, write_outputs
    try:
        problem = Problem(config)
        problem.check_feasible(force)
        paths = check_publish(problem)
        target = check_output(out or Path("results") / f"calibrate-{config.stem}", kind="calibration")
        if not json_output:
            err_console.print(f"fitting {len(problem.parameters.labels)} parameters to "
                              f"{len(problem.measurements)} measurements ...")
        from simsplit.cli.progress import progress
        from simsplit.studies.calibration.fit import EVALUATIONS_PER_PARAMETER
        expected = EVALUATIONS_PER_PARAMETER * (len(problem.parameters.labels) + 1)
        with progress(f"calibrate {config.stem}", expected, "model evaluations (an estimate)") as advance:
            problem.on_evaluation = lambda: advance(1)
            result = fit(problem)
        report = {}
        write_folder(target, lambda folder: report.update(write_outputs(result, problem, folder, target)),
                     kind="calibration")
        publish(result, paths)
    except InputError as exc:
        fail(exc)
    report["folder"] = str(target)
    report["published"] = {role: str(path) for role, path in paths.items()}
    if json_output:
        print(json.dumps(report, indent=2))
        return
    _print_calibration(report)


def _print_calibration(report: dict) -> None:
    from rich.markup import escape
    table = Table(title="Fitted parameters (95% intervals)")
    for column in ("parameter", "fitted", "95% interval", "unit", "initial"):
        table.add_column(column, justify="left" if column in ("parameter", "unit") else "right")
    for row in report["parameters"]:
        low, high = row["ci95_low"], row["ci95_high"]
        interval = "at bound" if row["at_bound"] else "-" if low is None else f"[{low:.4g}, {high:.4g}]"
        table.add_row(escape(row["parameter"]), f"{row['fitted']:.4g}", interval, row["unit"], f"{row['initial']:.4g}")
    console.print(table)
    table = Table(title=f"Residuals (chi-square {report['chi_square']:.4g} on {report['dof']} d.o.f., "
                  f"weighted by {report['weights']})")
    for column in ("group", "quantity", "measured", "fitted", "error"):
        table.add_column(column, justify="left" if column in ("group", "quantity") else "right")
    for row in report["residuals"]:
        table.add_row(row["group"], f"{row['quantity']} ({row['unit']})", f"{row['measured']:.4g}",
                      f"{row['fitted']:.4g}", f"{100 * row['relative_error']:+.2f}%")
    console.print(table)
    for warning in report["warnings"]:
        err_console.print(f"warning: {warning}")
    console.print(f"wrote {report['folder']}" + "".join(f"\nwrote {path}" for path in report["published"].values()))
