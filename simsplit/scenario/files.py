"""The files a scenario reads: every block lists its path fields in ``input_files``; paths are relative to
the scenario file until resolved."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from simsplit.core.config import Config


def _walk(block: Config, prefix: str, visit: Callable[[str, str], str | None]) -> Config:
    """``block`` with ``visit(role, path)`` applied to each of its (and its sub-blocks') input files;
    ``visit`` returns the new path, or None to keep it."""
    update = {}
    for name in type(block).model_fields:
        value = getattr(block, name)
        role = f"{prefix}{name}"
        if name in getattr(block, "input_files", ()):
            if isinstance(value, str):
                new = visit(role, value)
                if new is not None:
                    update[name] = new
            elif isinstance(value, list):
                new = [visit(f"{role}.{k}", path) for k, path in enumerate(value)]
                if any(n is not None for n in new):
                    update[name] = [n if n is not None else p for n, p in zip(new, value)]
        elif isinstance(value, Config):
            new = _walk(value, f"{role}.", visit)
            if new is not value:
                update[name] = new
        elif isinstance(value, list) and any(isinstance(item, Config) for item in value):
            items = [_walk(item, f"{role}.{k}.", visit) if isinstance(item, Config) else item
                     for k, item in enumerate(value)]
            if any(a is not b for a, b in zip(items, value)):
                update[name] = items
    return block.model_copy(update=update) if update else block


def input_files(scenario: Config) -> dict[str, str]:
    """Every file the scenario reads, by the dotted field naming it (``model.profile``,
    ``network.uplink.file``, ``devices.2.strategy.trace``, ``plugins.0``)."""
    files: dict[str, str] = {}

    def note(role: str, path: str) -> None:
        files[role] = path
    _walk(scenario, "", note)
    return files


def with_files(scenario: Config, new_path: Callable[[str, str], str | None]) -> Config:
    """A copy of ``scenario`` with each input file's path replaced by ``new_path(role, path)`` (None: kept)."""
    return _walk(scenario, "", new_path)


def resolve_paths(scenario: Config, base_dir: Path) -> Config:
    """``scenario`` with every input file's path absolute, relative to ``base_dir``."""
    return with_files(scenario, lambda role, path: str((base_dir / path).resolve()))
