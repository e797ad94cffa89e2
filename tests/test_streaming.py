"""A run streamed to disk gives exactly the table and summary of a run kept in memory."""

from __future__ import annotations

import pandas as pd
import pytest

from simsplit.scenario import load_scenario
from simsplit.simulation import simulate

from conftest import REPO

SCENARIOS = sorted((REPO / "scenarios").glob("*.yaml"))


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_streamed_run_equals_in_memory_run(path, tmp_path):
    overrides = ["network.radio.state_machine=true"]
    scenario = load_scenario(path, overrides)
    kept = simulate(scenario, stream=False)
    streamed = simulate(scenario, stream=True, stream_rows=97)  # many small row groups, odd size
    assert streamed.requests_path is not None
    assert streamed.summary == kept.summary
    pd.testing.assert_frame_equal(streamed.requests, kept.requests, check_exact=True)
    kept.write(tmp_path / "kept")
    streamed.write(tmp_path / "streamed")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "streamed" / "requests.parquet"),
                                  pd.read_parquet(tmp_path / "kept" / "requests.parquet"), check_exact=True)
