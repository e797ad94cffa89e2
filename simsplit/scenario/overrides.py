"""``--set dotted.path=value`` overrides of a scenario's parsed YAML."""

from __future__ import annotations

from typing import Any

from simsplit.core.errors import InputError
from simsplit.core.yamlio import YamlProblem, load_yaml


def _unshared_copy(value: Any) -> Any:
    """A deep copy in which YAML aliases (``*anchor``, ``<<: *anchor``) become independent nodes,
    so that overriding one field never changes the others that shared its anchor."""
    if isinstance(value, dict):
        return {k: _unshared_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unshared_copy(v) for v in value]
    return value


def apply_overrides(data: dict, overrides: list[str], source: str = "--set") -> dict:
    """A copy of ``data`` with each ``dotted.path=value`` applied; values are parsed as YAML scalars.

    List items are addressed by index (``devices.0.count=4``). A new key may be
    added to a mapping (validation then rejects it if the schema lacks it).
    """
    data = _unshared_copy(data)
    for item in overrides:
        if "=" not in item:
            raise InputError(source, item, "expected dotted.path=value")
        path, text = item.split("=", 1)
        keys = path.strip().split(".")
        try:
            value = load_yaml(text)
        except YamlProblem:
            value = text
        node = data
        for depth, key in enumerate(keys):
            last = depth == len(keys) - 1
            where = ".".join(keys[: depth + 1])
            if isinstance(node, list):
                if not key.isdigit() or int(key) >= len(node):
                    raise InputError(source, where, f"expected a list index below {len(node)}, got {key!r}")
                key = int(key)
            elif isinstance(node, dict):
                if not last and key not in node:
                    node[key] = {}
            else:
                raise InputError(source, where, f"expected a mapping or list to set into, got {node!r}")
            if last:
                node[key] = value
            else:
                node = node[key]
    return data
