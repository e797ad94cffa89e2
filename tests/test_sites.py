"""Many sites of one scenario: their own seeds and drawn fields, merged summaries equal to the pooled runs,
the same bytes for any number of workers, and the quantile sketch's error bound."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from simsplit import simulate
from simsplit.cli import app
from simsplit.core.errors import InputError
from simsplit.output.tally import RELATIVE_ERROR, LogSketch
from simsplit.scenario import load_scenario
from simsplit.studies.sites import run_sites, site_scenario, site_seed, site_values

REPO = Path(__file__).resolve().parents[1]
DEFAULT = REPO / "scenarios" / "default.yaml"
CITY = REPO / "scenarios" / "city.yaml"
VARY = ("sites.vary=[{field: network.uplink.delay_ms, uniform: [1, 30]}, "
        "{field: devices.0.count, choice: [3, 6]}, {field: server.workers, choice: [1, 2]}]")
runner = CliRunner()


def small_sites(count=4, *more):
    return load_scenario(DEFAULT, [f"sites.count={count}", VARY, "duration_s=40", "warmup_s=5", *more])


def test_sketch_quantiles_are_within_the_relative_error_of_the_order_statistics():
    rng = np.random.default_rng(3)
    values = np.concatenate([rng.lognormal(-3, 1.5, 20_000), np.zeros(30), rng.uniform(0.01, 0.02, 5000)])
    sketch, halves = LogSketch(1e-9, 1e7), [LogSketch(1e-9, 1e7), LogSketch(1e-9, 1e7)]
    sketch.add(values)
    halves[0].add(values[:7000])
    halves[1].add(values[7000:])
    halves[0].merge(halves[1])
    ordered = np.sort(values)
    for q in (0.0, 0.001, 0.01, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0):
        rank = q * (values.size - 1)
        low, high = ordered[int(np.floor(rank))], ordered[int(np.ceil(rank))]
        estimate = sketch.quantile(q)
        assert low * (1 - RELATIVE_ERROR) <= estimate <= high * (1 + RELATIVE_ERROR) + 1e-300, q
        assert halves[0].quantile(q) == estimate  # merging two halves is the sketch of the whole
    assert sketch.clamped == 0 and LogSketch(1, 10).quantile(0.5) != LogSketch(1, 10).quantile(0.5)  # NaN empty


def test_each_site_has_its_own_seed_and_draws():
    scenario = small_sites(6)
    seeds = [site_seed(scenario.seed, k) for k in range(6)]
    assert len(set(seeds)) == 6 and seeds == [site_seed(scenario.seed, k) for k in range(6)]
    for k in range(6):
        values = site_values(scenario, k)
        assert 1 <= values["network.uplink.delay_ms"] < 30 and values["devices.0.count"] in (3, 6)
        own = site_scenario(scenario, k)
        assert own.sites is None and own.seed == seeds[k]
        assert own.network.uplink.delay_ms == values["network.uplink.delay_ms"]
        assert own.devices[0].count == values["devices.0.count"]
        assert own.server.workers == values["server.workers"]
    assert len({site_values(scenario, k)["network.uplink.delay_ms"] for k in range(6)}) == 6
    bigger = small_sites(60)  # adding sites changes none of the first ones
    assert [site_values(bigger, k) for k in range(6)] == [site_values(scenario, k) for k in range(6)]


def test_merged_summary_equals_the_pooled_sites_and_any_worker_count(tmp_path):
    scenario = small_sites(4, "records=all")
    one = run_sites(scenario, tmp_path / "one", workers=1)
    two = run_sites(scenario, tmp_path / "two", workers=2)

    def strip(s):
        return json.dumps({k: v for k, v in s.items() if k != "provenance"}, sort_keys=True)

    assert strip(one) == strip(two)
    assert (tmp_path / "one" / "summary.json").read_text() == (tmp_path / "two" / "summary.json").read_text()
    frames = [simulate(site_scenario(scenario, k)).requests.drop(columns="measured") for k in range(4)]
    pooled = pd.concat(frames, ignore_index=True)
    parts = pd.concat([pd.read_parquet(p) for p in sorted((tmp_path / "one" / "requests").glob("*.parquet"))],
                      ignore_index=True)
    pd.testing.assert_frame_equal(parts, pooled, check_exact=True)
    measured = pooled[pooled["arrival_at_s"] >= scenario.warmup_s]
    done = measured[measured["status"] == "completed"]
    assert one["generated"] == len(measured) and one["completed"] == len(done)
    assert one["latency_s"]["mean"] == pytest.approx(done["latency_s"].mean(), rel=1e-12)
    assert one["energy_j"]["total"] == pytest.approx(done["energy_j"].mean(), rel=1e-12)
    assert one["accuracy"] == pytest.approx(done["accuracy"].mean(), rel=1e-12)
    ordered = np.sort(done["latency_s"].to_numpy())
    for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        rank = q * (ordered.size - 1)
        low, high = ordered[int(np.floor(rank))], ordered[int(np.ceil(rank))]
        assert low * (1 - RELATIVE_ERROR) <= one["latency_s"][name] <= high * (1 + RELATIVE_ERROR)
    site_means = [f.loc[(f["arrival_at_s"] >= 5) & (f["status"] == "completed"), "latency_s"].mean() for f in frames]
    low, high = one["latency_s"]["ci95"]["mean"]
    assert (low + high) / 2 == pytest.approx(one["latency_s"]["mean"], rel=1e-12)  # centred on the pooled mean
    assert low < np.mean(site_means) < high
    for name, group in one["groups"].items():
        assert group["completed"] == int((done["group"] == name).sum())
    table = pd.read_csv(tmp_path / "one" / "sites.csv")
    assert list(table["site"]) == [0, 1, 2, 3] and table["completed"].sum() == one["completed"]
    assert one["engine"] == {"requested": "auto", "used": {"fast": 4}}
    # busy time over all sites' servers, against the pooled table
    capacity = sum(site_scenario(scenario, k).server.workers for k in range(4)) * (40 - 5)
    assert 0 < one["servers"]["edge"]["utilisation"] * capacity <= pooled["server_s"].sum()


@pytest.mark.slow
def test_dask_gives_the_same_summary(tmp_path):
    scenario = small_sites(3)
    local = run_sites(scenario, workers=1)
    dask = run_sites(scenario, workers=2, scheduler="local")
    assert {k: v for k, v in local.items() if k != "provenance"} == {k: v for k, v in dask.items() if k != "provenance"}


def test_sites_run_from_the_command_line(tmp_path):
    out = tmp_path / "city"
    result = runner.invoke(app, ["run", str(CITY), "--set", "duration_s=6", "--set", "warmup_s=1", "--set",
                                 "sites.count=3", "--set", "devices.0.count=5", "--workers", "2", "--out", str(out),
                                 "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["sites"] == 3 and summary["engine"]["used"] == {"fast": 3}
    scenario = load_scenario(CITY, ["duration_s=6", "warmup_s=1", "sites.count=3", "devices.0.count=5"])
    assert summary["generated"] == sum(simulate(site_scenario(scenario, k)).summary["generated"] for k in range(3))
    assert abs(summary["generated"] - 3 * 5 * 10 * 5) <= 15  # 10 Hz after 1 s of warm-up, +-1 per camera
    assert {p.name for p in out.iterdir()} >= {"summary.json", "sites.csv", "scenario.yaml"}
    assert not (out / "requests").exists()  # records: none keeps no rows, and no empty folder
    for command in ("plot", "report"):  # drawn without rows (records: none): from sites.csv and the summary
        drawn = runner.invoke(app, [command, str(out)])
        assert drawn.exit_code == 0, drawn.output
    again = runner.invoke(app, ["run", str(out / "scenario.yaml"), "--out", str(tmp_path / "again"), "--json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.output)["latency_s"] == summary["latency_s"]


@pytest.mark.parametrize("override, message", [
    ("sites.count=0", r"sites\.count"),
    ("sites.count=1e9", r"sites\.count"),
    ("sites.count=2.5", r"sites\.count"),
    ("sites.vary=[{field: network.uplink.nope, uniform: [0, 1]}]", r"sites\.vary\.0\.field: expected a field"),
    ("sites.vary=[{field: network.uplink.offset_s, uniform: [5, 1]}]", r"low <= high"),
    ("sites.vary=[{field: network.uplink.offset_s, uniform: [0, .nan]}]", r"sites\.vary\.0\.uniform"),
    ("sites.vary=[{field: network.uplink.offset_s, choice: []}]", r"sites\.vary\.0\.choice"),
    ("sites.vary=[{field: seed, choice: [1, 2]}]", r"cannot vary seed"),
    ("sites.vary=[{field: network.uplink.delay_ms, uniform: [-5, -1]}]", r"\(site 0\): network\.uplink\.delay_ms"),
    ("sites.vary=[{field: devices.0.count, choice: [two]}]", r"\(site 0\): devices\.0\.count"),
])
def test_bad_sites_blocks_exit_2_naming_the_field(tmp_path, override, message):
    result = runner.invoke(app, ["run", str(CITY), "--set", override, "--set", "duration_s=2", "--set", "warmup_s=0",
                                 "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1
    assert __import__("re").search(message, result.output), result.output
    assert not (tmp_path / "out").exists()


def test_validate_and_the_estimate_speak_of_sites():
    result = runner.invoke(app, ["validate", str(CITY), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["sites"] == 100 and report["estimate"]["requests"] == 100 * 10 * 3600
    assert report["estimate"]["memory_bytes"] < 1.5e9  # one window of the fast path, not the site's rows
    refused = runner.invoke(app, ["run", str(CITY), "--set", "sites.count=100000", "--out", "unused"])
    assert refused.exit_code == 2 and "100,000 runs of" in refused.output, refused.output


def test_a_single_run_of_a_sites_scenario_is_refused():
    with pytest.raises(InputError, match="sites: expected a scenario of one site"):
        simulate(small_sites(2))


@pytest.mark.parametrize("option", [["--workers", "2"], ["--scheduler", "local"]])
def test_parallel_options_without_sites_exit_2(tmp_path, option):
    result = runner.invoke(app, ["run", "scenarios/default.yaml", *option, "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1, result.output
    assert option[0] in result.output and not (tmp_path / "out").exists()


def test_tally_columns_without_a_table_equal_the_tables():
    """A site that writes no rows builds only the columns its tally reads, categories as codes: the same
    numbers as the table's columns, and the same tally."""
    from simsplit.engine.des import Engine
    from simsplit.engine.setup import build_setup
    from simsplit.output.results import request_columns
    from simsplit.studies.sites import new_tally
    scenario = site_scenario(small_sites(2, "deadline_s=0.06"), 1)
    setup = build_setup(scenario)
    run = Engine(setup, scenario.seed).run()
    full = request_columns(setup, run, run.columns["tail_j"])
    lean = request_columns(setup, run, run.columns["tail_j"], table=False)
    assert set(full) - set(lean) == {"server", "deadline_met"} and set(lean) <= set(full)
    for name, values in lean.items():
        expected = full[name].codes if hasattr(full[name], "codes") else np.asarray(full[name])
        np.testing.assert_array_equal(np.asarray(values), expected, err_msg=name)
    tallies = [new_tally(setup), new_tally(setup)]
    tallies[0].add(full)
    tallies[1].add(lean)
    assert json.dumps(tallies[0].block(0)) == json.dumps(tallies[1].block(0))


