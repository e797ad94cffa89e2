"""A run streamed to disk gives exactly the table and summary of a run kept in memory."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import REPO

from simsplit.scenario import load_scenario
from simsplit.studies.simulation import simulate

# scenarios with sites: are run in test_sites.py
SCENARIOS = [p for p in sorted((REPO / "scenarios").glob("*.yaml")) if "\nsites:" not in p.read_text()]


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


def test_records_option_keeps_all_a_sample_or_none(tmp_path):
    """The summary always counts every request; the folder keeps every row, a stable hashed sample, or none."""
    from simsplit.core.errors import InputError
    from simsplit.output.results import sampled
    scenario = load_scenario(REPO / "scenarios" / "default.yaml", ["duration_s=60"])
    full = simulate(scenario, stream=False)
    for records, streamed in (("sample:0.25", True), ("sample:0.25", False), ("none", True), ("all", True)):
        variant = load_scenario(REPO / "scenarios" / "default.yaml", ["duration_s=60", f"records={records}"])
        result = simulate(variant, stream=streamed, stream_rows=500)
        assert {k: v for k, v in result.summary.items() if k != "provenance"} == \
            {k: v for k, v in full.summary.items() if k != "provenance"}
        folder = result.write(tmp_path / f"{records.replace(':', '-')}-{streamed}")
        path = folder / "requests.parquet"
        if records == "none":
            assert not path.exists()
            continue
        rows = pd.read_parquet(path)
        assert "measured" not in rows.columns  # the in-memory view's flag; on disk, arrival_at_s < warmup_s
        rows["measured"] = rows["arrival_at_s"] >= full.summary["warmup_s"]
        if records == "all":
            pd.testing.assert_frame_equal(rows, full.requests, check_exact=True)
            continue
        keep = sampled(full.requests["device"].to_numpy(), full.requests["request_id"].to_numpy(), 42, 0.25)
        pd.testing.assert_frame_equal(rows, full.requests[keep].reset_index(drop=True), check_exact=True)
        assert 0.2 < len(rows) / len(full.requests) < 0.3
    longer = simulate(load_scenario(REPO / "scenarios" / "default.yaml", ["duration_s=90"]), stream=False).requests
    short_kept = full.requests[keep]
    long_keep = sampled(longer["device"].to_numpy(), longer["request_id"].to_numpy(), 42, 0.25)
    kept_ids = set(zip(longer["device"][long_keep], longer["request_id"][long_keep], strict=True))
    assert set(zip(short_kept["device"], short_kept["request_id"], strict=True)) <= kept_ids  # stable in run length
    for bad in ("sample:0", "sample:1.5", "sample:x", "some", "sample:nan"):
        with pytest.raises(InputError, match=r"records: expected all, none or sample:F"):
            load_scenario(REPO / "scenarios" / "default.yaml", [f"records={bad}"])


def test_streamed_fast_run_writes_whole_row_groups_from_uneven_windows():
    """The fast path hands out windows of any size; the file still holds row groups of stream_rows (the
    last one the rest), in arrival order, as a DES run's spool writes them."""
    import pyarrow.parquet as pq
    scenario = load_scenario(REPO / "scenarios" / "default.yaml", ["duration_s=120"])
    result = simulate(scenario, stream=True, stream_rows=1000)
    assert result.summary["engine"]["used"] == "fast"
    metadata = pq.ParquetFile(result.requests_path).metadata
    sizes = [metadata.row_group(k).num_rows for k in range(metadata.num_row_groups)]
    assert sizes[:-1] == [1000] * (len(sizes) - 1) and 0 < sizes[-1] <= 1000
    assert sum(sizes) == len(result.requests) > 5000
    kept = simulate(scenario, stream=False)
    pd.testing.assert_frame_equal(result.requests, kept.requests, check_exact=True)
