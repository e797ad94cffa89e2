"""Figures and one self-contained HTML page for a run folder or a sweep folder."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import pandas as pd

from simsplit import plots

FIGURES = "figures"


def is_sweep(folder: Path) -> bool:
    return (folder / "table.parquet").is_file()


def folder_kind(folder: Path) -> str | None:
    """``run``, ``sweep`` or ``compare``: what a result folder holds (None: none of them)."""
    if is_sweep(folder):
        return "sweep"
    if (folder / "compare.csv").is_file():
        return "compare"
    if (folder / "summary.json").is_file():
        return "run"
    return None


def _compare_meta(folder: Path) -> dict:
    path = folder / "compare.json"  # absent in folders written before it existed
    return json.loads(path.read_text()) if path.is_file() else {"scenario": folder.name, "seed": None, "seeds": []}


def figures_for_compare(folder: Path) -> list[Path]:
    """The strategies' energy–latency plane with the Pareto front, and bars of latency, energy and regret."""
    out = folder / FIGURES
    out.mkdir(exist_ok=True)
    table = pd.read_csv(folder / "compare.csv")
    if "static" not in table.columns:
        table["static"] = table["strategy"].str.match(r"^(local|full_offload|fixed\()")
    meta = _compare_meta(folder)
    seeds = f"{len(meta['seeds'])} seeds from seed {meta['seed']}" if meta["seeds"] else "over seeds"
    name = meta["scenario"]
    written = plots.plot_compare_tradeoff(table, out / "pareto-energy-latency",
                                          title=f"{name}: every strategy, {seeds} (95% whiskers)")
    written += plots.plot_compare_bars(table, out / "latency-by-strategy", "latency_mean_s", 1e3,
                                       "mean latency per request (ms)", title=f"{name}: mean latency, {seeds}")
    written += plots.plot_compare_bars(table, out / "energy-by-strategy", "energy_j", 1e3,
                                       "device energy per request (mJ)", title=f"{name}: energy, {seeds}")
    if "regret" in table.columns and table["regret"].notna().any():
        objective = meta.get("objective", "latency")
        scale, unit = {"latency": (1e3, "ms"), "energy": (1e3, "mJ")}.get(objective, (1.0, "s"))
        written += plots.plot_compare_bars(table, out / "regret-by-strategy", "regret", scale,
                                           f"regret of the {objective} objective against the bound, per request "
                                           f"({unit})", title=f"{name}: regret, {seeds}")
    return written


def figures_for_run(folder: Path) -> list[Path]:
    """Latency CDF, per-stage breakdown and (if monitored) time series of a run folder."""
    out = folder / FIGURES
    out.mkdir(exist_ok=True)
    summary = json.loads((folder / "summary.json").read_text())
    has_rows = (folder / "requests.parquet").is_file()  # absent for a run with records: none
    requests = pd.read_parquet(folder / "requests.parquet") if has_rows else None
    written = plots.plot_latency_cdf(requests, out / "latency-cdf", title=f"{summary['scenario']}: latency",
                                     deadline_s=summary.get("deadline_s")) if has_rows else []
    written += plots.plot_energy_breakdown(summary, out / "energy-breakdown",
                                           title=f"{summary['scenario']}: device energy per request by component")
    written += plots.plot_breakdown(summary, out / "latency-breakdown",
                                    title=f"{summary['scenario']}: mean latency by stage")
    if has_rows and (folder / "timeseries.parquet").is_file():
        from simsplit.profiles import load_profile
        from simsplit.scenario import load_scenario
        scenario = load_scenario(folder / "scenario.yaml")
        series = pd.read_parquet(folder / "timeseries.parquet")
        last = load_profile(scenario.model.profile).local_split
        target = out / "timeseries.png"
        plots.plot_timeseries(series, requests, last, scenario.server_list[0].name, target,
                              title=f"{summary['scenario']}: uplink, queue and chosen split over time")
        written.append(target)
    return written


