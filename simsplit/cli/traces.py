"""``simsplit traces show | convert``: inspecting and converting bandwidth traces."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from simsplit.cli.app import (
    app,
    console,
    fail,
    positive,
    refuse_existing,
)
from simsplit.core.errors import InputError

traces_app = typer.Typer(no_args_is_help=True, help="Inspect and convert bandwidth traces.")
app.add_typer(traces_app, name="traces")
FormatOption = Annotated[str, typer.Option("--format", "-f", help="mahimahi | pensieve | csv | gnettrack | mecperf")]


def _read(file: Path, fmt: str, window_ms: float | None, direction: str | None):
    """The trace, or exit 2 with the reader's one-line error."""
    from simsplit.model.channel.traces import FORMATS, read_trace
    positive(window_ms, "--window-ms")
    if direction is not None and direction not in ("down", "up"):
        fail(InputError("--direction", None, f"expected down or up, got {direction!r}"))
    if fmt not in FORMATS:
        fail(InputError("--format", None, f"expected one of {', '.join(FORMATS)}, got {fmt!r}"))
    if window_ms is not None and fmt != "mahimahi":
        fail(InputError("--window-ms", None, f"only a mahimahi trace takes --window-ms, got format {fmt}"))
    if direction is not None and fmt != "gnettrack":
        fail(InputError("--direction", None, f"only a gnettrack trace takes --direction, got format {fmt}"))
    options: dict[str, float | str] = {}
    if window_ms is not None:
        options["window_ms"] = window_ms
    if direction is not None:
        options["direction"] = direction
    try:
        return read_trace(file, fmt, **options)
    except InputError as exc:
        fail(exc)


@traces_app.command("show")
def traces_show(file: Annotated[Path, typer.Argument(help="Trace file.")], fmt: FormatOption,
                plot: Annotated[Path | None, typer.Option(help="Also draw the trace into this PNG/SVG.")] = None,
                window_ms: Annotated[float | None, typer.Option(help="Mahimahi bin width (ms).")] = None,
                direction: Annotated[str | None, typer.Option(help="gnettrack: down or up.")] = None) -> None:
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
        from simsplit.figures.input_figures import plot_trace
        plot_trace(trace, plot, title=f"{file.name} ({fmt})")
        console.print(f"wrote {plot}")


@traces_app.command("convert")
def traces_convert(file: Annotated[Path, typer.Argument(help="Trace file to read.")],
                   out: Annotated[Path, typer.Argument(help="File to write.")], fmt: FormatOption,
                   to: Annotated[str, typer.Option(help="csv | pensieve | mahimahi")] = "csv",
                   window_ms: Annotated[float | None, typer.Option(help="Mahimahi bin width (ms).")] = None,
                   direction: Annotated[str | None, typer.Option(help="gnettrack: down or up.")] = None,
                   overwrite: Annotated[bool, typer.Option(
                       "--overwrite", "--force", metavar="", help="Replace OUT if it exists.")] = False) -> None:
    """Write a trace in another format (same step function)."""
    from simsplit.model.channel.traces import write_trace
    if to not in ("csv", "pensieve", "mahimahi"):
        fail(InputError("--to", None, f"expected csv, pensieve or mahimahi, got {to!r}"))
    refuse_existing(out, overwrite)
    trace = _read(file, fmt, window_ms, direction)
    try:
        write_trace(trace, out, to)
    except InputError as exc:
        fail(exc)
    except OSError as exc:
        fail(InputError(out, None, f"cannot write: {exc.strerror}"))
    console.print(f"wrote {out} ({to})")
