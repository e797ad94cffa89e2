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
from simsplit.scenario.files import input_files, with_files


def sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes, read afresh on every call (1 MiB at a time; nothing is cached)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def input_hashes(scenario: Scenario) -> dict[str, str]:
    """SHA-256 of every input file, by role."""
    return {role: sha256(path) for role, path in input_files(scenario).items()}


@functools.lru_cache(maxsize=1)
def code_version() -> dict:
    """simsplit's version, and the git commit of its source tree (with whether it has local changes)."""
    from simsplit.core.version import __version__
    version: dict[str, str | bool | None] = {"simsplit_version": __version__, "git_commit": None, "git_dirty": None}
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


def run_key(scenario: Scenario) -> str:
    """SHA-256 of the resolved scenario with each file path replaced by its content's hash: equal keys mean
    the same run, wherever the files lie."""
    hashes = input_hashes(scenario)
    data = with_files(scenario, lambda role, path: f"sha256:{hashes[role]}").model_dump(mode="json")
    from simsplit.core.version import __version__
    text = json.dumps({"scenario": data, "simsplit_version": __version__}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def portable_copy(scenario: Scenario, folder: Path) -> Scenario:
    """Copy every input file into ``folder`` (profile.csv, payloads.csv, traces/, plugins/) and return the
    scenario pointing at the copies by relative paths."""
    names: dict[str, str] = {}

    def copy(role: str, path: str) -> str:
        if path in names:
            return names[path]
        if role in ("model.profile", "model.payloads"):
            relative = f"{role.split('.')[1]}.csv"
        else:
            base, kind = Path(path).name, "plugins" if role.startswith("plugins.") else "traces"
            relative, k, taken = f"{kind}/{base}", 2, set(names.values())
            while relative in taken:
                relative = f"{kind}/{k}-{base}"
                k += 1
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, folder / relative)
        names[path] = relative
        return relative
    return with_files(scenario, copy)
