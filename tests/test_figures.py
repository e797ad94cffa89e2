"""Figures and reports: what each figure draws checked against the tables it comes from (the comparison's
per-strategy latency quantiles against the definition of a quantile, stacked parts against the totals),
the paper style's sizes and reproducible bytes, panels left out when they would be empty, grouped bars for
categorical sweep factors, and the HTML report in a real headless browser."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import REPO

from simsplit.cli import main
from simsplit.figures.style import STYLES, parse_formats, save
from simsplit.scenario import load_scenario
from simsplit.studies.compare import LEVELS, compare, variants
from simsplit.studies.simulation import simulate

DEFAULT = REPO / "scenarios" / "default.yaml"
SHORT = ["duration_s=14", "warmup_s=2"]


@pytest.fixture(scope="module")
def compare_folder(tmp_path_factory) -> Path:
    """A small comparison of the default scenario (two seeds, five strategies) written by the CLI."""
    folder = tmp_path_factory.mktemp("compare") / "c"
    assert main(["compare", str(DEFAULT), "--seeds", "2", "--set", SHORT[0], "--set", SHORT[1], "--out", str(folder),
                 "--only", "local", "--only", "full_offload(jpeg)", "--only", "fixed(1, bottlenet)",
                 "--only", "fixed(8, bottlenet)", "--only", "dynamic", "--only", "oracle"]) == 0
    return folder


def test_strategy_quantiles_follow_the_definition_of_a_quantile():
    """Each run's latency at level q is the smallest latency with at least a share q of the measured completed
    requests at or below it (checked by counting on the run's own request table)."""
    scenario = load_scenario(DEFAULT, SHORT)
    names = ["fixed(1, bottlenet)", "full_offload(jpeg)"]
    _, table, quantiles = compare(scenario, [5], names)
    assert len(quantiles) == len(names) * LEVELS.size
    from simsplit.studies.compare import with_strategy
    for name in names:
        requests = simulate(with_strategy(scenario, variants(scenario)[name]), seed=5).requests
        done = requests[(requests["arrival_at_s"] >= scenario.warmup_s) & (requests["status"] == "completed")]
        latency = np.sort(done["latency_s"].to_numpy())
        mine = quantiles[quantiles["strategy"] == name]
        for level, value in zip(mine["level"], mine["latency_s"], strict=True):
            at_or_below = np.count_nonzero(latency <= value) / latency.size
            below = np.count_nonzero(latency < value) / latency.size
            assert at_or_below >= level - 1e-12 and below < max(level, 1e-12)
        assert mine["latency_s"].iloc[-1] == latency[-1] and mine["latency_s"].iloc[0] == latency[0]
        # the comparison's mean and p95 come from the same requests
        row = table.set_index("strategy").loc[name]
        assert row["latency_mean_s"] == pytest.approx(latency.mean(), rel=1e-12)


def test_stacked_parts_add_up_to_the_totals(compare_folder):
    """Per strategy, the latency parts the per-split figure stacks add up to the mean latency, and the energy
    components to the energy per request (each run, then the mean over seeds)."""
    from simsplit.figures.run_figures import LATENCY_STAGES
    from simsplit.studies.compare import ENERGY_KEYS
    table = pd.read_csv(compare_folder / "compare.csv")
    stacked = sum(table[p].fillna(0.0) for _, parts in LATENCY_STAGES for p in parts)
    assert np.allclose(stacked, table["latency_mean_s"], rtol=1e-9)
    energy = sum(table[f"energy_{key}_j"].fillna(0.0) for key in ENERGY_KEYS)
    assert np.allclose(energy, table["energy_j"], rtol=1e-9)
    runs = pd.read_csv(compare_folder / "runs.csv")
    local = runs[runs["strategy"] == "local"]
    assert (local["bytes_up"] == 0).all() and (local["energy_uplink_j"] == 0).all()
    offload = table.set_index("strategy").loc["full_offload(jpeg)"]
    assert offload["bytes_up"] > 1000 and offload["head_s"] < 0.005  # input encoding only


def test_compare_figures_in_paper_style_are_reproducible(compare_folder, tmp_path):
    """``simsplit plot --style paper`` writes every comparison figure as PDF and PNG at one-column width (3.5 in at
    300 dpi) into figures/paper/, untitled (the caption carries the title), with the same bytes when drawn
    twice, and leaves the screen figures of the same names as they were."""
    work = tmp_path / "c"
    shutil.copytree(compare_folder, work)
    assert main(["plot", str(work)]) == 0
    screen = {p.name: p.read_bytes() for p in (work / "figures").iterdir() if p.is_file()}
    assert main(["plot", str(work), "--style", "paper"]) == 0
    paper = work / "figures" / "paper"
    first = {p.name: p.read_bytes() for p in paper.iterdir()}
    expected = {"pareto-energy-latency", "latency-by-strategy", "energy-by-strategy", "regret-by-strategy",
                "latency-cdf-by-strategy", "latency-by-split", "energy-by-split", "rate-accuracy",
                "timeseries-dynamic", "timeseries-oracle"}
    assert {f"{name}.{suffix}" for name in expected for suffix in ("pdf", "png")} == set(first)
    assert {p.name: p.read_bytes() for p in (work / "figures").iterdir() if p.is_file()} == screen
    from PIL import Image
    with Image.open(paper / "rate-accuracy.png") as image:
        assert image.size[0] == round(3.5 * 300)
    with Image.open(paper / "timeseries-dynamic.png") as image:
        assert image.size[0] == round(7.16 * 300)  # time series span both columns
    assert main(["plot", str(work), "--style", "paper"]) == 0
    assert {p.name: p.read_bytes() for p in paper.iterdir()} == first
    assert main(["plot", str(work), "--style", "paper", "--format", "svg"]) == 0
    titled = (work / "figures" / "latency-by-split.svg").read_text()
    untitled = (paper / "latency-by-split.svg").read_text()
    assert "latency by stage" in titled and "latency by stage" not in untitled
    assert main(["plot", str(work), "--format", "svg"]) == 0
    assert (work / "figures" / "latency-by-split.svg").read_text().count("<svg") == 1


@pytest.mark.parametrize("args", [["--style", "poster"], ["--format", "gif"], ["--format", ","]])
def test_plot_refuses_unknown_styles_and_formats(compare_folder, capsys, args):
    assert main(["plot", str(compare_folder), *args]) == 2
    message = capsys.readouterr().err.strip()
    assert message.count("\n") == 0 and ("--style" in message or "--format" in message)


def test_parse_formats():
    assert parse_formats("PDF, png,pdf") == ("pdf", "png") and parse_formats(None) is None
    with pytest.raises(ValueError, match="tiff"):
        parse_formats("png,tiff")


def test_time_series_leaves_out_empty_panels_and_shades_phases():
    """A constant uplink and a queue that never forms give no panel, and the title says so; the latency panel
    draws the deadline; phases are shaded."""
    from simsplit.figures.timeseries import timeseries_figure
    scenario = load_scenario(DEFAULT, SHORT)
    result = simulate(scenario, monitor_period_s=0.5)
    series = result.timeseries.copy()
    series["uplink_bps"] = 5e6
    series["edge_queue"] = 0
    fig = timeseries_figure(series, result.requests, result.setup.profile.local_split, "edge", "t",
                            deadline_s=0.05, phases_s=[0, 5, 10, 14])
    assert len(fig.axes) == 2 and "uplink constant at 5 Mbps" in fig.axes[0].get_title()
    assert "edge queue always empty" in fig.axes[0].get_title()
    latency = fig.axes[0]
    assert any(np.allclose(line.get_ydata(), [50.0]) for line in latency.get_lines())  # the deadline, in ms
    assert len([p for p in latency.patches]) == 1  # one shaded phase of three (alternate ones)
    full = timeseries_figure(result.timeseries, result.requests, result.setup.profile.local_split, "edge")
    assert len(full.axes) == 2 + int(result.timeseries["edge_queue"].max() > 0) + \
        int(result.timeseries["uplink_bps"].nunique() > 1)


def test_time_series_colours_device_0s_splits_by_bottleneck_when_it_adapts_the_rate():
    from simsplit.figures.timeseries import timeseries_figure
    result = simulate(load_scenario(DEFAULT, SHORT), monitor_period_s=0.5)
    requests = result.requests.copy()

    def labels(fig):
        return {line.get_label() for line in fig.axes[-1].get_lines()}

    one = timeseries_figure(result.timeseries, requests, result.setup.profile.local_split, "edge")
    assert not any(":" in label for label in labels(one))
    mine = (requests["device"] == 0).to_numpy() & (requests["split"] != result.setup.profile.local_split).to_numpy()
    codec = requests["bottleneck"].astype(str)
    codec[np.flatnonzero(mine)[::2]] = "rate-low"
    requests["bottleneck"] = codec.astype("category")
    two = timeseries_figure(result.timeseries, requests, result.setup.profile.local_split, "edge")
    assert {label for label in labels(two) if ":" in label} == \
        {f"device 0 ({requests['group'].iloc[0]}): {c}" for c in set(codec[mine])}


def test_sweep_curves_are_lines_for_numbers_and_grouped_bars_for_categories():
    from simsplit.figures.sweep_figures import sweep_curve_figure
    table = pd.DataFrame({"strategy": pd.Categorical(["a", "b", "c"] * 2), "net": pd.Categorical(["x"] * 3 + ["y"] * 3),
                          "rate": [1.0, 2.0, 4.0] * 2, "latency_mean_s": [0.01, 0.02, 0.03, 0.02, 0.03, 0.05]})
    table["latency_mean_s_low"] = table["latency_mean_s"] * 0.9
    table["latency_mean_s_high"] = table["latency_mean_s"] * 1.1
    bars = sweep_curve_figure(table, "latency_mean_s", 1e3, "mean latency (ms)", "strategy", "net")
    heights = sorted(round(p.get_height(), 9) for p in bars.axes[0].patches)
    assert heights == sorted(round(v * 1e3, 9) for v in table["latency_mean_s"])  # one bar per configuration
    assert [t.get_text() for t in bars.axes[0].get_xticklabels()] == ["a", "b", "c"]
    lines = sweep_curve_figure(table, "latency_mean_s", 1e3, "mean latency (ms)", "rate", "net")
    assert not lines.axes[0].patches and len(lines.axes[0].get_lines()) >= 2
    drawn = lines.axes[0].get_lines()[0]
    assert list(drawn.get_xdata()) == [1.0, 2.0, 4.0] and np.allclose(drawn.get_ydata(), [10, 20, 30])


def test_saved_files_carry_no_dates(tmp_path):
    """PDF and SVG written twice a second apart are byte-identical (no creation date, fixed ids)."""
    import time

    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    ax.plot([1, 2], [3, 4])
    first = [p.read_bytes() for p in save(fig, tmp_path / "a", STYLES["paper"], ("pdf", "svg"))]
    time.sleep(1.1)
    fig, ax = plt.subplots()
    ax.plot([1, 2], [3, 4])
    assert [p.read_bytes() for p in save(fig, tmp_path / "a", STYLES["paper"], ("pdf", "svg"))] == first


def test_result_plot_methods_return_figures():
    import matplotlib.figure
    result = simulate(load_scenario(REPO / "scenarios" / "dynamic-under-load.yaml", ["duration_s=12"]),
                      monitor_period_s=0.5)
    for name in ("latency_cdf", "latency_breakdown", "energy_breakdown", "timeseries"):
        fig = getattr(result.plot, name)(style="paper")
        assert isinstance(fig, matplotlib.figure.Figure) and fig.get_size_inches()[0] in (3.5, 7.16)
    with pytest.raises(ValueError, match="not monitored"):
        simulate(load_scenario(DEFAULT, SHORT)).plot.timeseries()
    with pytest.raises(ValueError, match="style"):
        result.plot.latency_cdf(style="poster")
    assert ".plot" in repr(result) and len(repr(result)) < 400
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3)  # the user's own grid: each method draws on the Axes it is given
    for ax, name in zip(axes, ("latency_cdf", "latency_breakdown", "energy_breakdown"), strict=True):
        assert getattr(result.plot, name)(ax=ax) is fig
    done = result.requests[(result.requests["status"] == "completed") &
                           (result.requests["arrival_at_s"] >= result.scenario.warmup_s)]
    steps = [np.asarray(line.get_xdata(), dtype=float) for line in axes[0].lines]
    drawn = np.concatenate([x for x in steps if x.size > 2])  # the groups' steps, not the deadline's line
    assert np.array_equal(np.sort(drawn), np.sort(done["latency_s"].to_numpy() * 1e3))
    assert all(len(ax.patches) > 0 for ax in axes[1:])
    plt.close(fig)


