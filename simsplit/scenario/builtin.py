"""The built-in scenarios, by name: the checkout's ``scenarios/`` folder, which an installed wheel carries as
``simsplit/data/scenarios`` (with ``traces/`` beside it), so that ``simsplit run default`` works from any
folder and ``simsplit examples --copy DIR`` gives a user the files to edit.
"""

from __future__ import annotations

import shutil
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]
"""The installed ``simsplit`` package folder."""


def data_folder(name: str) -> Path:
    """``scenarios`` or ``traces``: inside the installed package, else (a checkout) beside the package."""
    installed = PACKAGE / "data" / name
    return installed if installed.is_dir() else PACKAGE.parent / name


def builtin_names() -> list[str]:
    """The built-in scenarios' names (their files' stems), sorted."""
    return sorted(path.stem for path in data_folder("scenarios").glob("*.yaml"))


def resolve(file: str | Path) -> Path:
    """``file`` itself if it exists or names a path; a bare built-in name (``default``) as its file."""
    path = Path(file)
    if path.exists() or len(path.parts) != 1 or path.suffix:
        return path
    builtin = data_folder("scenarios") / f"{path.name}.yaml"
    return builtin if builtin.is_file() else path


def summary_line(path: Path) -> str:
    """The first comment line of a scenario file (its description), without the ``#``."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            return line.lstrip("#").strip()
        if line.strip():
            break
    return ""


def copy_examples(target: Path) -> list[Path]:
    """Copy the built-in ``scenarios/`` and ``traces/`` folders into ``target`` (new, or an empty folder), as
    they stand relative to each other (the scenarios name ``../traces/...``); return the two folders."""
    copied = []
    target.mkdir(parents=True, exist_ok=True)
    for name in ("scenarios", "traces"):
        copied.append(Path(shutil.copytree(data_folder(name), target / name,
                                           ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "__init__.py"))))
    return copied
