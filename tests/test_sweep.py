"""Sweeps: expansion, resumption after an interruption, identical tables on a process pool and on Dask,
figures and the HTML report."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO

from simsplit.core.errors import InputError
from simsplit.studies.sweep import load_sweep, run_sweep, write_tables

SWEEP = REPO / "scenarios" / "sweeps" / "bottlenet-networks.yaml"


def small_sweep(tmp_path: Path, seeds: int = 2) -> Path:
    """The BottleNet sweep cut to 2 networks x 4 strategies x ``seeds`` seeds, 10 s each."""
    text = SWEEP.read_text()
    base = tmp_path / "base.yaml"
    base.write_text((REPO / "scenarios" / "sweeps" / "bottlenet-base.yaml").read_text()
                    .replace("duration_s: 30", "duration_s: 10")
                    .replace("../profiles/", str(REPO / "scenarios" / "profiles") + "/")
                    .replace("../payloads/", str(REPO / "scenarios" / "payloads") + "/"))
    keep = [line for line in text.splitlines()
            if not any(f"label: rb{k}," in line for k in range(3, 17)) and "label: wifi" not in line]
    path = tmp_path / "sweep.yaml"
    path.write_text("\n".join(keep).replace("scenario: bottlenet-base.yaml", f"scenario: {base}")
                    .replace("seeds: 3", f"seeds: {seeds}") + "\n")
    return path


def test_grid_expands_with_seeds():
    sweep = load_sweep(SWEEP)
    assert len(sweep.runs) == 3 * 18 * 3
    assert len({run.run_id for run in sweep.runs}) == len(sweep.runs)
    assert sweep.runs[0].labels == (("network", "3g"), ("strategy", "mobile-only"))


def test_bad_sweep_names_the_configuration(tmp_path):
    path = small_sweep(tmp_path)
    path.write_text(path.read_text().replace("split: 1,", "split: 99,"))
    with pytest.raises(InputError,
                       match=r"\(network=3g, strategy=rb1\): strategy\.split: expected a split point 0\.\.17"):
        load_sweep(path)


def test_resume_after_interruption_redoes_nothing(tmp_path):
    sweep = load_sweep(small_sweep(tmp_path))
    out = tmp_path / "out"
    ran, skipped = run_sweep(sweep, out, workers=2, limit=5)  # interrupted after 5 runs
    assert (ran, skipped) == (5, 0)
    finished = {p.name: p.joinpath("summary.json").stat().st_mtime_ns for p in (out / "runs").iterdir()}
    ran, skipped = run_sweep(sweep, out, workers=2)
    assert (ran, skipped) == (len(sweep.runs) - 5, 5)
    for name, mtime in finished.items():  # finished runs were not redone
        assert (out / "runs" / name / "summary.json").stat().st_mtime_ns == mtime
    runs, table = write_tables(sweep, out)
    assert len(runs) == len(sweep.runs) and (table["replications"] == 2).all()


def test_killed_sweep_resumes(tmp_path):
    path = small_sweep(tmp_path, seeds=6)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "simsplit.cli", "sweep", str(path), "--out", str(out), "--workers", "1"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    def finished_runs():  # run folders in place (hidden .partial- folders are writes in progress)
        return {p.parent.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*/summary.json")
                if not p.parent.name.startswith(".")}

    while time.monotonic() < deadline and len(finished_runs()) < 3:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    finished = finished_runs()
    assert 3 <= len(finished) < 48
    # every folder in place is complete: a run killed mid-write left at most a hidden partial folder
    for folder in (out / "runs").iterdir():
        assert folder.name.startswith(".") or (folder / "summary.json").is_file()
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert f"{len(finished)} already finished" in result.stdout.replace("\n", " ")
    for name, mtime in finished.items():
        assert (out / "runs" / name / "summary.json").stat().st_mtime_ns == mtime
    assert len(pd.read_parquet(out / "runs.parquet")) == 48
    assert not [p for p in (out / "runs").iterdir() if p.name.startswith(".")]


def test_dask_gives_the_same_tables_as_the_process_pool(tmp_path):
    pytest.importorskip("distributed")
    sweep = load_sweep(small_sweep(tmp_path))
    run_sweep(sweep, tmp_path / "pool", workers=2)
    run_sweep(sweep, tmp_path / "dask", workers=2, scheduler="local")
    pool_runs, pool_table = write_tables(sweep, tmp_path / "pool")
    dask_runs, dask_table = write_tables(sweep, tmp_path / "dask")
    pd.testing.assert_frame_equal(pool_table, dask_table, check_exact=True)
    pd.testing.assert_frame_equal(pool_runs, dask_runs, check_exact=True)


def test_report_of_a_sweep_and_of_a_run(tmp_path):
    from simsplit.figures.folder_figures import draw
    from simsplit.figures.report import best_table, write_report
    sweep = load_sweep(small_sweep(tmp_path))
    out = tmp_path / "out"
    run_sweep(sweep, out, workers=2)
    runs, table = write_tables(sweep, out)
    best = best_table(table, "network", {"strategy": "cloud-only"}).set_index("network")
    assert list(best["fastest"]) == ["rb1", "rb1"]
    cloud_3g = table[(table["network"] == "3g") & (table["strategy"] == "cloud-only")]["latency_mean_s"].iloc[0]
    rb1_3g = table[(table["network"] == "3g") & (table["strategy"] == "rb1")]["latency_mean_s"].iloc[0]
    assert best.loc["3g", "latency gain vs baseline (x)"] == pytest.approx(cloud_3g / rb1_3g)
    page = write_report(out).read_text()
    assert page.count("<img") == 4 and "Best configuration per network" in page
    assert "http" not in page.split("<body>")[1]
    assert not (out / "figures").exists()  # the report embeds its figures and leaves figures/ alone
    assert "Scenario of the first configuration" in page and "jetson-tx2" in page
    draw(out)
    for figure in ("tradeoff", "curve-latency_mean_s", "curve-energy_j", "curve-accuracy"):
        assert (out / "figures" / f"{figure}.png").stat().st_size > 5000
        assert (out / "figures" / f"{figure}.svg").is_file()
    run_page = write_report(out / "runs" / runs["run_id"].iloc[0]).read_text()
    assert run_page.count("<img") == 3 and "Device groups" in run_page  # latency CDF, latency and energy breakdowns
    assert "latency mean" in run_page and "simsplit 0.1.0" in run_page and "inputs (SHA-256)" in run_page
    assert "inputs (SHA-256)" in page  # the sweep report names the first configuration's inputs


def test_run_report_with_time_series(tmp_path):
    from typer.testing import CliRunner

    from simsplit.cli import app
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["run", str(REPO / "scenarios" / "dynamic-under-load.yaml"), "--out", str(out),
                                      "--monitor", "0.5", "--set", "duration_s=30"])
    assert result.exit_code == 0, result.output
    series = pd.read_parquet(out / "timeseries.parquet")
    assert len(series) == 60 and {"at_s", "uplink_bps", "edge_queue", "edge_busy"} <= set(series.columns)
    assert CliRunner().invoke(app, ["report", str(out)]).exit_code == 0
    assert CliRunner().invoke(app, ["plot", str(out)]).exit_code == 0
    assert (out / "figures" / "timeseries.png").stat().st_size > 5000
    assert (out / "report.html").read_text().count("<img") == 4


def test_plot_and_report_of_a_compare_folder(tmp_path, monkeypatch):
    """A compare folder gets its figures (Pareto plane, bars) and a report with the user's seed and units."""
    from simsplit.cli import main
    from simsplit.figures.drawing import pareto_front
    monkeypatch.chdir(tmp_path)
    default = str(REPO / "scenarios" / "default.yaml")
    assert main(["compare", default, "--seeds", "2", "--set", "duration_s=12", "--set", "warmup_s=2",
                 "--only", "local", "--only", "fixed(1, bottlenet)", "--only", "fixed(8, bottlenet)",
                 "--only", "full_offload(jpeg)", "--only", "oracle", "--out", "c"]) == 0
    meta = json.loads((tmp_path / "c" / "compare.json").read_text())
    assert meta["seed"] == 42 and len(meta["seeds"]) == 2 and meta["objective"] == "latency"
    assert main(["plot", "c"]) == 0
    names = {p.name for p in (tmp_path / "c" / "figures").iterdir()}
    assert {"pareto-energy-latency.png", "latency-by-strategy.svg", "energy-by-strategy.png",
            "regret-by-strategy.png"} <= names
    assert main(["report", "c"]) == 0
    page = (tmp_path / "c" / "report.html").read_text()
    assert "Compare default" in page and "drawn from seed 42" in page and "energy (mJ/request)" in page
    assert page.count("<img") >= 5  # four figures and the oracle's time series
    assert "the grey line is the Pareto front" in page  # captions say what each figure shows
    table = pd.read_csv(tmp_path / "c" / "compare.csv")
    assert table.set_index("strategy")["static"].to_dict() == {
        "local": True, "full_offload(jpeg)": True, "fixed(1, bottlenet)": True, "fixed(8, bottlenet)": True,
        "oracle": False}
    # the front drawn passes through every point no other point beats (coincident points drawn once)
    points = table[["latency_mean_s", "energy_j"]].to_numpy()
    brute = {tuple(points[i]) for i in range(len(points))
             if not any((points[j] <= points[i]).all() and (points[j] < points[i]).any() for j in range(len(points)))}
    assert {tuple(points[i]) for i in pareto_front(points)} == brute