def test_run_cdf_counts_only_measured_requests(tmp_path):
    """The run's latency CDF draws the requests the summary counts (after the warm-up), no others."""
    from simsplit.figures.folder_figures import figures_for_run
    scenario = load_scenario(DEFAULT, ["duration_s=20", "warmup_s=10"])
    result = simulate(scenario)
    folder = result.write(tmp_path / "run")
    import matplotlib.pyplot as plt
    captured = []
    original = plt.Figure.savefig

    def keep(fig, *args, **kwargs):
        captured.append(fig)
        return original(fig, *args, **kwargs)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(plt.Figure, "savefig", keep)
        figures_for_run(folder, tmp_path / "out", STYLES["screen"], ("png",))
    cdf = captured[0].axes[0]
    drawn = sum(len(line.get_xdata()) for line in cdf.get_lines() if line.get_linestyle() != "--"
                and len(line.get_xdata()) > 2)
    assert drawn == result.summary["completed"]


def _browser():
    """A Chromium executable for Playwright, or None."""
    pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install playwright)")
    for candidate in (os.environ.get("SIMSPLIT_CHROMIUM"), shutil.which("chromium"), shutil.which("chromium-browser"),
                      shutil.which("google-chrome")):
        if candidate:
            return candidate
    return None


def test_reports_render_in_a_headless_browser(compare_folder, tmp_path):
    """Run, compare and sweep reports opened in Chromium at a laptop's and a phone's width: no horizontal
    scrolling of the page (wide tables scroll in their own box), every image decoded, every figure captioned,
    no raw keys or NaN shown."""
    executable = _browser()
    if executable is None:
        pytest.skip("no Chromium found (apt-get install chromium, "
                    "or set SIMSPLIT_CHROMIUM to a Chrome/Chromium binary)")
    from playwright.sync_api import sync_playwright

    from simsplit.figures.report import write_report
    run = simulate(load_scenario(REPO / "scenarios" / "server-load-step.yaml", ["duration_s=20"]),
                   monitor_period_s=0.5).write(tmp_path / "run")
    work = tmp_path / "c"
    shutil.copytree(compare_folder, work)
    pages = [write_report(run), write_report(work), write_report(_synthetic_sweep(tmp_path / "s"))]
    probe = """() => {
      const page = document.documentElement;
      const tables = Array.from(document.querySelectorAll('table')).map(t => {
        const box = t.parentElement; return {wide: t.scrollWidth > box.clientWidth + 1,
          scrolls: getComputedStyle(box).overflowX === 'auto'};});
      return {overflow: page.scrollWidth - page.clientWidth,
              images: Array.from(document.images).map(i => i.complete && i.naturalWidth > 0),
              captions: Array.from(document.querySelectorAll('figure')).map(f => (f.querySelector('figcaption')
                        || {textContent: ''}).textContent.trim().length),
              tables: tables, text: document.body.innerText, title: document.querySelector('h1').textContent,
              toc: Array.from(document.querySelectorAll('nav.toc a')).map(a => a.getAttribute('href')),
              sections: Array.from(document.querySelectorAll('h2')).map(h => '#' + h.id),
              columns: Array.from(document.querySelectorAll('table.data:not(.params):not(.keyvalue)')).flatMap(t => {
                const rows = Array.from(t.tBodies[0].rows).map(r => Array.from(r.cells).map(c => c.textContent));
                return rows.length ? rows[0].map((_, k) => rows.map(r => r[k])) : [];})};}"""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            for width in (1280, 420):
                view = browser.new_page(viewport={"width": width, "height": 900})
                for path in pages:
                    view.goto(path.resolve().as_uri())
                    found = view.evaluate(probe)
                    assert found["overflow"] <= 0, (path, width, found["overflow"])
                    assert found["images"] and all(found["images"]), path
                    assert all(length > 40 for length in found["captions"]), path
                    assert all(t["scrolls"] for t in found["tables"] if t["wide"]), (path, width)
                    for raw in ("throughput_rps", "latency_mean_s", "NaN", "nan ", "None"):
                        assert raw not in found["text"], (path, raw)
                    assert found["title"].startswith(("Run", "Compare", "Sweep"))
                    assert found["toc"] == found["sections"] and len(found["toc"]) >= 2, path
                    _one_style_a_column(found["columns"], path)
                view.close()
        finally:
            browser.close()
    text = pages[1].read_text()
    assert json.loads((work / "compare.json").read_text())["provenance"]["simsplit_version"] in text


