"""The command line: run writes a complete folder atomically, bad input exits 2 with one line."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
from typer.testing import CliRunner

from simsplit import provenance as provenance_module
from simsplit.cli import app

from conftest import REPO

SCENARIOS = sorted((REPO / "scenarios").glob("*.yaml"))
runner = CliRunner()


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[p.name for p in SCENARIOS])
def test_every_scenario_runs_and_writes_its_folder(tmp_path, scenario):
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", str(scenario), "--out", str(out)])
    assert result.exit_code == 0, result.output
    expected = {".simsplit", "payloads.csv", "profile.csv", "requests.parquet", "scenario.yaml", "summary.json"}
    if "probe:" in scenario.read_text():
        expected.add("probes.parquet")
    if "kind: trace" in scenario.read_text():
        expected.add("traces")  # a result folder is self-contained
    assert {p.name for p in out.iterdir()} == expected
    summary = json.loads((out / "summary.json").read_text())
    assert {"generated", "completed", "dropped", "latency_s", "energy_j"} <= set(summary)
    assert {"mean", "p50", "p95", "p99"} <= set(summary["latency_s"])
    assert summary["completed"] > 0
    requests = pd.read_parquet(out / "requests.parquet")
    assert len(requests) >= summary["generated"]
    # the resolved scenario reruns from the result folder and gives the same summary
    again = tmp_path / "again"
    rerun = runner.invoke(app, ["run", str(out / "scenario.yaml"), "--out", str(again)])
    assert rerun.exit_code == 0, rerun.output
    assert (again / "summary.json").read_bytes() == (out / "summary.json").read_bytes()


def test_seed_and_set_options(tmp_path):
    out = tmp_path / "o"
    result = runner.invoke(app, ["run", str(REPO / "scenarios" / "default.yaml"), "--out", str(out),
                                 "--seed", "9", "--set", "duration_s=20", "--set", "devices.0.count=3"])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seed"] == 9 and summary["duration_s"] == 20
    requests = pd.read_parquet(out / "requests.parquet")
    assert requests["device"].nunique() == 3


def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path):
    out = tmp_path / "never"
    result = subprocess.run([sys.executable, "-m", "simsplit.cli", "run", str(REPO / "scenarios" / "default.yaml"),
                             "--out", str(out), "--set", "network.uplink.delay_ms=-1"],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].endswith("default.yaml: network.uplink.delay_ms: expected a number >= 0.0, got -1")
    assert not out.exists()


def test_validate_command(tmp_path):
    result = runner.invoke(app, ["validate", str(REPO / "scenarios" / "bottlenet-resnet50.yaml")])
    assert result.exit_code == 0 and "ok (52 device groups" in result.output
    bad = runner.invoke(app, ["validate", str(REPO / "scenarios" / "default.yaml"), "--set", "strategy.split=99"])
    assert bad.exit_code == 2


def test_failed_write_keeps_the_good_folder(tmp_path, monkeypatch):
    out = tmp_path / "run"
    scenario = str(REPO / "scenarios" / "default.yaml")
    assert runner.invoke(app, ["run", scenario, "--out", str(out), "--set", "duration_s=15"]).exit_code == 0
    good = (out / "summary.json").read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(provenance_module.shutil, "copyfile", broken)
    failed = runner.invoke(app, ["run", scenario, "--out", str(out), "--set", "duration_s=30"])
    assert failed.exit_code != 0
    assert (out / "summary.json").read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no partial folder left behind


def test_traces_show_and_convert(tmp_path):
    trace = tmp_path / "t.csv"
    trace.write_text("time_s,rate_mbps\n0,2\n1,0\n2,4\n4,0\n")
    shown = runner.invoke(app, ["traces", "show", str(trace), "-f", "csv", "--plot", str(tmp_path / "t.png")])
    assert shown.exit_code == 0, shown.output
    assert "2.500" in shown.output and "0.2500" in shown.output  # mean (2 + 0 + 8) / 4 Mbps; 1 s of 4 in outage
    assert (tmp_path / "t.png").stat().st_size > 1000
    converted = runner.invoke(app, ["traces", "convert", str(trace), str(tmp_path / "t.txt"), "-f", "csv", "--to", "pensieve"])
    assert converted.exit_code == 0
    bad = runner.invoke(app, ["traces", "show", str(tmp_path / "missing.csv"), "-f", "csv"])
    assert bad.exit_code == 2


def test_help_and_validate_load_no_heavy_library():
    """`simsplit --help` and `validate` stay light: no pandas, pyarrow, scipy, matplotlib or torch."""
    probe = ("import sys, io, contextlib\nfrom simsplit.cli import main\n"
             "with contextlib.redirect_stdout(io.StringIO()):\n"
             f"    assert main(['validate', {str(REPO / 'scenarios' / 'default.yaml')!r}]) == 0\n"
             "    assert main(['--help']) == 0\n"
             "print(','.join(m for m in ('pandas', 'pyarrow', 'scipy', 'matplotlib', 'torch') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == ""
