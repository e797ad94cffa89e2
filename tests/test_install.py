"""A non-editable install carries the built-in scenarios and traces: from another folder, ``simsplit run
default`` runs, ``simsplit examples`` lists them and ``--copy`` gives files that run; the wheel has its licence
and type information."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile

import pytest
from conftest import REPO


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The project built as a wheel and unpacked into a folder of its own (its dependencies are this
    environment's)."""
    root = tmp_path_factory.mktemp("install")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w",
                            str(root / "wheel"), str(REPO)], capture_output=True, text=True)
    if built.returncode != 0:
        pytest.skip(f"cannot build the wheel here: {built.stderr.strip().splitlines()[-1:]}")
    # setuptools warns of a shipped folder it was not told of as a package: it "would be ignored" (left out of the
    # wheel) by a later setuptools
    assert "would be ignored" not in built.stdout + built.stderr, built.stderr
    wheel = next((root / "wheel").glob("simsplit-*.whl"))
    target = root / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(target)
        names = archive.namelist()
    return target, names


def _cli(target, cwd, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(target)}
    return subprocess.run([sys.executable, "-m", "simsplit.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env)


def test_the_wheel_carries_scenarios_traces_licence_and_types(installed):
    """Every scenario, profile, payload table, trace and note of the checkout's scenarios/ and traces/ (their
    subfolders too), the report's template and the type marker are in the wheel."""
    _, names = installed
    wanted = {"simsplit/py.typed", "simsplit/figures/templates/report.html.j2"}
    for folder, suffixes in (("scenarios", (".yaml", ".csv", ".md")), ("traces", (".csv", ".md"))):
        wanted |= {f"simsplit/data/{folder}/{path.relative_to(REPO / folder).as_posix()}"
                   for path in (REPO / folder).rglob("*") if path.suffix in suffixes}
    assert "simsplit/data/scenarios/profiles/resnet50-bottlenet.csv" in wanted
    assert wanted <= set(names), sorted(wanted - set(names))
    assert any(name.endswith("licenses/LICENSE") for name in names)


def test_run_default_from_another_folder(installed, tmp_path):
    target, _ = installed
    done = _cli(target, tmp_path, "run", "default", "--set", "duration_s=15")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "results" / "default" / "summary.json").is_file()
    reported = _cli(target, tmp_path, "report", tmp_path / "results" / "default")  # its page template travels too
    assert reported.returncode == 0 and "<h2 id='section-1'>" in (tmp_path / "results" / "default" / "report.html"
                                                                  ).read_text(), reported.stderr
    check = subprocess.run([sys.executable, "-c", "import simsplit; print(simsplit.__file__)"], capture_output=True,
                           text=True, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(target)})
    assert check.stdout.startswith(str(target)), check.stdout  # the unpacked wheel, not the checkout


def test_examples_lists_and_copies_files_that_run(installed, tmp_path):
    target, _ = installed
    listed = _cli(target, tmp_path, "examples")
    assert listed.returncode == 0 and "default" in listed.stdout and "trace-driven-lte" in listed.stdout
    copied = _cli(target, tmp_path, "examples", "--copy", tmp_path / "mine")
    assert copied.returncode == 0, copied.stderr
    assert (tmp_path / "mine" / "traces" / "lte-uplink-markov.csv").is_file()
    done = _cli(target, tmp_path, "run", tmp_path / "mine" / "scenarios" / "trace-driven-lte.yaml",
                "--set", "duration_s=10", "--out", tmp_path / "out")
    assert done.returncode == 0, done.stderr
    again = _cli(target, tmp_path, "examples", "--copy", tmp_path / "mine")
    assert again.returncode == 2 and "expected a new or empty folder" in again.stderr


@pytest.mark.slow
def test_the_tutorial_runs_from_another_folder_on_the_installed_wheel(installed, tmp_path):
    """docs/tutorial.md's commands and its Python block, run in an empty folder against the unpacked wheel (not
    the checkout): a new user's first hour works after a non-editable install."""
    from test_docs import _commands, blocks
    target, _ = installed
    shim = tmp_path / "bin" / "simsplit"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nexec {sys.executable} -m simsplit.cli "$@"\n')
    shim.chmod(0o755)
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target), "PATH": os.pathsep.join([str(shim.parent), os.environ["PATH"]])}
    tutorial = blocks(REPO / "docs" / "tutorial.md")
    for command in [c for lang, _, body in tutorial if lang == "bash" for c in _commands(body)]:
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", command], cwd=work, env=env, capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, f"{command}\n{done.stderr[-2000:]}"
    for code in [body for lang, _, body in tutorial if lang == "python"]:
        done = subprocess.run([sys.executable, "-c", code], cwd=work, env=env, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
    assert (work / "results" / "first-compare" / "report.html").is_file()
    assert (work / "results" / "first-compare" / "figures" / "paper" / "pareto-energy-latency.pdf").is_file()
