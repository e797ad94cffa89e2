"""Reading a scenario: YAML, plugins, ``--set`` overrides, validation, paths made absolute."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from simsplit.core.errors import InputError, read_input
from simsplit.core.registry import load_plugin
from simsplit.core.yamlio import YamlProblem, load_yaml
from simsplit.scenario.files import resolve_paths
from simsplit.scenario.messages import input_error
from simsplit.scenario.overrides import apply_overrides
from simsplit.scenario.schema import Scenario

EXTENSION_PREFIX = "x-"
"""Top-level keys with this prefix are ignored: a place for YAML anchors shared by several fields."""


def read_yaml(path: Path) -> Any:
    """Parsed YAML of ``path`` (:func:`simsplit.core.yamlio.load_yaml`: duplicate keys, base-60 numbers and alias
    bombs refused); InputError for a missing file or bad YAML, with its line and column."""
    text = read_input(path)
    try:
        return load_yaml(text)
    except YamlProblem as exc:
        raise InputError(path, exc.where, str(exc)) from None


def load_plugins(data: dict, source: str, base_dir: Path | None, run: bool = True) -> None:
    """Import the Python files the scenario's ``plugins`` list names (relative to ``base_dir``); with ``run`` False
    refuse a scenario that names any (reading a result folder never runs code)."""
    plugins = data.get("plugins", [])
    if not isinstance(plugins, list) or not all(isinstance(p, str) and p for p in plugins):
        raise InputError(source, "plugins", f"expected a list of Python file paths, got {plugins!r}")
    if plugins and not run:
        raise InputError(source, "plugins", f"names Python plugins ({', '.join(plugins)}), whose code is not run "
                         "here")
    for k, name in enumerate(plugins):
        path = (base_dir or Path.cwd()) / name
        if not path.is_file():
            raise InputError(source, f"plugins.{k}", f"expected a Python file, got {name!r} (not found)")
        try:
            load_plugin(path)
        except (Exception, SystemExit) as exc:  # a plugin that exits at import must not end the run as done
            raise InputError(source, f"plugins.{k}", f"{type(exc).__name__} loading {name}: {exc}") from None


def validate_scenario(data: Any, source: str = "<scenario>", base_dir: Path | None = None,
                      run_plugins: bool = True) -> Scenario:
    """Validate parsed scenario data; raise InputError naming ``source`` and the field path.

    Plugins are loaded first (refused with ``run_plugins`` False); relative file
    paths (model tables, traces, plugins) are resolved against ``base_dir`` (the scenario file's folder).
    """
    if not isinstance(data, dict):
        raise InputError(source, None, f"expected a mapping of scenario fields, got {type(data).__name__}")
    data = {k: v for k, v in data.items() if not (isinstance(k, str) and k.startswith(EXTENSION_PREFIX))}
    load_plugins(data, source, base_dir, run_plugins)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise input_error(exc, Scenario, data, source) from None
    if base_dir is not None:
        scenario = resolve_paths(scenario, base_dir)
    scenario._source = source
    return scenario


def load_scenario(path: str | Path, overrides: list[str] | tuple[str, ...] = (), seed: int | None = None,
                  run_plugins: bool = True) -> Scenario:
    """Read, override and validate the scenario file at ``path``, or the built-in scenario of that name
    (``default``; :mod:`simsplit.scenario.builtin`); its plugins as :func:`validate_scenario`."""
    from simsplit.scenario.builtin import builtin_names, resolve
    path = resolve(path)
    if not path.exists() and len(path.parts) == 1 and not path.suffix:
        raise InputError(path, None, f"file not found, nor a built-in scenario (those: {', '.join(builtin_names())};"
                         " simsplit examples lists them)")
    data = read_yaml(path)
    if overrides:
        if not isinstance(data, dict):
            raise InputError(path, None, "expected a mapping of scenario fields")
        data = apply_overrides(data, list(overrides))
    if seed is not None and isinstance(data, dict):
        data = {**data, "seed": seed}
    return validate_scenario(data, source=str(path), base_dir=path.parent, run_plugins=run_plugins)


def to_yaml(scenario: Scenario) -> str:
    """The scenario as YAML, every default filled in (the resolved scenario)."""
    return yaml.safe_dump(scenario.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
