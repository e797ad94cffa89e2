"""``simsplit plot | report``: the figures and the HTML page of a result folder simsplit wrote, drawn only after
every file they read has been checked (:mod:`simsplit.figures.folder_check`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from simsplit.cli.app import app, console, fail
from simsplit.core.errors import InputError


def _result_folder(folder: Path) -> str:
    """The kind of a result folder (run, sweep, compare), or exit 2."""
    from simsplit.figures.folder_figures import folder_kind
    kind = folder_kind(folder)
    if kind is None:
        fail(InputError(folder, None, "expected a run folder (summary.json), a sweep folder (table.parquet), a "
                        "compare folder (compare.csv) or a sites folder (sites.csv)"))
    from simsplit.output.outdir import MARKER, is_ours
    if not is_ours(folder):
        fail(InputError(folder, None, f"expected a folder simsplit wrote (a {MARKER} marker of its own inside): "
                        "plot and report write figures/ and report.html only into those"))
    from simsplit.figures.folder_check import check_folder
    try:
        check_folder(folder, kind)
    except InputError as exc:
        fail(exc)
    return kind


def _drawn(folder: Path, draw: Callable[[], Any]) -> Any:
    """``draw()`` of a checked result folder; a failure to write (a read-only folder, a full disk) or a damage
    the check did not see is one line naming the file or the folder, exit 2."""
    try:
        return draw()
    except OSError as exc:
        fail(InputError(exc.filename or folder, None, f"cannot write the figures or the report: "
                        f"{exc.strerror or type(exc).__name__}"))
    except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        fail(InputError(folder, None, f"cannot draw it ({type(exc).__name__}: {str(exc)[:200]}): a damaged "
                        "folder, or one written by another version; rerun what wrote it"))


@app.command("plot")
def plot_command(folder: Annotated[Path, typer.Argument(help="A run, sweep or compare folder.")],
                 style: Annotated[str, typer.Option(
                     help="paper: 3.5/7.16-inch columns, 8 pt, PDF and PNG at 300 dpi; screen: larger, PNG and SVG.")
                 ] = "screen",
                 format_: Annotated[str | None, typer.Option(
                     "--format", help="Formats to write instead of the style's, comma-separated: pdf,svg,png.")] = None
                 ) -> None:
    """Draw the figures of a run, sweep or compare folder into its figures/, named by what they show."""
    from simsplit.figures.folder_figures import draw
    from simsplit.figures.style import parse_formats, style_named
    kind = _result_folder(folder)
    try:
        chosen = style_named(style)
    except ValueError as exc:
        fail(InputError("--style", None, str(exc)))
    try:
        formats = parse_formats(format_)
    except ValueError as exc:
        fail(InputError("--format", None, str(exc)))
    written = _drawn(folder, lambda: draw(folder, None, chosen, formats))
    where = written[0].parent if written else folder / "figures"
    console.print(f"wrote {len(written)} files ({kind}, {style} style) into {where}/")


@app.command("report")
def report_command(folder: Annotated[Path, typer.Argument(help="A run, sweep or compare folder.")]) -> None:
    """Write one self-contained HTML page (tables and figures) for a run, sweep or compare folder."""
    from simsplit.figures.report import write_report
    _result_folder(folder)
    console.print(f"wrote {_drawn(folder, lambda: write_report(folder))}")