def _synthetic_sweep(folder):
    """A sweep folder of six configurations: one metric equal everywhere, one spanning four decades."""
    folder.mkdir()
    (folder / "sweep.json").write_text(json.dumps({"name": "s", "factors": ["net", "strategy"]}))
    table = pd.DataFrame({"net": pd.Categorical(["x"] * 3 + ["y"] * 3), "strategy": pd.Categorical(["a", "b", "c"] * 2),
                          "latency_mean_s": [0.01, 0.02, 0.03, 0.02, 0.03, 0.05], "energy_j": [1.0, 2, 3, 2, 3, 4],
                          "accuracy": [0.75] * 6, "deadline_miss_rate": [0.0002003, 0.0, 0.01, 0.0, 0.0, 0.0],
                          "server_utilisation": [0.0] * 6})
    for metric in ("latency_mean_s", "energy_j", "accuracy"):
        table[f"{metric}_low"], table[f"{metric}_high"] = table[metric] * 0.9, table[metric] * 1.1
    table["accuracy_low"] = table["accuracy_high"] = 0.75
    table.to_parquet(folder / "table.parquet")
    return folder


def _one_style_a_column(columns: list[list[str]], where) -> None:
    """Each column of a data table (read back from the page): numbers, intervals included, all in one number of
    decimals; no column past the first the same in every row."""
    import re
    for column in columns:
        decimals = {len(number.split(".")[1]) if "." in number else 0
                    for cell in column for number in re.findall(r"-?\d[\d,]*(?:\.\d+)?", cell)}
        assert len(decimals) <= 1, (where, column)
    for column in columns[1:]:
        assert len(column) < 2 or len(set(column)) > 1, (where, column)