def figures_for_sweep(folder: Path) -> list[Path]:
    """Energy-latency trade-off and one curve per metric against the first factor."""
    out = folder / FIGURES
    out.mkdir(exist_ok=True)
    meta = json.loads((folder / "sweep.json").read_text())
    table = pd.read_parquet(folder / "table.parquet")
    factors = meta["factors"]
    options = meta.get("report", {})
    x_factor = options.get("x", factors[-1])
    line_factor = options.get("lines", next((f for f in factors if f != x_factor), None))
    written = plots.plot_tradeoff(table, out / "tradeoff", label_factor=x_factor, colour_factor=line_factor,
                                  title=f"{meta['name']}: energy-latency trade-off")
    for metric, scale, unit in (("latency_mean_s", 1e3, "ms"), ("energy_j", 1e3, "mJ"), ("accuracy", 1.0, "top-1")):
        written += plots.plot_sweep_curve(table, out / f"curve-{metric}", metric, scale, unit, x_factor, line_factor,
                                          title=f"{meta['name']}: {metric} by {x_factor}")
    return written


def _scaled(value: float | None, factor: float) -> float | None:
    """``value`` times ``factor``, or None for a missing value (null in summary.json: nothing completed)."""
    return None if value is None else value * factor


def best_table(table: pd.DataFrame, by: str, baseline: dict | None) -> pd.DataFrame:
    """Per level of ``by``: the configuration with the lowest mean latency and with the lowest energy, and
    their gain over the ``baseline`` configuration ({factor: label}) at that level."""
    rows = []
    for level, part in table.groupby(by, observed=True):
        fastest = part.loc[part["latency_mean_s"].idxmin()]
        frugal = part.loc[part["energy_j"].idxmin()]
        row = {by: level}
        others = [f for f in table.columns if f in (baseline or {}) or (f not in ("replications",) and
                  table[f].dtype.name == "category" and f != by)]
        label = lambda r: ", ".join(str(r[f]) for f in others) or "-"  # noqa: E731
        row["fastest"], row["latency mean (ms)"] = label(fastest), fastest["latency_mean_s"] * 1e3
        row["most frugal"], row["energy (mJ/request)"] = label(frugal), frugal["energy_j"] * 1e3
        if baseline:
            mask = pd.Series(True, index=part.index)
            for factor, value in baseline.items():
                mask &= part[factor].astype(str) == str(value)
            if mask.any():
                base = part[mask].iloc[0]
                row["latency gain vs baseline (x)"] = base["latency_mean_s"] / fastest["latency_mean_s"]
                row["energy gain vs baseline (x)"] = base["energy_j"] / frugal["energy_j"]
        rows.append(row)
    return pd.DataFrame(rows)


CAPTIONS = {
    "latency-cdf": "Share of completed requests answered within each latency, per device group (log axis); "
                   "the dashed line is the deadline. A curve to the left is faster; its tail is the slow requests.",
    "latency-breakdown": "Where each device group's mean latency goes, stage by stage: compute on the device, "
                         "radio promotion, upload, server queue and service, download, propagation.",
    "energy-breakdown": "Device energy per completed request, by component: compute, switching, upload, download, "
                        "RRC promotion, radio tail and load probes. The tallest part is what to attack.",
    "timeseries": "Over time: the first device's uplink capacity, the server's queue and busy workers, and the "
                  "split each request chose.",
    "tradeoff": "Every configuration's mean energy against its mean latency, 95% whiskers over seeds; lines join "
                "each colour's Pareto front (nothing else is both faster and more frugal).",
    "pareto-energy-latency": "Every strategy's mean energy against its mean latency over the seeds, 95% whiskers; "
                             "the grey line is the Pareto front. Strategies at one point share a label.",
    "latency-by-strategy": "Mean latency per request of each strategy with its 95% interval, fastest first.",
    "energy-by-strategy": "Device energy per request of each strategy with its 95% interval, most frugal first.",
    "regret-by-strategy": "How far each strategy's objective is from the bound (per seed, the better of the oracle "
                          "and every static strategy), with its 95% interval; 0 is the best any strategy did.",
}
"""What each figure shows, by file name (a figure not listed is captioned by its name)."""


def _image(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    key = next((k for k in CAPTIONS if path.stem == k or path.stem.startswith(k + "-")), None)
    caption = CAPTIONS[key] if key else path.stem.replace("-", " ").replace("_", " ")
    if path.stem.startswith("curve-"):
        caption = f"{path.stem[6:].replace('_', ' ')} of every configuration against the sweep's x factor, one line " \
                  "per level of its line factor, 95% whiskers over seeds."
    return f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(path.stem)}"><figcaption>' \
           f"{html.escape(caption)}</figcaption></figure>"


