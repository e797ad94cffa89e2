"""Registries and plugins: a strategy and a channel added in one file each, by scenario, CLI or entry point."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from typing import Literal

import numpy as np
import pandas as pd
import pytest
from conftest import REPO

from simsplit.core.config import Config
from simsplit.core.errors import InputError
from simsplit.core.registry import Registry, load_plugin
from simsplit.model.channel import StepChannel
from simsplit.model.kinds import FAMILIES
from simsplit.scenario import load_scenario, validate_scenario
from simsplit.studies.simulation import simulate

EXAMPLE = REPO / "examples" / "plugins" / "scenario.yaml"
CHANNEL_FILE = REPO / "examples" / "plugins" / "duty_cycle_channel.py"


def _cli(*args, env=None, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "simsplit.cli", *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=cwd)


def test_duty_cycle_channel_matches_the_same_path_as_steps():
    """The plugin's closed-form integration against simsplit's own piecewise-constant channel."""
    plugin = load_plugin(CHANNEL_FILE)
    rate, on, off = 5.85e6, 2.0, 1.0
    mine = plugin.DutyCycleChannel(rate, on, off)
    steps = StepChannel([0.0, on], [rate, 0.0], "loop", on + off)
    rng = np.random.default_rng(3)
    for start, bits in zip(rng.uniform(0, 30, 2000), rng.exponential(5e6, 2000), strict=True):
        assert mine.finish_time(start, bits) == pytest.approx(steps.finish_time(start, bits), rel=1e-12, abs=1e-9)
        assert mine.bits_between(start, start + bits / rate) == pytest.approx(
            steps.bits_between(start, start + bits / rate), rel=1e-12, abs=1e-3)
        assert mine.rate_bps_at(start) == steps.rate_bps_at(start)


@pytest.fixture(scope="module")
def example_result():
    return simulate(load_scenario(EXAMPLE))


def test_example_scenario_uses_both_plugins(example_result):
    requests = example_result.requests
    assert set(requests["split"]) == {8, 17}, "the strategy must both offload and fall back to local"
    assert example_result.summary["groups"]["phone"]["strategy"] == "threshold(2 Mbps)"
    # every upload ends where the same on/off path, integrated by StepChannel, says it does
    steps = StepChannel([0.0, 20.0], [5.85e6, 0.0], "loop", 30.0)
    sent = requests[requests["uplink_s"] > 0]
    assert len(sent) > 50
    for start, duration, size in zip(sent["uplink_start_at_s"], sent["uplink_s"], sent["bytes_sent_up"], strict=True):
        assert start + duration == pytest.approx(steps.finish_time(start, size * 8), abs=1e-9)


def test_threshold_decisions_replay_from_the_records(example_result):
    """Each decision follows the rule applied to what the device knew at the arrival: the last upload
    sample (requests at their server arrival, probes when read) and the age of its last returned probe."""
    requests, probes = example_result.requests, example_result.probes
    samples = [(t, b * 8 / s) for t, b, s in zip(requests["server_arrival_at_s"], requests["bytes_sent_up"],
                                                  requests["uplink_s"], strict=True) if s > 0 and not math.isnan(t)]
    samples += [(t, b * 8 / s) for t, b, s in zip(probes["read_at_s"], probes["bytes_up"], probes["uplink_s"],
                                                  strict=True) if s > 0 and not math.isnan(t)]
    samples.sort()
    returned = sorted((r, read) for r, read in zip(probes["received_at_s"], probes["read_at_s"], strict=True)
                      if not math.isnan(r))
    checked = 0
    for at, split in zip(requests["arrival_at_s"], requests["split"], strict=True):
        if any(abs(at - t) < 1e-9 for t, _ in samples) or any(abs(at - r) < 1e-9 for r, _ in returned):
            continue  # a tie between an update and the decision: order not asserted
        known = [bps for t, bps in samples if t < at]
        last_bps = known[-1] if known else 5e6
        reads = [read for r, read in returned if r < at]
        stale = bool(reads) and at - max(reads) > 2.0
        assert split == (8 if last_bps >= 2e6 and not stale else 17), at
        checked += 1
    assert checked > 150


def test_cli_runs_a_scenario_with_plugins_and_copies_them(tmp_path):
    done = _cli("run", EXAMPLE, "--out", tmp_path / "run", "--set", "duration_s=20")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "run" / "plugins").iterdir()) == [
        "duty_cycle_channel.py", "threshold_strategy.py"]
    again = _cli("run", tmp_path / "run" / "scenario.yaml", "--out", tmp_path / "again")
    assert again.returncode == 0, again.stderr  # the folder's own copy of the plugins reruns it


def test_plugin_errors_name_the_plugin(tmp_path):
    scenario = tmp_path / "s.yaml"
    text = EXAMPLE.read_text().replace("../../scenarios/", str(REPO / "scenarios") + "/")
    scenario.write_text(text.replace("plugins: [duty_cycle_channel.py, threshold_strategy.py]",
                                     "plugins: [missing.py]"))
    done = _cli("validate", scenario)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "plugins.0: expected a Python file, got 'missing.py'" in done.stderr
    (tmp_path / "broken.py").write_text("raise RuntimeError('half-written plugin')\n")
    scenario.write_text(text.replace("plugins: [duty_cycle_channel.py, threshold_strategy.py]", "plugins: [broken.py]"))
    done = _cli("validate", scenario)
    assert done.returncode == 2 and "plugins.0: RuntimeError loading broken.py: half-written plugin" in done.stderr
    scenario.write_text(text.replace("plugins: [duty_cycle_channel.py, threshold_strategy.py]", "plugins: []"))
    done = _cli("validate", scenario)
    assert done.returncode == 2
    assert ("network.uplink.kind: expected kind 'constant', 'steps', 'markov', 'fading', 'trace', 'cellular', "
            "got 'duty_cycle'") in done.stderr


def test_fields_of_a_plugin_block_are_checked_like_built_ins(tmp_path):
    data = load_scenario(EXAMPLE).model_dump(mode="json")
    for field, value, message in (("on_s", -1, "network.uplink.on_s: expected a number > 0.0, got -1"),
                                  ("rate_mbps", float("inf"), "network.uplink.rate_mbps: expected a finite number"),
                                  ("bogus", 1, "network.uplink.bogus: unknown field; expected one of ['delay_ms', "
                                               "'kind', 'loss', 'off_s', 'on_s', 'rate_mbps', 'sharing']")):
        bad = {**data, "network": {**data["network"], "uplink": {**data["network"]["uplink"], field: value}}}
        with pytest.raises(InputError) as error:
            validate_scenario(bad, source="s.yaml")
        assert message in str(error.value)
    bad = {**data, "strategy": {**data["strategy"], "split": 99}}
    from simsplit.engine.setup import build_setup
    with pytest.raises(InputError, match=r"strategy\.split: expected a \(split, bottleneck\) row"):
        build_setup(validate_scenario(bad, source="s.yaml"))


def test_run_key_follows_the_plugin_code(tmp_path):
    """Copies of the plugins elsewhere key the same run (and load nothing twice); editing a plugin changes
    the key, and loading the edited file again replaces its own kinds."""
    from simsplit.output.provenance import run_key
    folder = tmp_path / "copy"
    shutil.copytree(EXAMPLE.parent, folder)
    text = (folder / "scenario.yaml").read_text().replace("../../scenarios/", str(REPO / "scenarios") + "/")
    (folder / "scenario.yaml").write_text(text)
    assert run_key(load_scenario(EXAMPLE)) == run_key(load_scenario(folder / "scenario.yaml"))
    channel = (folder / "duty_cycle_channel.py").read_text().replace('"duty_cycle"', '"duty_cycle_2"')
    (folder / "duty_cycle_channel.py").write_text(channel)
    (folder / "scenario.yaml").write_text(text.replace("kind: duty_cycle,", "kind: duty_cycle_2,"))
    before = run_key(load_scenario(folder / "scenario.yaml"))
    (folder / "duty_cycle_channel.py").write_text(channel.replace("rate_mbps * 1e6", "rate_mbps * 0.5e6"))
    edited = load_scenario(folder / "scenario.yaml")
    assert run_key(edited) != before
    from simsplit.model.channel.link import channels
    halved = channels["duty_cycle_2"].build(edited.network.uplink, None)
    assert halved.rate_bps == 5.85e6 / 2  # the edited code is what runs


def test_entry_points_extend_simsplit_without_a_plugins_field(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    shutil.copy(CHANNEL_FILE, site / "dutyplug.py")
    (site / "broken_plug.py").write_text("raise ImportError('no such thing')\n")
    info = site / "dutyplug-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: dutyplug\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[simsplit.channels]\nduty_cycle = dutyplug\n")
    scenario = tmp_path / "s.yaml"
    text = EXAMPLE.read_text().replace("../../scenarios/", str(REPO / "scenarios") + "/")
    scenario.write_text(text.replace("plugins: [duty_cycle_channel.py, threshold_strategy.py]", "")
                        .replace("{kind: threshold, split: 8, bottleneck: bottlenet, threshold_mbps: 2, stale_s: 2}",
                                 "{kind: fixed, split: 8, bottleneck: bottlenet}"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    done = _cli("validate", scenario, env=env)
    assert done.returncode == 0, done.stderr
    listed = _cli("kinds", "channels", env=env)
    assert "duty_cycle" in listed.stdout
    (info / "entry_points.txt").write_text("[simsplit.channels]\nduty_cycle = broken_plug\n")
    done = _cli("validate", scenario, env=env)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "entry point duty_cycle = broken_plug: simsplit.channels: ImportError: no such thing" in done.stderr


# ---------------------------------------------------------------- the registry itself
class _Block(Config):
    kind: Literal["mine"]


def test_registering_checks_names_blocks_and_conflicts():
    registry = Registry("things")
    build = lambda config: config  # noqa: E731
    registry.register("mine", _Block, build)
    registry.register("mine", _Block, build)  # the same registration again is a no-op
    def other(config):
        return None
    other.__module__ = "another_plugin"
    with pytest.raises(ValueError,
                       match="already registered by tests?.?test_plugins|already registered by test_plugins"):
        registry.register("mine", _Block, other)
    with pytest.raises(ValueError, match="Literal\\['other'\\]"):
        registry.register("other", _Block, build)
    with pytest.raises(ValueError, match="lower-case"):
        registry.register("Mine", _Block, build)
    decorated = registry.register("mine", _Block)(build)
    assert decorated is build and registry.names() == ["mine"]
    with pytest.raises(KeyError):
        registry["absent"]


def test_every_built_in_kind_is_registered_and_documented():
    from simsplit.cli.catalog import markdown
    expected = {"channels": ["constant", "steps", "markov", "fading", "trace", "cellular"],
                "strategies": ["local", "full_offload", "fixed", "neurosurgeon", "edgent", "dynamic", "distribution",
                               "mpc", "linucb", "oracle"],
                "arrivals": ["periodic", "poisson", "closed_loop"],
                "background": ["poisson", "utilisation_steps", "mmpp", "diurnal"],
                "disciplines": ["fifo", "edf"], "estimators": ["ewma", "harmonic", "quantile"],
                "mobility": ["static", "random_waypoint", "route", "trace"]}
    built_in = {family: [k.name for k in registry.kinds() if k.origin.startswith("simsplit.")]
                for family, registry in FAMILIES.items()}
    assert built_in == expected
    text = markdown()
    built_in_doc = text.split("\n### `")  # plugins loaded by other tests in this process are marked by origin
    assert all(kind.summary for registry in FAMILIES.values() for kind in registry.kinds())
    assert len(built_in_doc) > sum(map(len, expected.values()))


def test_docs_list_of_kinds_is_generated_from_the_registries():
    done = _cli("kinds", "--markdown")
    assert done.returncode == 0, done.stderr
    assert (REPO / "docs" / "kinds.md").read_text() == done.stdout, \
        "docs/kinds.md is stale: regenerate it with `simsplit kinds --markdown > docs/kinds.md`"


def test_a_plugin_discipline_orders_the_server_queue(tmp_path):
    """Last come first served, registered from a file: on one worker the jobs waiting behind a busy server
    start newest first."""
    plugin = tmp_path / "lcfs.py"
    plugin.write_text('''
from simsplit.model.queues import register_discipline


class LastComeFirstServed(list):
    push = list.append

    def jobs(self):
        return self[::-1]

    def remove(self, jobs):
        chosen = set(map(id, jobs))
        self[:] = [job for job in self if id(job) not in chosen]


register_discipline("lcfs", LastComeFirstServed)
''')
    from conftest import queue_scenario
    data = queue_scenario(tmp_path, rate_hz=50.0, service_ms=30.0, duration_s=20.0, warmup_s=0.0)
    data["server"]["discipline"] = "lcfs"
    data["plugins"] = [str(plugin)]
    result = simulate(validate_scenario(data))
    done = result.requests.sort_values("service_start_at_s")
    waited = done[done["server_wait_s"] > 0]
    assert len(waited) > 100
    # whenever a job starts after waiting, no job that arrived later was still waiting (LCFS picks the newest)
    for start, arrival in zip(waited["service_start_at_s"], waited["server_arrival_at_s"], strict=True):
        later = done[(done["server_arrival_at_s"] > arrival) & (done["server_arrival_at_s"] <= start)
                     & (done["service_start_at_s"] > start)]
        assert later.empty
    fifo = pd.Series(done["server_arrival_at_s"].to_numpy()).is_monotonic_increasing
    assert not fifo


def test_a_block_must_subclass_its_family_base():
    """What simsplit asks of a kind it does not know (a link's delay and peak rate, an arrival process's
    workload, a background stream's peak rate) comes from the family's base block."""
    import simsplit

    class Bare(Config):
        kind: Literal["bare"]
    for register in (simsplit.register_channel, simsplit.register_arrivals, simsplit.register_background):
        with pytest.raises(ValueError, match="must subclass"):
            register("bare", Bare, lambda *args: None)