def test_a_sweep_table_shows_each_column_in_one_style_and_folds_constant_columns(tmp_path):
    """'0.0002003' beside '0' and '13.9 [13.89, 13.9]' read badly: each column keeps one number of decimals; the
    accuracy and utilisation, the same everywhere, become one note instead of columns."""
    import re

    from simsplit.figures.report import write_report
    from simsplit.figures.report_numbers import fixed, metric_column
    page = write_report(_synthetic_sweep(tmp_path / "s")).read_text()
    table = page[page.index("<h2 id='section-1'>All configurations</h2>"):]
    table = table[:table.index("</table>")]
    heads = re.findall(r"<th>(.*?)</th>", table)
    assert "accuracy" not in heads and "server utilisation" not in heads and "deadline miss rate" in heads
    assert "The same, to the digits shown, in every configuration: accuracy 0.7500; server utilisation 0." in page
    cells = [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", table, re.S)]
    _one_style_a_column([list(column) for column in zip(*cells, strict=True)], "sweep")
    assert [row[heads.index("deadline miss rate")] for row in cells][:3] == ["0.00020", "0.00000", "0.01000"]
    from simsplit.figures.report_numbers import decimals_for
    assert [fixed(v, decimals_for([0.9996, 0.99996])) for v in (0.9996, 0.99996)] == ["0.99960", "0.99996"]
    assert decimals_for([0.75, 0.75 + 1e-15]) == 4  # float noise is no spread
    frame = pd.DataFrame({"x": [13.9], "x_low": [13.89], "x_high": [13.9004]})
    assert metric_column(frame, "x") == ["13.900 [13.890, 13.900]"] and fixed(-1e-9, 3) == "0.000"


def test_a_sweep_metric_equal_everywhere_gets_a_note_not_a_figure(tmp_path):
    from simsplit.figures.folder_figures import figures_for_sweep
    from simsplit.figures.report import write_report
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "sweep.json").write_text(json.dumps({"name": "s", "factors": ["net", "strategy"]}))
    table = pd.DataFrame({"net": pd.Categorical(["x"] * 3 + ["y"] * 3), "strategy": pd.Categorical(["a", "b", "c"] * 2),
                          "latency_mean_s": [0.01, 0.02, 0.03, 0.02, 0.03, 0.05], "energy_j": [1.0, 2, 3, 2, 3, 4],
                          "accuracy": [0.75] * 6})
    for metric in ("latency_mean_s", "energy_j", "accuracy"):
        table[f"{metric}_low"], table[f"{metric}_high"] = table[metric] * 0.9, table[metric] * 1.1
    table.to_parquet(folder / "table.parquet")
    names = {p.stem for p in figures_for_sweep(folder, style=STYLES["paper"], formats=("png",))}
    assert names == {"tradeoff", "curve-latency_mean_s", "curve-energy_j"}
    page = write_report(folder).read_text()
    assert "No curve drawn: accuracy is 0.75 top-1 in every configuration" in page and page.count("<img") == 3


