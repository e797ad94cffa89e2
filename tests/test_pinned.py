"""Every shipped scenario's summary, pinned: a refactor must leave the numbers bit for bit as they were.

Regenerate (only for a change of results by design, stated in the commit):
``python tests/test_pinned.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PINNED = REPO / "tests" / "data" / "pinned-summaries.json"
SCENARIOS = sorted(p.name for p in (REPO / "scenarios").glob("*.yaml"))


def essentials(summary: dict) -> dict:
    """The numbers a user reads, as exact reprs (intervals excluded: their method is pinned by theory tests)."""
    def block(b: dict) -> dict:
        return {"counts": [b[k] for k in ("generated", "completed", "dropped", "lost", "timed_out", "in_flight")],
                "latency_s": {k: repr(b["latency_s"][k]) for k in ("mean", "p50", "p95", "p99")},
                "energy_j": {k: repr(v) for k, v in b["energy_j"].items()},
                "accuracy": repr(b["accuracy"]), "switches": b["switches"],
                "deadline_miss_rate": repr(b["deadline_miss_rate"])}
    return {"overall": block(summary), "groups": {n: block(g) for n, g in summary["groups"].items()},
            "servers": {n: {k: repr(v) for k, v in s.items()} for n, s in summary["servers"].items()}}


def requests_digest(requests) -> str:
    """SHA-256 over every column of the per-request table (values as bytes; categories as codes and names) that
    the engine wrote (the in-memory view's ``measured`` flag is derived from the summary's warm-up)."""
    import hashlib
    digest = hashlib.sha256()
    for name in (c for c in requests.columns if c != "measured"):
        column = requests[name]
        digest.update(name.encode())
        if hasattr(column, "cat"):
            digest.update(column.cat.codes.to_numpy().tobytes())
            digest.update(repr(list(column.cat.categories)).encode())
        else:
            digest.update(column.to_numpy(dtype=float, na_value=float("nan")).tobytes())
    return digest.hexdigest()


SITES_SHORT = ["duration_s=20", "warmup_s=2", "sites.count=3", "records=all"]
"""A scenario of many sites is pinned on three sites of 20 s (its full run is a benchmark)."""


def current(name: str) -> dict:
    from simsplit.scenario import load_scenario
    from simsplit.studies.simulation import simulate
    scenario = load_scenario(REPO / "scenarios" / name)
    if scenario.sites is not None:
        import tempfile

        import pandas as pd

        from simsplit.studies.sites import run_sites
        scenario = load_scenario(REPO / "scenarios" / name, SITES_SHORT)
        with tempfile.TemporaryDirectory() as folder:
            summary = run_sites(scenario, Path(folder) / "out")
            parts = sorted((Path(folder) / "out" / "requests").glob("*.parquet"))
            requests = pd.concat([pd.read_parquet(part) for part in parts], ignore_index=True)
        return {**essentials(summary), "requests_sha256": requests_digest(requests)}
    result = simulate(scenario)
    return {**essentials(result.summary), "requests_sha256": requests_digest(result.requests)}


@pytest.mark.parametrize("name", SCENARIOS)
def test_shipped_scenario_summary_is_pinned(name):
    pinned = json.loads(PINNED.read_text())
    assert name in pinned, f"{name} has no pinned summary: run python tests/test_pinned.py"
    assert current(name) == pinned[name]


@pytest.mark.parametrize("name", [n for n in SCENARIOS if "city" in n])
def test_a_scenario_of_sites_sums_the_same_on_both_engines(name, monkeypatch):
    """The fast path hands its rows out in windows of its own; summed in the DES's blocks, every number of a
    scenario of sites (means included, to the last bit) is the DES's."""
    fast = current(name)
    monkeypatch.setattr(sys.modules[__name__], "SITES_SHORT", [*SITES_SHORT, "engine=des"])
    assert current(name) == fast


def test_fixed_blocks_keep_the_rows_in_blocks_of_a_size():
    import numpy as np

    from simsplit.studies.sites import fixed_blocks
    chunks = [{"device": np.arange(a, b), "x": np.arange(a, b) * 0.5} for a, b in ((0, 3), (3, 3), (3, 11), (11, 12))]
    blocks = list(fixed_blocks(iter(chunks), 4))
    assert [b["device"].tolist() for b in blocks] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    assert np.concatenate([b["x"] for b in blocks]).tolist() == (np.arange(12) * 0.5).tolist()
    assert [b["device"].tolist() for b in fixed_blocks(iter(chunks[:1]), 4)] == [[0, 1, 2]]
    assert list(fixed_blocks(iter([]), 4)) == []


if __name__ == "__main__":
    names = sys.argv[1:] or SCENARIOS
    pinned = json.loads(PINNED.read_text()) if PINNED.is_file() else {}
    pinned.update({name: current(name) for name in names})
    PINNED.write_text(json.dumps(pinned, indent=1, sort_keys=True) + "\n")
