"""The files a scenario reads: every block lists its path fields in ``input_files``; paths are relative to
the scenario file until resolved."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from simsplit.core.config import Config

Block = TypeVar("Block", bound=Config)
Visit = Callable[[str, str], str | None]
"""``visit(role, path)``: the new path of the input file ``role``, or None to keep it."""


def _walk(block: Block, prefix: str, visit: Visit) -> Block:
    """``block`` with ``visit(role, path)`` applied to each of its (and its sub-blocks') input files;
    ``visit`` returns the new path, or None to keep it."""
    update = {}
    files = getattr(block, "input_files", ())
    for name in type(block).model_fields:
        value = getattr(block, name)
        role = f"{prefix}{name}"
        new = _new_paths(value, role, visit) if name in files else _new_blocks(value, role, visit)
        if new is not None:
            update[name] = new
    return block.model_copy(update=update) if update else block


def _new_paths(value: Any, role: str, visit: Visit) -> str | list[str] | None:
    """A file field's new value (a path or a list of paths), or None when ``visit`` keeps every path."""
    if isinstance(value, str):
        return visit(role, value)
    if isinstance(value, list):
        new = [visit(f"{role}.{k}", path) for k, path in enumerate(value)]
        if any(n is not None for n in new):
            return [n if n is not None else p for n, p in zip(new, value, strict=True)]
    return None


def _new_blocks(value: Any, role: str, visit: Visit) -> Config | list[Any] | None:
    """Another field's new value when it holds sub-blocks whose files changed, else None."""
    if isinstance(value, Config):
        new = _walk(value, f"{role}.", visit)
        return new if new is not value else None
    if isinstance(value, list) and any(isinstance(item, Config) for item in value):
        items = [_walk(item, f"{role}.{k}.", visit) if isinstance(item, Config) else item
                 for k, item in enumerate(value)]
        if any(a is not b for a, b in zip(items, value, strict=True)):
            return items
    return None


def input_files(scenario: Config) -> dict[str, str]:
    """Every file the scenario reads, by the dotted field naming it (``model.profile``,
    ``network.uplink.file``, ``devices.2.strategy.trace``, ``plugins.0``)."""
    files: dict[str, str] = {}

    def note(role: str, path: str) -> None:
        files[role] = path
    _walk(scenario, "", note)
    return files


def with_files(scenario: Block, new_path: Visit) -> Block:
    """A copy of ``scenario`` with each input file's path replaced by ``new_path(role, path)`` (None: kept)."""
    return _walk(scenario, "", new_path)


def resolve_paths(scenario: Block, base_dir: Path) -> Block:
    """``scenario`` with every input file's path absolute, relative to ``base_dir``."""
    return with_files(scenario, lambda role, path: str((base_dir / path).resolve()))
