"""plot and report on damaged result folders: each file they read truncated, emptied, replaced by junk, by JSON
of the wrong shape or by a table without its columns; either the folder is drawn (the file was optional) or
the command exits 2 with one line naming the file or the folder, never a traceback."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from conftest import REPO

from simsplit.cli import main

DEFAULT = str(REPO / "scenarios" / "default.yaml")


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """A run (monitored), a compare and a sweep folder, each written once."""
    root = tmp_path_factory.mktemp("results")
    assert main(["run", DEFAULT, "--out", str(root / "run"), "--set", "duration_s=15", "--monitor", "1"]) == 0
    assert main(["compare", DEFAULT, "--out", str(root / "compare"), "--seeds", "1", "--only", "local",
                 "--only", "fixed(8, bottlenet)", "--set", "duration_s=15"]) == 0
    (root / "sweep.yaml").write_text(f"name: tiny\nscenario: {DEFAULT}\nseeds: [1]\ngrid:\n  duration_s: [15, 20]\n")
    assert main(["sweep", str(root / "sweep.yaml"), "--out", str(root / "sweep"), "--workers", "1"]) == 0
    return root


DAMAGE = {
    "truncated": lambda path: path.write_bytes(path.read_bytes()[: max(1, path.stat().st_size // 2)]),
    "empty": lambda path: path.write_bytes(b""),
    "junk": lambda path: path.write_bytes(b"\x00\xffnot what it was\n" * 3),
    "wrong-json": lambda path: path.write_text(json.dumps([1, 2, 3]) if path.suffix == ".json"
                                               else "a,b\n1,2\n"),
    "wrong-types": lambda path: path.write_text(json.dumps({"scenario": 5, "warmup_s": "x", "groups": [],
                                                            "latency_s": None, "energy_j": 1,
                                                            "latency_parts_s": "x", "name": 3, "factors": 4,
                                                            "seeds": 5})),
    "no-columns": lambda path: pd.DataFrame({"nothing": [1.0]}).to_parquet(path) if path.suffix == ".parquet"
    else path.write_text("nothing\n1\n"),
}
FILES = {"run": ["summary.json", "requests.parquet", "timeseries.parquet", "scenario.yaml"],
         "compare": ["compare.csv", "compare.json", "latency-quantiles.csv"],
         "sweep": ["sweep.json", "table.parquet"]}
CASES = [(kind, name, damage) for kind, names in FILES.items() for name in names for damage in DAMAGE
         if not (damage == "wrong-types" and not name.endswith(".json"))]


@pytest.mark.parametrize(("kind", "name", "damage"), CASES)
def test_a_damaged_folder_is_drawn_or_refused_in_one_line(folders, tmp_path, capsys, kind, name, damage):
    folder = tmp_path / kind
    shutil.copytree(folders / kind, folder)
    DAMAGE[damage](folder / name)
    capsys.readouterr()
    for command in ("plot", "report"):
        code = main([command, str(folder)])
        err = capsys.readouterr().err
        assert code in (0, 2), (command, code, err)
        if code == 2:
            lines = err.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("error: ") and str(folder) in lines[0], err


def test_a_read_only_folder_is_refused_in_one_line(folders, tmp_path, capsys):
    import os
    folder = tmp_path / "run"
    shutil.copytree(folders / "run", folder)
    shutil.rmtree(folder / "figures", ignore_errors=True)
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("running as a user who can write anywhere (root)")
        for command in ("plot", "report"):
            code = main([command, str(folder)])
            err = capsys.readouterr().err
            assert code == 2 and len(err.strip().splitlines()) == 1 and "cannot write" in err, err
    finally:
        folder.chmod(0o700)