def test_spread_keeps_the_extremes_and_the_original_order():
    from simsplit.figures.drawing import spread
    names = [f"g{i}" for i in range(52)]
    values = np.random.default_rng(1).permutation(52).astype(float)
    chosen = spread(names, values, 10)
    assert len(chosen) == 10 and chosen == [n for n in names if n in chosen]
    picked = sorted(values[names.index(n)] for n in chosen)
    assert picked[0] == 0 and picked[-1] == 51  # the fastest and the slowest are always drawn
    assert spread(names[:5], values[:5], 10) == names[:5]


def test_a_figure_that_fails_to_save_leaves_the_previous_one_and_nothing_half_written(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt
    good = save(plt.figure(), tmp_path / "latency", STYLES["screen"], ("png",))[0]
    before = good.read_bytes()
    fig = plt.figure()
    fig.gca().plot([0, 1], [0, 1])  # other bytes than the blank figure on disk
    original = fig.savefig

    def fail_midway(target, **options):
        original(target, **options)  # the bytes are on disk, then the writer dies
        raise OSError("disk full")
    monkeypatch.setattr(fig, "savefig", fail_midway)
    with pytest.raises(OSError):
        save(fig, tmp_path / "latency", STYLES["screen"], ("png",))
    assert good.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latency.png"]


def test_no_two_lines_of_a_figure_share_colour_and_style():
    """The first 32 lines differ in colour or line style (two groups shared solid blue past the eighth), and
    the 52-group BottleNet CDF, read back, draws each of its groups differently (the same in every panel)."""
    from simsplit.figures.drawing import colour_of, line_style_of
    assert len({(colour_of(k), line_style_of(k)) for k in range(32)}) == 32
    result = simulate(load_scenario(REPO / "scenarios" / "bottlenet-resnet50.yaml"))
    fig = result.plot.latency_cdf()
    styles = {(line.get_label(), line.get_color(), line.get_linestyle())
              for ax in fig.axes for line in ax.lines if len(line.get_xdata()) > 2}
    assert len({name for name, *_ in styles}) == len(styles) == len({tuple(look) for _, *look in styles})


def test_a_many_group_cdf_has_a_panel_per_network_with_its_fastest_groups_and_references():
    """BottleNet's 52 groups over 3G, 4G and Wi-Fi: one panel per network, each drawing that network's 3 fastest
    splits by mean latency (from the summary), its cloud-only group and the mobile-only group, read back."""
    result = simulate(load_scenario(REPO / "scenarios" / "bottlenet-resnet50.yaml"))
    groups = result.summary["groups"]
    fig = result.plot.latency_cdf()
    assert len(fig.axes) == 3
    for ax, prefix in zip(fig.axes, ("wifi", "4g", "3g"), strict=True):
        drawn = [line.get_label() for line in ax.lines if len(line.get_xdata()) > 2]
        splits = sorted((n for n in groups if n.startswith(f"{prefix}-rb")),
                        key=lambda n: groups[n]["latency_s"]["mean"])
        assert drawn == [*splits[:3], "mobile-only", f"{prefix}-cloud-only"], (prefix, drawn)
        assert ax.get_title().endswith("the 3 fastest of 17 groups, with local and full offload")


def test_breakdowns_draw_the_same_groups_references_included_least_to_most():
    """BottleNet's 52 groups: both breakdowns draw the same groups (spread by latency), the local and cloud-only
    groups among them, each sorted least to most by what it shows (read back from the bars)."""
    result = simulate(load_scenario(REPO / "scenarios" / "bottlenet-resnet50.yaml"))
    drawn = {}
    for name in ("latency_breakdown", "energy_breakdown"):
        ax = getattr(result.plot, name)().axes[0]
        labels = [tick.get_text() for tick in ax.get_yticklabels()]
        totals = np.zeros(len(labels))
        for bar in ax.patches:
            totals[round(bar.get_y() + bar.get_height() / 2)] += bar.get_width()
        assert (np.diff(totals) >= -1e-9).all(), name  # least to most, top to bottom
        drawn[name] = set(labels)
    assert drawn["latency_breakdown"] == drawn["energy_breakdown"]
    groups = result.summary["groups"]
    assert {n for n in groups if groups[n]["strategy"] in ("local", "full_offload")} <= drawn["latency_breakdown"]


def test_sweep_categories_close_together_or_far_apart_are_points_not_bars():
    """Accuracies of 0.741 and 0.761 as bars from zero look equal: points with whiskers, on an axis that does not
    start at zero; a 200 ms level beside 6-16 ms ones: points on a log axis. The legend sits beside the axes."""
    from simsplit.figures.sweep_figures import sweep_curve_figure
    table = pd.DataFrame({"bottleneck": pd.Categorical(["a", "b", "c"] * 2),
                          "net": pd.Categorical(["x"] * 3 + ["y"] * 3),
                          "accuracy": [0.741, 0.761, 0.755, 0.745, 0.760, 0.750],
                          "latency_mean_s": [0.006, 0.016, 0.2, 0.008, 0.012, 0.01]})
    for column in ("accuracy", "latency_mean_s"):
        table[f"{column}_low"], table[f"{column}_high"] = table[column] * 0.999, table[column] * 1.001
    close = sweep_curve_figure(table, "accuracy", 1.0, "accuracy", "bottleneck", "net").axes[0]
    assert not close.patches and close.get_ylim()[0] > 0.7
    drawn = np.concatenate([np.asarray(line.get_ydata(), dtype=float) for line in close.get_lines()
                            if line.get_marker() in ("o", "s")])  # the points (not the whiskers' caps)
    assert sorted(drawn) == sorted(table["accuracy"])
    far = sweep_curve_figure(table, "latency_mean_s", 1e3, "mean latency (ms)", "bottleneck", "net").axes[0]
    assert not far.patches and far.get_yscale() == "log"
    legend = far.get_legend().get_window_extent(far.figure.canvas.get_renderer())
    assert legend.x0 >= far.get_window_extent(far.figure.canvas.get_renderer()).x1  # beside, not over


def test_the_pareto_figure_labels_every_adaptive_strategy_however_crowded():
    """Fourteen strategies on top of each other: the static ones may go unlabelled (counted in the corner), the
    adaptive ones never (read back from the figure's texts)."""
    from simsplit.figures.compare_figures import compare_tradeoff_figure
    names = [f"fixed({k}, bottlenet)" for k in range(1, 11)] + ["dynamic", "distribution", "mpc", "linucb"]
    table = pd.DataFrame({"strategy": names, "static": [True] * 10 + [False] * 4,  # distinct, but close
                          "latency_mean_s": np.r_[0.0200 + 0.0001 * np.arange(13), 0.070],
                          "energy_j": np.r_[0.0100 + 0.0001 * np.arange(13), 0.060]})
    for column in ("latency_mean_s", "energy_j"):
        table[f"{column}_low"], table[f"{column}_high"] = table[column] * 0.99, table[column] * 1.01
    ax = compare_tradeoff_figure(table).axes[0]
    texts = [text.get_text() for text in ax.texts]
    named = {name for text in texts for name in text.split(" = ")}  # strategies at one point share a label
    assert {"dynamic", "distribution", "mpc", "linucb"} <= named
    assert any("crowded points unlabelled" in text for text in texts)


def test_a_report_has_contents_linking_its_sections_and_a_figure_grid(compare_folder, tmp_path):
    import re
    work = tmp_path / "c"
    shutil.copytree(compare_folder, work)
    assert main(["report", str(work)]) == 0
    page = (work / "report.html").read_text()
    sections = re.findall(r"<h2 id='(section-\d+)'>(.*?)</h2>", page)
    links = re.findall(r"<li><a href='#(section-\d+)'>(.*?)</a></li>", page)
    assert len(sections) >= 3 and links == sections  # every section, in order, linked from the contents
    assert page.index("class='toc'") < page.index("<h2 id='section-1'>")
    grid = page[page.index("<div class='grid'>"):]
    assert grid.count("<figure>") == page.count("<figure>") > 5  # every figure in the grid
    assert "@media (max-width:600px)" in page  # tables wrap at phone width


def test_regret_bars_are_in_percent_as_the_table_and_coloured_by_kind(compare_folder):
    """The regret figure draws each strategy's relative regret in % of the bound (the table's unit), with the
    table's 95% interval as whiskers, static and adaptive strategies in two colours (read back from the bars)."""
    from matplotlib.colors import to_hex

    from simsplit.figures.compare_figures import compare_bars_figure
    from simsplit.figures.drawing import colour_of
    table = pd.read_csv(compare_folder / "compare.csv")
    ax = compare_bars_figure(table, "relative_regret", 100.0, "regret (%)").axes[0]
    bars = [bar for bar in ax.patches if np.isfinite(bar.get_width())]
    labels = [tick.get_text() for tick in ax.get_yticklabels()]
    by_name = table.set_index("strategy")
    np.testing.assert_allclose([bar.get_width() for bar in bars],
                               by_name.loc[labels, "relative_regret"].to_numpy() * 100.0, rtol=1e-12)
    caps = ax.collections[0].get_segments() if ax.collections else []
    np.testing.assert_allclose(sorted(seg[0][0] for seg in caps),
                               sorted(by_name.loc[labels, "relative_regret_low"].to_numpy() * 100.0), rtol=1e-9)
    kinds = {name: "static" if by_name.loc[name, "static"] else "oracle or plan" if name.startswith("oracle")
             else "adaptive" for name in labels}
    expected = [colour_of(("static", "adaptive", "oracle or plan").index(kinds[name])) for name in labels]
    assert [to_hex(bar.get_facecolor()) for bar in bars] == [to_hex(c) for c in expected]
    assert len(set(expected)) == 3  # the oracle is no adaptive strategy
    static = table[table["static"].astype(bool)]
    assert (static["regret_low"] >= 0).all() and (static["relative_regret_low"] >= 0).all()  # never below the bound


def test_a_report_escapes_every_name_it_shows(tmp_path):
    """Names come from user files (a sweep's factors and levels, its name): the page shows them as text, never as
    markup, in the title, the notes, the headings and the tables."""
    from simsplit.figures.report import write_report
    folder = _synthetic_sweep(tmp_path / "s")
    hostile = "<script>alert(1)</script>"
    (folder / "sweep.json").write_text(json.dumps({"name": hostile, "factors": ["net", "strategy"],
                                                   "report": {"best_by": "net"}}))
    table = pd.read_parquet(folder / "table.parquet")
    table["strategy"] = pd.Categorical([hostile, "b", "c"] * 2)
    table.to_parquet(folder / "table.parquet")
    page = write_report(folder).read_text()
    assert "<script>" not in page and page.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 3


def test_cdf_panels_of_unusual_fleets():
    """Twelve groups all local (it crashed: no panel), thirty networks (one panel each: a figure 80 inches tall),
    a network of one full-offload group, and references capped at one of each kind."""
    from simsplit.figures.run_figures import CDF_GROUPS, MOST_PANELS, cdf_panels
    means = pd.Series(np.arange(12, dtype=float), index=[f"g{k}" for k in range(12)])
    panels, total = cdf_panels(means, None, {n: "local" for n in means.index})
    assert total == 1 and panels == [(f"the {CDF_GROUPS} fastest of 12 groups", list(means.index[:CDF_GROUPS]))]
    means = pd.Series(np.arange(30, dtype=float), index=[f"g{k}" for k in range(30)])
    panels, total = cdf_panels(means, {n: f"net{k}" for k, n in enumerate(means.index)},
                               {n: "fixed(1, b)" for n in means.index})
    assert total == 30 and len(panels) == MOST_PANELS and panels[0] == ("net0: the 1 fastest of 1 group", ["g0"])
    strategies = {n: ("full_offload" if k % 2 else "fixed(1, b)") for k, n in enumerate(means.index)}
    strategies["g29"] = "local"
    networks = {n: "one" for n in means.index}
    networks["g27"] = "two"  # a full offload alone on its network
    panels, total = cdf_panels(means, networks, strategies)
    assert panels[0] == ("one: the 3 fastest of 28 groups, with local and full offload",
                         ["g0", "g1", "g2", "g4", "g29"])
    assert panels[1] == ("two: 1 group, with local and full offload", ["g27", "g29"])
    from simsplit.figures.run_figures import latency_cdf_figure
    result = simulate(load_scenario(REPO / "scenarios" / "bottlenet-resnet50.yaml", ["duration_s=5"]))
    every_local = {name: "local" for name in result.summary["groups"]}
    assert len(latency_cdf_figure(result.requests, "t", strategies=every_local).axes) == 1
