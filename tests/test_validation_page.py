"""docs/validation.md is up to date: the fast model checks, rerun here, give the rows the page shows, and
every check on the page passes."""

from __future__ import annotations

from conftest import REPO, validation_page


def test_fast_checks_match_the_page(tmp_path):
    validate = validation_page()
    page = (REPO / "docs" / "validation.md").read_text()
    for check in validate.fast_checks(tmp_path):
        assert check.passed, check.row()
        assert check.row() in page, f"docs/validation.md is stale (python benchmarks/validate.py): {check.row()}"


def test_every_check_on_the_page_passes():
    checks = (REPO / "docs" / "validation.md").read_text().split("\n## ")[0]  # sections below hold data tables
    rows = [line for line in checks.splitlines() if line.startswith("| ") and not line.startswith(("| area", "|---"))]
    assert len(rows) >= 17
    assert all(line.endswith("| pass |") for line in rows), [r for r in rows if not r.endswith("| pass |")]
