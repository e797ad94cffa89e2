"""The examples in docs/formats.md load and run."""

from __future__ import annotations

import re

from simsplit import simulate
from simsplit.scenario import load_scenario
from simsplit.setup import build_setup

from conftest import REPO


def test_format_examples_run(tmp_path):
    text = (REPO / "docs" / "formats.md").read_text()
    blocks = re.findall(r"```(?:csv|yaml) (\S+)\n(.*?)```", text, flags=re.S)
    assert sorted(name for name, _ in blocks) == ["payloads.csv", "profile.csv", "scenario.yaml"]
    for name, body in blocks:
        (tmp_path / name).write_text(body)
    scenario = load_scenario(tmp_path / "scenario.yaml")
    setup = build_setup(scenario)
    assert [g.label for g in setup.groups] == ["fixed(1, bottlenet)", "local", "fixed(1, bottlenet)"]
    summary = simulate(scenario).summary
    assert summary["completed"] > 0
    assert set(summary["groups"]) == {"phones", "doorbells", "drone"}
