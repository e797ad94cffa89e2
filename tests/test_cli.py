"""The command line: run writes a complete folder atomically, bad input exits 2 with one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import REPO
from typer.testing import CliRunner

from simsplit.cli import app
from simsplit.output import provenance as provenance_module

# scenarios with sites: are run in test_sites.py
SCENARIOS = [p for p in sorted((REPO / "scenarios").glob("*.yaml")) if "\nsites:" not in p.read_text()]
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
    converted = runner.invoke(app, ["traces", "convert", str(trace), str(tmp_path / "t.txt"), "-f", "csv",
                                    "--to", "pensieve"])
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


def test_json_output_of_run_validate_and_compare(tmp_path, capsys, monkeypatch):
    from simsplit.cli import main
    monkeypatch.chdir(tmp_path)
    default = str(REPO / "scenarios" / "default.yaml")
    assert main(["run", default, "--json", "--out", "r", "--set", "duration_s=15"]) == 0
    run = json.loads(capsys.readouterr().out)
    assert run["completed"] > 0 and run["folder"].endswith("r")
    assert run == {**json.loads((tmp_path / "r" / "summary.json").read_text()), "folder": run["folder"],
                   "wall_s": run["wall_s"]}
    assert main(["validate", default, "--json"]) == 0
    valid = json.loads(capsys.readouterr().out)
    assert valid["ok"] is True and valid["devices"] == 20 and valid["estimate"]["requests"] > 0
    assert main(["compare", default, "--json", "--seeds", "2", "--only", "local", "--out", "c",
                 "--set", "duration_s=15"]) == 0
    compared = json.loads(capsys.readouterr().out)
    assert [row["strategy"] for row in compared["strategies"]] == ["local"]
    table = pd.read_csv(tmp_path / "c" / "compare.csv")
    assert compared["strategies"][0]["latency_mean_s"] == pytest.approx(table["latency_mean_s"][0], rel=1e-12)


def test_result_is_notebook_friendly():
    import simsplit
    result = simsplit.simulate(REPO / "scenarios" / "bottlenet-resnet50.yaml")
    text = repr(result)
    assert len(text) < 300 and "bottlenet-resnet50" in text and "52 device group(s)" in text
    frame = result.summary_frame()
    assert len(frame) == 53 and frame["scope"].iloc[0] == "all"
    row = frame.set_index("scope").loc["3g-rb1"]
    group = result.summary["groups"]["3g-rb1"]
    assert row["latency_mean_s"] == group["latency_s"]["mean"] and row["energy_j"] == group["energy_j"]["total"]
    assert row["completed"] == group["completed"] and frame["completed"].dtype.kind == "i"
    assert frame.set_index("scope").loc["all", "latency_p50_s_low"] == result.summary["latency_s"]["ci95"]["p50"][0]
    html = result._repr_html_()
    assert html.count("<tr") == len(frame) + 2 and "3g-rb1" in html  # header, index name, one per scope
    assert pd.isna(frame["strategy"].iloc[0]) and frame["deadline_miss_rate"].isna().all()  # NaN, not "-"
    done = result.measured[result.measured["status"] == "completed"]
    assert done["latency_s"].mean() == pytest.approx(result.summary["latency_s"]["mean"], rel=1e-12)
    assert len(result.measured) == result.summary["generated"]  # what the summary counts (no warm-up here)
    warm = simsplit.simulate(simsplit.load_scenario(REPO / "scenarios" / "default.yaml", ["duration_s=20"]))
    assert len(warm.measured) == warm.summary["generated"] < len(warm.requests)  # the warm-up's rows left out
    tidy = result.summary_frame(long=True)
    assert list(tidy.columns) == ["scope", "strategy", "metric", "value"] and tidy["value"].dtype.kind == "f"
    one = tidy[(tidy["scope"] == "3g-rb1") & (tidy["metric"] == "latency_mean_s")]["value"]
    assert one.item() == group["latency_s"]["mean"]


def test_plot_and_report_of_a_run_where_nothing_completed(tmp_path, monkeypatch):
    from simsplit.cli import main
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(REPO / "scenarios" / "default.yaml"), "--out", "empty",
                 "--set", "devices.0.arrivals.rate_hz=1e-9"]) == 0
    assert json.loads((tmp_path / "empty" / "summary.json").read_text())["completed"] == 0
    assert main(["plot", "empty"]) == 0
    assert main(["report", "empty"]) == 0 and (tmp_path / "empty" / "report.html").is_file()


def test_the_console_script_skips_interpreter_teardown_but_not_exit_handlers(tmp_path):
    """A finished command ends with os._exit after the exit handlers and a flush (pyarrow's native pools can abort
    a finished run at interpreter teardown): its status and its whole output arrive, and the handlers ran."""
    mark, torn = tmp_path / "handler-ran", tmp_path / "torn-down"
    code = (f"import atexit, sys; atexit.register(lambda: open({str(mark)!r}, 'w').close())\n"
            f"class Torn:\n    def __del__(self, _open=open): _open({str(torn)!r}, 'w').close()\n"
            "kept = Torn()\n"
            "from simsplit.cli import entry_point; sys.argv = ['simsplit'] + sys.argv[1:]; "
            "print('x' * 100000, end=''); entry_point()")
    done = subprocess.run([sys.executable, "-c", code, "kinds", "--markdown"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("x" * 100000) and done.stdout.rstrip().endswith("|")
    assert mark.exists() and not torn.exists()  # a global's finaliser runs only at teardown
    done = subprocess.run([sys.executable, "-c", code, "run", str(tmp_path / "absent.yaml")], capture_output=True,
                          text=True)
    assert done.returncode == 2 and done.stderr.startswith("error:")


def test_validate_speaks_in_the_right_number_and_its_estimate_bounds_the_run(tmp_path):
    """'1 device groups' and an estimate of '0 s' for a run that took longer: one group reads '1 device group', and
    the estimated wall time of the default scenario (run alone, in a fresh process) is at least the measured."""
    import time

    from simsplit.core.words import counted, duration
    assert counted(1, "device group") == "1 device group" and counted(1234, "block") == "1,234 blocks"
    assert [duration(s) for s in (0.04, 2.46, 45, 185, 7800, 119.6, 3599.7)] == [
        "under 0.1 s", "2.5 s", "45 s", "3 min 05 s", "2 h 10 min", "2 min 00 s", "1 h 00 min"]  # never "1 min 60 s"
    from simsplit.engine.feasibility import Estimate
    one = Estimate(requests=10.0, events=40.0, memory_bytes=4e8, seconds=0.01)  # alone: with a process's start-up
    assert one.describe().endswith("1.0 s") and one.describe(alone=False).endswith("under 0.1 s")
    checked = subprocess.run([sys.executable, "-m", "simsplit.cli", "validate", "default", "--json"],
                             capture_output=True, text=True, check=True)
    estimate = json.loads(checked.stdout)["estimate"]["wall_s"]
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "simsplit.cli", "run", "default", "--out", str(tmp_path / "r")],
                   capture_output=True, check=True)
    took = time.perf_counter() - started
    assert estimate >= 0.5 * took, (estimate, took)  # interpreter start and imports are outside the estimate
    shown = subprocess.run([sys.executable, "-m", "simsplit.cli", "validate", "default"], capture_output=True,
                           text=True, check=True).stdout
    assert "(1 device group, 20 devices," in shown and " 0 s)" not in shown


def test_a_missing_interval_says_why_and_a_mean_above_p95_is_explained(tmp_path):
    """The plugin example (177 requests, a few waiting through an off period): each '-' interval names the
    completions it needs (as core.stats computes them), and its mean above p95 gets a line saying why."""
    from simsplit.core.stats import batch_interval, batch_quantile_interval, fewest_for_interval
    for q in (None, 0.5, 0.95, 0.99):
        fewest = fewest_for_interval(q)
        values = np.random.default_rng(3).exponential(size=fewest)
        interval = (lambda v: batch_interval(v)) if q is None else (lambda v, q=q: batch_quantile_interval(v, q))
        assert np.isfinite(interval(values)[1]) and np.isnan(interval(values[:-1])[1]), q
    done = subprocess.run([sys.executable, "-m", "simsplit.cli", "run", str(REPO / "examples" / "plugins" /
                           "scenario.yaml"), "--out", str(tmp_path / "r")], capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    assert "- (needs 10,000 completed)" in done.stdout and "- (needs 200 completed)" in done.stdout
    assert "The mean is above p95: a few requests take far longer than the rest (read p99)." in done.stdout
