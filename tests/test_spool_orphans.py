"""Spool folders a killed run left behind are removed by the next run: only folders named as simsplit names
them, holding only the spool file, whose run's process is gone; never anything else."""

from __future__ import annotations

import os
import subprocess
import sys

from simsplit.output.spool import SPOOL_PREFIX, remove_orphans


def test_only_the_spool_folders_of_dead_runs_are_removed(tmp_path):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(gone.stdout)
    folders = {
        "dead": tmp_path / f"{SPOOL_PREFIX}{dead}-abc123",
        "dead-empty": tmp_path / f"{SPOOL_PREFIX}{dead}-x_9",
        "alive": tmp_path / f"{SPOOL_PREFIX}{os.getpid()}-abc123",
        "with-user-file": tmp_path / f"{SPOOL_PREFIX}{dead}-def456",
        "other-name": tmp_path / f"{SPOOL_PREFIX}notes",
    }
    for name, folder in folders.items():
        folder.mkdir()
        if name != "dead-empty":
            (folder / "requests.parquet").write_bytes(b"PAR1")
    (folders["with-user-file"] / "thesis.tex").write_text("keep me")
    a_file = tmp_path / f"{SPOOL_PREFIX}{dead}-file"
    a_file.write_text("not a folder")
    removed = remove_orphans(tmp_path)
    assert sorted(removed) == sorted([folders["dead"], folders["dead-empty"]])
    assert not folders["dead"].exists() and not folders["dead-empty"].exists()
    for name in ("alive", "with-user-file", "other-name"):
        assert folders[name].is_dir(), name
    assert (folders["with-user-file"] / "thesis.tex").read_text() == "keep me"
    assert a_file.read_text() == "not a folder"


def test_a_run_clears_what_a_killed_run_left(tmp_path, monkeypatch):
    import tempfile

    from conftest import REPO

    from simsplit.scenario import load_scenario
    from simsplit.studies.simulation import simulate
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    left = tmp_path / f"{SPOOL_PREFIX}{int(gone.stdout)}-k1ll3d"
    left.mkdir()
    (left / "requests.parquet").write_bytes(b"PAR1" * 1000)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    scenario = load_scenario(REPO / "scenarios" / "default.yaml", ["duration_s=15"])
    result = simulate(scenario, stream=True)
    assert len(result.requests) > 0
    assert not left.exists()
