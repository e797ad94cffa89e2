"""``simsplit examples``: the built-in scenarios, listed with their descriptions, or copied (with the traces
they read) into a folder of the user's to edit."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from simsplit.cli.app import app, console, fail
from simsplit.core.errors import InputError


@app.command("examples")
def examples_command(copy: Annotated[Path | None, typer.Option(
        "--copy", help="Copy the built-in scenarios/ and traces/ into this new (or empty) folder.")] = None) -> None:
    """List the built-in scenarios (run any by name: simsplit run default), or copy them to edit."""
    from simsplit.scenario.builtin import builtin_names, copy_examples, data_folder, summary_line
    if copy is None:
        folder = data_folder("scenarios")
        width = max(len(name) for name in builtin_names())
        for name in builtin_names():
            console.print(f"{name:<{width}}  {summary_line(folder / f'{name}.yaml')}", markup=False,
                          highlight=False)
        console.print(f"\n(in {folder}; simsplit run NAME runs one, simsplit examples --copy DIR copies them)",
                      markup=False, highlight=False)
        return
    if copy.exists() and (not copy.is_dir() or any(copy.iterdir())):
        fail(InputError("--copy", None, f"expected a new or empty folder, got {copy} (it holds files)"))
    try:
        copied = copy_examples(copy)
    except OSError as exc:
        fail(InputError("--copy", None, f"cannot write {exc.filename or copy}: {exc.strerror}"))
    console.print(f"copied {', '.join(str(path) for path in copied)}; try: simsplit run {copied[0]}/default.yaml",
                  markup=False, highlight=False)
