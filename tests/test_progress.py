"""Progress off a terminal: a line every LOG_EVERY_S with the work done, elapsed and left at the pace so far,
thousands separated; on the command line, a long run (a sites run, a comparison) writes such lines."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO

from simsplit.cli.progress import _Lines


def test_a_line_says_what_is_done_and_what_is_left():
    now = [0.0]
    lines = _Lines("sweep s", 4_000, "runs", 10.0, lambda: now[0])
    now[0] = 50.0
    assert lines.line(now[0]).endswith("0 of 4,000 runs (0%), 50 s so far")
    lines.done = 1_000
    assert lines.line(now[0]) == "sweep s: 1,000 of 4,000 runs (25%), 50 s so far, about 2 min 30 s left"
    lines.done = 5_000  # past an estimated total: never above 100%
    assert "(100%)" in lines.line(now[0]) and lines.line(now[0]).endswith(", almost done")


def test_a_comparison_off_a_terminal_reports_every_few_seconds(tmp_path, monkeypatch):
    """LOG_EVERY_S set to 0 in the child: every run reports."""
    code = ("import simsplit.cli.progress as p; p.LOG_EVERY_S = 0.0; from simsplit.cli import entry_point; "
            "import sys; sys.argv = ['simsplit'] + sys.argv[1:]; entry_point()")
    done = subprocess.run([sys.executable, "-c", code, "compare", str(REPO / "scenarios" / "default.yaml"),
                           "--seeds", "2", "--only", "local", "--only", "fixed(8, bottlenet)", "--set",
                           "duration_s=15", "--out", str(tmp_path / "c")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("compare default:")]
    assert [line.split(":")[1].split(" runs")[0].strip() for line in lines] == [
        "1 of 4", "2 of 4", "3 of 4", "4 of 4"], done.stderr