def test_the_ratio_interval_is_the_t_interval_of_the_means_for_equal_clusters_and_centred_on_the_pooled_mean():
    """Against scipy's t-interval of the cluster means (equal counts), and, for unequal counts, against the
    interval of a bootstrap of whole clusters (a separate computation: within 15% of its width)."""
    from scipy import stats

    from simsplit.core.stats import ratio_interval
    rng = np.random.default_rng(5)
    means = rng.normal(0.05, 0.01, 8)
    low, high = ratio_interval(means * 100, np.full(8, 100.0))
    want = stats.t.interval(0.95, 7, loc=means.mean(), scale=stats.sem(means))
    assert low == pytest.approx(want[0], rel=1e-12) and high == pytest.approx(want[1], rel=1e-12)
    counts = rng.integers(50, 500, 40).astype(float)
    sums = counts * rng.normal(0.05, 0.01, 40) + rng.normal(0, 0.2, 40)
    low, high = ratio_interval(sums, counts)
    assert (low + high) / 2 == pytest.approx(sums.sum() / counts.sum(), rel=1e-12)
    picks = rng.integers(0, 40, (20_000, 40))
    boot = sums[picks].sum(axis=1) / counts[picks].sum(axis=1)
    b_low, b_high = np.quantile(boot, [0.025, 0.975])
    assert (high - low) == pytest.approx(b_high - b_low, rel=0.15)


