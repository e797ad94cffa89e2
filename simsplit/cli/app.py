"""The command-line application: the typer app, its consoles, and the checks every command shares."""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from simsplit.core.errors import InputError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  context_settings={"help_option_names": ["-h", "--help"]},
                  help="simsplit: simulate split-inference offloading.")
console = Console(width=max(shutil.get_terminal_size((120, 24)).columns, 120), soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

ForceOption = Annotated[bool, typer.Option(
    "--force", metavar="", help="Run even if the estimated work or memory exceeds what this machine can do.")]
JsonOption = Annotated[bool, typer.Option(
    "--json", metavar="", help="Print the result as JSON on stdout instead of tables.")]
SetOption = Annotated[list[str] | None, typer.Option(
    "--set", metavar="PATH=VALUE",
    help="Override a scenario field: dotted.path=value (repeatable), e.g. network.uplink.rate_mbps=10.")]


def fail(exc: InputError) -> NoReturn:
    """Print ``error: <exc>`` on one line of stderr and exit with status 2."""
    err_console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def positive(value: float | None, option: str) -> None:
    """Exit 2 unless ``value`` is None or a finite number > 0."""
    if value is not None and not (math.isfinite(value) and value > 0):
        fail(InputError(option, None, f"expected a finite number > 0, got {value:g}"))


def refuse_existing(target: Path | None, overwrite: bool) -> None:
    """Exit 2 if ``target`` exists, unless it is a file and ``overwrite`` allows replacing it."""
    if target is not None and target.exists() and not (overwrite and target.is_file()):
        fail(InputError(target, None, "exists already; pass --overwrite to replace a file"))


def _version(value: bool) -> None:
    if value:
        from simsplit.core.version import __version__
        console.print(f"simsplit {__version__}")
        raise typer.Exit(0)


@app.callback()
def _main(version: Annotated[bool, typer.Option("--version", metavar="", callback=_version, is_eager=True,
                                                help="Print the version and exit.")] = False) -> None:
    """simsplit: simulate split-inference offloading."""
    from simsplit.core.registry import ANNOUNCE_PLUGIN
    if _notice not in ANNOUNCE_PLUGIN:
        ANNOUNCE_PLUGIN.append(_notice)


def _notice(path: Path) -> None:
    """One line on stderr before a scenario's plugin runs: it is Python code, run with the user's permissions."""
    err_console.print(f"simsplit: running plugin {path} (Python code named by the scenario's plugins)",
                      markup=False, highlight=False, soft_wrap=True)
