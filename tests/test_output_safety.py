"""Never lose user data: --out replaces only what simsplit wrote, is locked while written, checked before
work starts; result folders carry provenance and rerun anywhere; sweeps rerun what an edit changes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO
from test_sweep import small_sweep

from simsplit.cli import main
from simsplit.output.outdir import MARKER, claim
from simsplit.studies.sweep import load_sweep, run_sweep

DEFAULT = str(REPO / "scenarios" / "default.yaml")
SHORT = ["--set", "duration_s=15"]


def run_cli(capsys, *args) -> tuple[int, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.err


@pytest.mark.parametrize("make", ["file", "foreign-folder", "empty-folder", "link"])
def test_out_refuses_what_simsplit_did_not_write(tmp_path, capsys, make):
    target = tmp_path / "target"
    if make == "file":
        target.write_text("my notes")
    elif make == "foreign-folder":
        target.mkdir()
        (target / "notes.txt").write_text("keep me")
    elif make == "empty-folder":
        target.mkdir()
    else:
        (tmp_path / "elsewhere").mkdir()
        target.symlink_to(tmp_path / "elsewhere")
    before = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    code, err = run_cli(capsys, "run", DEFAULT, "--out", str(target), *SHORT)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--out" in err
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == before
    if make == "foreign-folder":
        assert (target / "notes.txt").read_text() == "keep me"


@pytest.mark.parametrize("where", [".", "..", "/"])
def test_out_refuses_the_working_folder_and_above(tmp_path, capsys, monkeypatch, where):
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    code, err = run_cli(capsys, "run", DEFAULT, "--out", where, *SHORT)
    assert code == 2 and "expected a folder of its own" in err
    assert list(work.iterdir()) == []


def test_out_replaces_its_own_folder_and_checks_writability_first(tmp_path, capsys):
    out = tmp_path / "r"
    assert run_cli(capsys, "run", DEFAULT, "--out", str(out), *SHORT)[0] == 0
    assert json.loads((out / MARKER).read_text())["written_by"] == "simsplit"
    assert run_cli(capsys, "run", DEFAULT, "--out", str(out), "--set", "duration_s=16")[0] == 0
    assert json.loads((out / "summary.json").read_text())["duration_s"] == 16
    a_file = tmp_path / "plain-file"
    a_file.write_text("x")
    code, err = run_cli(capsys, "run", DEFAULT, "--out", str(a_file / "sub"), *SHORT)
    assert code == 2 and "writable" in err and a_file.read_text() == "x"
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as a user who can write anywhere (root)")
        code, err = run_cli(capsys, "run", DEFAULT, "--out", str(locked / "x"), *SHORT)
        assert code == 2 and "writable" in err
    finally:
        locked.chmod(0o700)


def test_two_writers_of_one_folder_are_refused(tmp_path):
    out = tmp_path / "busy"
    with claim(out), claim(out) as again:  # re-entrant within one process (a command's write inside its claim)
        assert again == out
    with claim(out):
        child = subprocess.run([sys.executable, "-m", "simsplit.cli", "run", DEFAULT, "--out", str(out), *SHORT],
                               capture_output=True, text=True)
    assert child.returncode == 2 and "another simsplit command is writing" in child.stderr


def test_stale_partial_and_old_folders_are_cleaned(tmp_path, capsys):
    out = tmp_path / "r"
    stale = [tmp_path / ".r.partial-abc", tmp_path / ".r.old-def"]
    for folder in stale:
        folder.mkdir()
        (folder / "junk").write_text("x")
    other = tmp_path / ".other.partial-xyz"
    other.mkdir()
    assert run_cli(capsys, "run", DEFAULT, "--out", str(out), *SHORT)[0] == 0
    assert not any(folder.exists() for folder in stale)
    assert other.exists()  # not ours to judge


def test_summary_carries_provenance_and_the_folder_reruns_elsewhere(tmp_path, capsys):
    scenario = REPO / "scenarios" / "lte-trace-tail.yaml"
    out = tmp_path / "r"
    assert run_cli(capsys, "run", str(scenario), "--out", str(out), "--set", "duration_s=60")[0] == 0
    summary = json.loads((out / "summary.json").read_text())
    provenance = summary["provenance"]
    assert provenance["simsplit_version"]
    import hashlib
    trace = REPO / "traces" / "lte-uplink-markov.csv"
    assert provenance["inputs_sha256"]["network.uplink.file"] == hashlib.sha256(trace.read_bytes()).hexdigest()
    assert set(provenance["inputs_sha256"]) == {"model.profile", "model.payloads", "network.uplink.file"}
    moved = tmp_path / "elsewhere" / "copy"
    shutil.copytree(out, moved)
    assert "traces/" in (moved / "scenario.yaml").read_text() and str(REPO) not in (moved / "scenario.yaml").read_text()
    again = tmp_path / "again"
    assert run_cli(capsys, "run", str(moved / "scenario.yaml"), "--out", str(again))[0] == 0
    assert (again / "summary.json").read_bytes() == (out / "summary.json").read_bytes()


def test_sweep_reruns_what_an_edit_changes(tmp_path):
    path = small_sweep(tmp_path, seeds=1)
    out = tmp_path / "out"
    sweep = load_sweep(path)
    assert run_sweep(sweep, out, workers=2) == (len(sweep.runs), 0)
    assert run_sweep(load_sweep(path), out, workers=2) == (0, len(sweep.runs))
    base = tmp_path / "base.yaml"
    base.write_text(base.read_text().replace("duration_s: 10", "duration_s: 11"))
    edited = load_sweep(path)
    assert run_sweep(edited, out, workers=2) == (len(sweep.runs), 0)  # nothing stale served
    for run in edited.runs:
        assert json.loads((out / "runs" / run.run_id / "summary.json").read_text())["duration_s"] == 11
    # an edit of a file the scenario reads (here the payload table, copied and then changed) also counts
    payloads = tmp_path / "payloads.csv"
    payloads.write_text((REPO / "scenarios" / "payloads" / "resnet50-bottlenet.csv").read_text())
    base.write_text("\n".join(line if not line.strip().startswith("payloads:") else f"  payloads: {payloads}"
                              for line in base.read_text().splitlines()) + "\n")
    assert run_sweep(load_sweep(path), out, workers=2) == (0, len(sweep.runs))  # same content elsewhere: reused
    payloads.write_text(payloads.read_text().replace("0.741", "0.700"))
    assert run_sweep(load_sweep(path), out, workers=2)[0] > 0


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to find worker processes")
@pytest.mark.parametrize("how", ["interrupt", "kill"])
def test_stopping_a_sweep_leaves_no_worker(tmp_path, how):
    path = small_sweep(tmp_path, seeds=24)  # more than finish before the signal
    out = tmp_path / "out"
    # Ctrl-C reaches the sweep as it would from a terminal, even where this test itself runs with SIGINT
    # ignored (a job started in the background by a non-interactive shell passes SIG_IGN on to its children)
    process = subprocess.Popen([sys.executable, "-m", "simsplit.cli", "sweep", str(path), "--out", str(out),
                                "--workers", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list((out / "runs").glob("*/summary.json"))) < 2:
        time.sleep(0.05)
    workers = _children(process.pid)
    assert workers, "the sweep started no worker"
    stopped_at = time.monotonic()
    process.send_signal(signal.SIGINT if how == "interrupt" else signal.SIGKILL)
    process.wait(timeout=30)
    if how == "interrupt":
        assert time.monotonic() - stopped_at < 3, time.monotonic() - stopped_at  # measured 0.9-1.3 s
        assert process.returncode == 130 and "interrupted" in process.stderr.read()
        assert (out / "runs.parquet").is_file()  # what was done is tabulated
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(Path(f"/proc/{w}").exists() and
                                              "Z" not in Path(f"/proc/{w}/stat").read_text().split()[2]
                                              for w in workers):
        time.sleep(0.05)
    alive = [w for w in workers if Path(f"/proc/{w}").exists()
             and Path(f"/proc/{w}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"]
    assert not alive, f"workers left behind: {alive}"


def test_a_full_disk_keeps_the_old_folder_and_says_so_in_one_line(tmp_path):
    """A file-size limit stands for a full disk: the write fails part-way; the previous run stays whole."""
    import resource
    out = tmp_path / "r"
    first = subprocess.run([sys.executable, "-m", "simsplit.cli", "run", DEFAULT, "--out", str(out), *SHORT],
                           capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (50_000, 50_000))

    done = subprocess.run([sys.executable, "-m", "simsplit.cli", "run", DEFAULT, "--out", str(out),
                           "--set", "duration_s=30"], capture_output=True, text=True, preexec_fn=limit)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "could not write the results" in done.stderr
    assert "the previous folder is kept" in done.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".r.")] == []