def _table(frame: pd.DataFrame) -> str:
    table = frame.to_html(index=False, float_format=lambda v: f"{v:.4g}", border=0, classes="data")
    return f'<div style="overflow-x:auto">{table}</div>'


STYLE = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em}table.data{border-collapse:collapse;font-size:12px}
table.data td,table.data th{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right}
img{max-width:100%;border:1px solid #eee}figure{margin:1em 0}figcaption{font-size:12px;color:#666}
.note{color:#555;font-size:13px}"""


def write_report(folder: Path) -> Path:
    """Draw the figures and write ``report.html`` (figures embedded, no external files)."""
    folder = Path(folder)
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>simsplit report: {html.escape(folder.name)}"
             f"</title><style>{STYLE}</style></head><body>"]
    if folder_kind(folder) == "compare":
        figures = figures_for_compare(folder)
        parts += _compare_section(folder)
        figures += sorted(folder.glob("timeseries-*.png"))
    elif is_sweep(folder):
        figures = figures_for_sweep(folder)
        meta = json.loads((folder / "sweep.json").read_text())
        table = pd.read_parquet(folder / "table.parquet")
        parts.append(f"<h1>Sweep {html.escape(meta['name'])}</h1><p class='note'>{len(table)} configurations; "
                     f"factors: {', '.join(meta['factors'])}; means over seeds with their 95% t-intervals in brackets "
                     "(none where every seed gave the same value)."
                     "</p>")
        options = meta.get("report", {})
        if "best_by" in options:
            parts.append(f"<h2>Best configuration per {html.escape(options['best_by'])}</h2>")
            parts.append(_table(best_table(table, options["best_by"], options.get("baseline"))))
        parts.append("<h2>All configurations</h2>" + _table(_sweep_rows(table, meta["factors"])))
    else:
        figures = figures_for_run(folder)
        summary = json.loads((folder / "summary.json").read_text())
        parts += _run_section(summary)
        groups = pd.DataFrame([{"device group": n, "strategy": g["strategy"], "completed": g["completed"],
                                "latency mean (ms)": _scaled(g["latency_s"]["mean"], 1e3),
                                "latency p95 (ms)": _scaled(g["latency_s"]["p95"], 1e3),
                                "energy (mJ/request)": _scaled(g["energy_j"]["total"], 1e3),
                                "accuracy": g["accuracy"]} for n, g in summary["groups"].items()])
        parts.append("<h2>Device groups</h2>" + _table(groups))
    parts.append("<h2>Figures</h2>")
    parts += [_image(path) for path in figures if path.suffix == ".png"]
    parts.append("</body></html>")
    target = folder / "report.html"
    target.write_text("\n".join(parts), encoding="utf-8")
    return target


FIGURES_OF = {"run": figures_for_run, "sweep": figures_for_sweep, "compare": figures_for_compare}


def _compare_section(folder: Path) -> list[str]:
    """The comparison's title and its table with units and intervals."""
    meta = _compare_meta(folder)
    table = pd.read_csv(folder / "compare.csv")

    def interval(row, key: str, scale: float) -> str:
        low, high = row.get(f"{key}_low"), row.get(f"{key}_high")
        value = row[key] * scale
        if low is None or pd.isna(low):
            return f"{value:.4g}"
        return f"{value:.4g} [{low * scale:.4g}, {high * scale:.4g}]"

    rows = [{"strategy": row["strategy"], "latency mean (ms)": interval(row, "latency_mean_s", 1e3),
             "latency p95 (ms)": interval(row, "latency_p95_s", 1e3), "energy (mJ/request)": interval(row, "energy_j", 1e3),
             "accuracy": f"{row['accuracy']:.4f}",
             "deadline hit rate": "-" if pd.isna(row["deadline_hit_rate"]) else f"{row['deadline_hit_rate']:.3f}",
             "switches": f"{row['switches']:.0f}",
             "regret": "-" if pd.isna(row.get("relative_regret")) else f"{100 * row['relative_regret']:+.1f}%"}
            for _, row in table.iterrows()]
    seeds = ", ".join(str(s) for s in meta["seeds"]) or "?"
    version = meta.get("provenance", {}).get("simsplit_version", "?")
    return [f"<h1>Compare {html.escape(str(meta['scenario']))}</h1>",
            f"<p class='note'>Every strategy on the same scenario over {len(meta['seeds'])} seeds ({html.escape(seeds)}, "
            f"drawn from seed {meta['seed']}); means with 95% t-intervals; regret: the objective "
            f"({html.escape(str(meta.get('objective', 'latency')))}) against the bound, per seed the better of the "
            f"oracle and every static strategy, relative to the bound. simsplit {html.escape(str(version))}.</p>",
            "<h2>Strategies</h2>" + _table(pd.DataFrame(rows))]


RUN_ROWS = (("generated", "requests generated (after the warm-up)", 1.0, ""),
            ("completed", "requests completed", 1.0, ""), ("dropped", "dropped (server queue full)", 1.0, ""),
            ("lost", "lost (erased on a link)", 1.0, ""), ("timed_out", "timed out (deadline, in the queue)", 1.0, ""),
            ("in_flight", "still in flight at the end", 1.0, ""), ("throughput_rps", "throughput", 1.0, "requests/s"),
            ("accuracy", "accuracy (top-1)", 1.0, ""), ("deadline_miss_rate", "deadline miss rate", 1.0, ""),
            ("server_utilisation", "server utilisation", 1.0, ""))


def _number(value, scale: float = 1.0) -> str:
    return "-" if value is None else f"{value * scale:.4g}"


def _run_section(summary: dict) -> list[str]:
    """A run's title, its key numbers with units and 95% intervals, and where it came from."""
    rows = [(label, _number(summary.get(key), scale), unit) for key, label, scale, unit in RUN_ROWS]
    latency, ci = summary["latency_s"], summary["latency_s"].get("ci95", {})
    for key in ("mean", "p50", "p95", "p99"):
        low, high = ci.get(key, [None, None])
        interval = "" if low is None else f" [{_number(low, 1e3)}, {_number(high, 1e3)}]"
        rows.append((f"latency {key}", _number(latency.get(key), 1e3) + interval, "ms"))
    rows += [(f"device energy per request: {part}", _number(value, 1e3), "mJ")
             for part, value in summary["energy_j"].items()]
    provenance = summary.get("provenance", {})
    inputs = "; ".join(f"{role} {digest[:12]}" for role, digest in provenance.get("inputs_sha256", {}).items())
    note = (f"seed {summary['seed']}, {summary['duration_s']:g} s simulated, the first {summary['warmup_s']:g} s left "
            f"out as warm-up" + (f", deadline {summary['deadline_s'] * 1e3:g} ms" if summary.get("deadline_s") else "")
            + f". simsplit {provenance.get('simsplit_version', '?')}"
            + (f" (git {str(provenance['git_commit'])[:10]})" if provenance.get("git_commit") else "")
            + (f"; inputs (SHA-256): {inputs}" if inputs else "") + ".")
    table = pd.DataFrame(rows, columns=["", "value [95% interval]", "unit"])
    return [f"<h1>Run {html.escape(summary['scenario'])}</h1>", f"<p class='note'>{html.escape(note)}</p>",
            "<h2>Summary</h2>" + _table(table)]


SWEEP_COLUMNS = (("latency_mean_s", "latency mean (ms)", 1e3), ("latency_p95_s", "latency p95 (ms)", 1e3),
                 ("energy_j", "energy (mJ/request)", 1e3), ("accuracy", "accuracy", 1.0),
                 ("deadline_miss_rate", "deadline miss rate", 1.0), ("throughput_rps", "throughput (requests/s)", 1.0),
                 ("server_utilisation", "server utilisation", 1.0))


def _sweep_rows(table: pd.DataFrame, factors: list[str]) -> pd.DataFrame:
    """A sweep's configurations with human column names and units, each mean with its 95% interval."""
    rows = []
    for _, row in table.iterrows():
        out = {factor: row[factor] for factor in factors}
        for key, label, scale in SWEEP_COLUMNS:
            value, low, high = row.get(key), row.get(f"{key}_low"), row.get(f"{key}_high")
            text = "-" if value is None or pd.isna(value) else f"{value * scale:.4g}"
            if low is not None and not pd.isna(low) and f"{low * scale:.4g}" != f"{high * scale:.4g}":
                text += f" [{low * scale:.4g}, {high * scale:.4g}]"
            out[label] = text
        rows.append(out)
    return pd.DataFrame(rows)
