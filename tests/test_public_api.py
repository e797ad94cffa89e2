"""The Python API a notebook uses: every public name is listed by dir() before its first use, and compare and
sweep are functions of the package, returning the tables the command line writes."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import REPO

import simsplit


def test_dir_lists_the_public_names_before_they_are_imported():
    code = "import simsplit; names = dir(simsplit); print(all(n in names for n in simsplit.__all__))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "True", done.stderr
    import simsplit
    assert {"simulate", "compare", "sweep", "load_scenario", "run_sites"} <= set(simsplit.__all__)


def test_sweep_runs_a_sweep_file_and_returns_its_table(tmp_path):
    import simsplit
    (tmp_path / "sweep.yaml").write_text(f"name: tiny\nscenario: {REPO / 'scenarios' / 'default.yaml'}\n"
                                         "seeds: [1, 2]\ngrid:\n  duration_s: [15, 20]\n")
    table = simsplit.sweep(tmp_path / "sweep.yaml", tmp_path / "out", workers=1)
    assert list(table["duration_s"]) == ["15", "20"]  # each level by its label
    assert len(table) == 2 and (tmp_path / "out" / "table.parquet").is_file()
    again = simsplit.sweep(tmp_path / "sweep.yaml", tmp_path / "out", workers=1)  # finished runs are kept
    assert again.equals(table)


def test_compare_takes_a_scenario_and_seeds():
    import simsplit
    scenario = simsplit.load_scenario(REPO / "scenarios" / "default.yaml", ["duration_s=15"])
    runs, table, _ = simsplit.compare(scenario, [1, 2], ["local", "fixed(8, bottlenet)"])
    assert list(table["strategy"]) == ["local", "fixed(8, bottlenet)"] and len(runs) == 4


def test_the_request_table_says_which_rows_the_summary_counts():
    """A plain mean over result.requests included the warm-up (34.64 ms against the summary's 34.97): its
    ``measured`` column marks the rows the summary counts, whose completed latencies give the summary's mean;
    the folder's requests.parquet keeps its documented columns."""
    import tempfile

    import numpy as np
    import pandas as pd

    result = simsplit.simulate(simsplit.load_scenario(REPO / "scenarios" / "default.yaml", ["duration_s=40"]))
    table = result.requests
    assert table["measured"].dtype == bool and (~table["measured"]).any()
    np.testing.assert_array_equal(table["measured"], table["arrival_at_s"] >= result.summary["warmup_s"])
    done = table[table["measured"] & (table["status"] == "completed")]
    assert done["latency_s"].mean() == pytest.approx(result.summary["latency_s"]["mean"], rel=1e-12)
    assert table[table["status"] == "completed"]["latency_s"].mean() != pytest.approx(
        result.summary["latency_s"]["mean"], rel=1e-6)  # what the plain mean gave
    with tempfile.TemporaryDirectory() as folder:
        written = pd.read_parquet(result.write(f"{folder}/r") / "requests.parquet")
    assert "measured" not in written.columns and len(written) == len(table)
