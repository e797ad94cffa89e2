"""The marker says what simsplit wrote: a hand-made ``.simsplit`` (empty, junk, another program's JSON, too
large, a link) allows nothing; a folder simsplit wrote as one kind is never replaced by another kind; plot and
report write only into folders simsplit wrote."""

from __future__ import annotations

import json

import pytest
from conftest import REPO

from simsplit.cli import main
from simsplit.output.outdir import MARKER, marked_kind

DEFAULT = str(REPO / "scenarios" / "default.yaml")
SHORT = ["--set", "duration_s=15"]


def run_cli(capsys, *args) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().err


def tree(folder) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("marker", ["", "junk", '{"written_by": "someone else", "kind": "run"}',
                                    '{"written_by": "simsplit", "kind": "thesis"}', '["simsplit"]',
                                    '{"written_by": "simsplit", "kind": "run", "pad": "' + "x" * 5000 + '"}',
                                    "link"])
def test_a_hand_made_marker_allows_nothing(tmp_path, capsys, marker):
    target = tmp_path / "thesis"
    target.mkdir()
    (target / "thesis.tex").write_text("\\documentclass{article}")
    if marker == "link":
        real = tmp_path / "real-marker"
        real.write_text(json.dumps({"written_by": "simsplit", "kind": "run"}))
        (target / MARKER).symlink_to(real)
    else:
        (target / MARKER).write_text(marker)
    before = tree(target)
    assert marked_kind(target) is None
    code, err = run_cli(capsys, "run", DEFAULT, "--out", str(target), *SHORT)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "not written by simsplit" in err
    assert tree(target) == before


def test_a_folder_of_one_kind_is_not_replaced_by_another(tmp_path, capsys):
    run = tmp_path / "run"
    assert run_cli(capsys, "run", DEFAULT, "--out", str(run), *SHORT)[0] == 0
    assert marked_kind(run) == "run"
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    (sweep / MARKER).write_text(json.dumps({"written_by": "simsplit", "kind": "sweep", "version": "x"}))
    (sweep / "table.parquet").write_bytes(b"a sweep's table")
    before = tree(sweep)
    code, err = run_cli(capsys, "run", DEFAULT, "--out", str(sweep), *SHORT)
    assert code == 2 and "simsplit wrote a sweep folder there, not a run or sites one" in err, err
    assert tree(sweep) == before
    code, err = run_cli(capsys, "compare", DEFAULT, "--out", str(run), "--seeds", "1", "--only", "local", *SHORT)
    assert code == 2 and "simsplit wrote a run folder there, not a compare one" in err, err
    assert marked_kind(run) == "run"
    assert run_cli(capsys, "run", DEFAULT, "--out", str(run), *SHORT)[0] == 0  # its own kind: replaced


@pytest.mark.parametrize("command", ["plot", "report"])
def test_plot_and_report_write_only_into_folders_simsplit_wrote(tmp_path, capsys, command):
    run = tmp_path / "run"
    assert run_cli(capsys, "run", DEFAULT, "--out", str(run), *SHORT)[0] == 0
    mine = tmp_path / "mine"
    mine.mkdir()
    for name in ("summary.json", "requests.parquet", "scenario.yaml"):
        (mine / name).write_bytes((run / name).read_bytes())
    (mine / "report.html").write_text("my own page")
    (mine / "figures").mkdir()
    (mine / "figures" / "latency-cdf.png").write_bytes(b"my own figure")
    before = tree(mine)
    code, err = run_cli(capsys, command, str(mine))
    assert code == 2 and len(err.strip().splitlines()) == 1 and "expected a folder simsplit wrote" in err, err
    assert tree(mine) == before
    assert run_cli(capsys, command, str(run))[0] == 0
