"""Where a result came from: the simsplit version and git commit, and the SHA-256 of every input file.

:func:`input_files` lists each file a scenario reads by the field that names it (``model.profile``,
``network.uplink.file``, ``devices.2.strategy.trace``, ...). The same roles and hashes key a sweep's
runs, so editing any input reruns what depends on it, and :func:`portable_copy` copies the files into a
result folder so that the folder reruns anywhere.
"""

from __future__ import annotations

import functools
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

from simsplit.scenario import Scenario


def input_files(scenario: Scenario) -> dict[str, str]:
    """Every file the scenario reads, by the dotted field naming it (paths as resolved in the scenario)."""
    files = {"model.profile": scenario.model.profile, "model.payloads": scenario.model.payloads}

    def network(prefix: str, net) -> None:
        for direction in ("uplink", "downlink"):
            link = getattr(net, direction)
            if link.kind == "trace":
                files[f"{prefix}{direction}.file"] = link.file

    def strategy(prefix: str, config) -> None:
        if config is not None and config.kind == "edgent" and config.trace is not None:
            files[f"{prefix}trace"] = config.trace

    network("network.", scenario.network)
    strategy("strategy.", scenario.strategy)
    for g, group in enumerate(scenario.devices):
        if group.network is not None:
            network(f"devices.{g}.network.", group.network)
        strategy(f"devices.{g}.strategy.", group.strategy)
    return files


@functools.lru_cache(maxsize=256)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes (cached per path, size and modification time)."""
    stat = Path(path).stat()
    return _file_sha256(str(path), stat.st_size, stat.st_mtime_ns)


def input_hashes(scenario: Scenario) -> dict[str, str]:
    """SHA-256 of every input file, by role."""
    return {role: sha256(path) for role, path in input_files(scenario).items()}


@functools.lru_cache(maxsize=1)
def code_version() -> dict:
    """simsplit's version, and the git commit of its source tree (with whether it has local changes)."""
    from simsplit import __version__
    version = {"simsplit_version": __version__, "git_commit": None, "git_dirty": None}
    source = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "-C", str(source), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=5)
        if commit.returncode == 0:
            status = subprocess.run(["git", "-C", str(source), "status", "--porcelain", "--untracked-files=no",
                                     "--", "."], capture_output=True, text=True, timeout=5)
            version["git_commit"] = commit.stdout.strip()
            version["git_dirty"] = bool(status.stdout.strip()) if status.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        pass
    return version


def provenance(scenario: Scenario) -> dict:
    """The block written into summary.json."""
    return {**code_version(), "inputs_sha256": input_hashes(scenario)}


def _set_role(data: dict, role: str, value: str) -> None:
    """Set the field named by ``role`` (``network.uplink.file``, ``devices.2.strategy.trace``) in ``data``."""
    first, *keys = role.split(".")
    target = data[first]
    for key in keys[:-1]:
        target = target[int(key)] if isinstance(target, list) else target[key]
    target[keys[-1]] = value


def run_key(scenario: Scenario) -> str:
    """SHA-256 of the resolved scenario with each file path replaced by its content's hash: equal keys mean
    the same run, wherever the files lie."""
    data = scenario.model_dump(mode="json")
    for role, digest in input_hashes(scenario).items():
        _set_role(data, role, f"sha256:{digest}")
    from simsplit import __version__
    text = json.dumps({"scenario": data, "simsplit_version": __version__}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def portable_copy(scenario: Scenario, folder: Path) -> Scenario:
    """Copy every input file into ``folder`` (profile.csv, payloads.csv, traces/) and return the scenario
    pointing at the copies by relative paths."""
    files = input_files(scenario)
    data = scenario.model_dump(mode="json")
    names: dict[str, str] = {}
    for role, path in files.items():
        if role == "model.profile":
            relative = "profile.csv"
        elif role == "model.payloads":
            relative = "payloads.csv"
        elif path in names:
            relative = names[path]
        else:
            base = Path(path).name
            relative = f"traces/{base}"
            taken = set(names.values())
            k = 2
            while relative in taken:
                relative = f"traces/{k}-{base}"
                k += 1
        if path not in names:
            (folder / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, folder / relative)
            names[path] = relative
        _set_role(data, role, relative)
    return Scenario.model_validate(data)
