"""Command line: ``simsplit run | validate | compare | sweep | plot | report | profile | train-bottleneck |
kinds | traces``. Parses arguments, checks them, and calls the library; nothing more.

Every usage or input error prints one line (``error: ...``) and exits with status 2; Ctrl-C exits 130.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys

import typer

from simsplit.cli import drawing, examples, experiments, tools, traces  # noqa: F401  (they add their commands to the app)
from simsplit.cli.app import app, console, err_console

__all__ = ["app", "console", "entry_point", "main"]


def main(argv: list[str] | None = None) -> int:
    """Run the command line on ``argv`` (default: sys.argv); usage errors become one line and status 2."""
    try:  # typer >= 0.20 carries its own copy of click
        from typer._click.exceptions import UsageError
    except ImportError:  # pragma: no cover
        # older typer uses click itself: a different class of the same name, which the checker cannot equate
        from click import UsageError  # type: ignore[assignment]
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
    """The ``simsplit`` console script. Once the command is done (its files closed, its pools shut), the exit
    handlers run and the streams are flushed, then the process ends without tearing down the interpreter:
    pyarrow's native thread pools can abort a finished run at that teardown ("terminate called without an
    active exception", status -6), which would turn a good run into a failed one."""
    code = main()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed or broken pipe: nothing more can reach it
            stream.flush()
    os._exit(code)