def test_the_merged_sites_carry_the_servers_dynamic_energy_per_request():
    """Against each site run alone: its summary's dynamic J per request times its completed requests, summed
    over the sites, over their completed requests."""
    scenario = small_sites(3, 'server.power={"idle_w": 15, "busy_w": 250}')
    merged = run_sites(scenario)
    name = scenario.server_list[0].name
    joules = served = 0.0
    for site in range(3):
        alone = simulate(site_scenario(scenario, site)).summary
        joules += alone["servers"][name]["dynamic_j_per_request"] * alone["completed"]
        served += alone["completed"]
    assert merged["servers"][name]["dynamic_j_per_request"] == pytest.approx(joules / served, rel=1e-9)


def test_a_sites_folder_is_drawn_and_reported(tmp_path):
    """plot and report take a sites folder: each site's latency ranked (read back from the figure against
    sites.csv), the merged breakdowns, and a report listing the sites; records: none leaves no requests/."""
    from simsplit.cli import main
    from simsplit.figures.sites_figures import sites_latency_figure
    scenario = small_sites(4)
    summary = run_sites(scenario, tmp_path / "s")
    assert main(["plot", str(tmp_path / "s")]) == 0 and main(["report", str(tmp_path / "s")]) == 0
    names = {p.stem for p in (tmp_path / "s" / "figures").iterdir()}
    assert {"latency-by-site", "latency-breakdown", "energy-breakdown"} <= names
    html = (tmp_path / "s" / "report.html").read_text()
    assert re.search(r"<h2 id=.section-[0-9]+.>Sites</h2>", html) and "4 sites, the slowest first" in html
    table = pd.read_csv(tmp_path / "s" / "sites.csv")
    fig = sites_latency_figure(table, summary["latency_s"]["mean"])
    means, p95s, merged = fig.axes[0].lines
    order = np.argsort(table["latency_mean_s"].to_numpy(), kind="stable")
    np.testing.assert_array_equal(means.get_ydata(), table["latency_mean_s"].to_numpy()[order] * 1e3)
    np.testing.assert_array_equal(p95s.get_ydata(), table["latency_p95_s"].to_numpy()[order] * 1e3)
    assert merged.get_ydata()[0] == summary["latency_s"]["mean"] * 1e3
    none = run_sites(small_sites(2, "records=none"), tmp_path / "n")
    assert none["sites"] == 2 and not (tmp_path / "n" / "requests").exists()


def test_a_sites_summary_says_why_an_interval_is_missing(tmp_path, capsys):
    """A sites run's mean interval is across sites and its quantiles come from a merged sketch: one site prints
    '- (needs 2 sites)' and '- (none for merged sites)', never a count of completions it already has."""
    from simsplit.cli.experiments import print_summary
    summary = run_sites(small_sites(1), tmp_path / "one")
    print_summary(summary)
    shown = capsys.readouterr().out
    assert "- (needs 2 sites)" in shown and "- (none for merged sites)" in shown and "completed)" not in shown
