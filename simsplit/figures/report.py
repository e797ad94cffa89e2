"""One self-contained HTML page for a run, sweep or compare folder: its tables with units and 95% intervals,
the scenario's key parameters, provenance and every figure of the folder, captioned and embedded."""

from __future__ import annotations

import base64
import html
import json
import re
from pathlib import Path

import pandas as pd

from simsplit.figures.drawing import varies
from simsplit.figures.folder_figures import SWEEP_CURVES, compare_meta, draw, folder_kind, scenario_of
from simsplit.figures.scenario_table import scenario_table
from simsplit.figures.style import SCREEN


def _scaled(value: float | None, factor: float) -> float | None:
    """``value`` times ``factor``, or None for a missing value (null in summary.json: nothing completed)."""
    return None if value is None else value * factor


def best_table(table: pd.DataFrame, by: str, baseline: dict | None) -> pd.DataFrame:
    """Per level of ``by``: the configuration with the lowest mean latency and with the lowest energy, and
    their gain over the ``baseline`` configuration ({factor: label}) at that level."""
    others = [f for f in table.columns if f in (baseline or {}) or (f not in ("replications",) and
              table[f].dtype.name == "category" and f != by)]
    rows = []
    for level, part in table.groupby(by, observed=True):
        # pandas-stubs type idxmin's label as Hashable, which .loc's overloads do not take
        fastest = part.loc[part["latency_mean_s"].idxmin()]  # type: ignore[call-overload]
        frugal = part.loc[part["energy_j"].idxmin()]  # type: ignore[call-overload]
        row = {by: level,
               "fastest": _configuration(fastest, others), "latency mean (ms)": fastest["latency_mean_s"] * 1e3,
               "most frugal": _configuration(frugal, others), "energy (mJ/request)": frugal["energy_j"] * 1e3}
        if baseline:
            row.update(_gains_over(part, baseline, fastest, frugal))
        rows.append(row)
    return pd.DataFrame(rows)


def _configuration(row: pd.Series, factors: list) -> str:
    """A configuration named by its levels of ``factors``, comma-separated ("-" for none)."""
    return ", ".join(str(row[f]) for f in factors) or "-"


def _gains_over(part: pd.DataFrame, baseline: dict, fastest: pd.Series, frugal: pd.Series) -> dict:
    """How many times faster ``fastest`` is and how many times less energy ``frugal`` takes than the
    ``baseline`` configuration ({factor: label}) among the rows ``part`` (nothing when it is not there)."""
    mask = pd.Series(True, index=part.index)
    for factor, value in baseline.items():
        mask &= part[factor].astype(str) == str(value)
    if not mask.any():
        return {}
    base = part[mask].iloc[0]
    return {"latency gain vs baseline (x)": base["latency_mean_s"] / fastest["latency_mean_s"],
            "energy gain vs baseline (x)": base["energy_j"] / frugal["energy_j"]}


CAPTIONS = {
    "latency-cdf": "Share of completed requests answered within each latency, per device group (log axis); "
                   "the dashed line is the deadline. A curve to the left is faster; its tail is the slow requests.",
    "latency-breakdown": "Where each device group's mean latency goes, stage by stage: compute on the device, "
                         "radio promotion, upload, server queue and compute, download, propagation.",
    "energy-breakdown": "Device energy per completed request, by component: compute, switching, upload, download, "
                        "RRC promotion, radio tail and load probes. The tallest part is what to attack.",
    "timeseries": "Over time: device 0's true uplink capacity and the throughput its uploads achieved (what an "
                  "estimator sees), the server's queue and busy workers, every request's latency against the "
                  "deadline, and the split each request chose (device 0 in colour, the others grey); alternate "
                  "phases shaded. A flat uplink or an empty queue gets no panel (the title says which).",
    "tradeoff": "Every configuration's mean energy against its mean latency, 95% whiskers over seeds; lines join "
                "each colour's Pareto front (nothing else is both faster and more frugal).",
    "pareto-energy-latency": "Every strategy's mean energy against its mean latency over the seeds, 95% whiskers; "
                             "the grey line is the Pareto front. Strategies at one point share a label.",
    "latency-cdf-by-strategy": "Share of requests answered within each latency for every strategy (log axis): the "
                               "latency at each quantile averaged over the seeds; the dashed line is the deadline.",
    "latency-by-split": "Each fixed split's mean latency stacked by stage (device compute, radio promotion, upload, "
                        "server queue and compute, download, propagation); the lines are local and full offload.",
    "energy-by-split": "Each fixed split's device energy per request stacked by component (compute, upload, radio "
                       "promotion and tail, ...); the lines are local and full offload. A short bar beats both.",
    "rate-accuracy": "Bytes each static strategy sends up per request against its top-1 accuracy; the line joins "
                     "the points that no other point beats on both (fewer bytes, higher accuracy).",
    "latency-by-strategy": "Mean latency per request of each strategy with its 95% interval, fastest first.",
    "energy-by-strategy": "Device energy per request of each strategy with its 95% interval, most frugal first.",
    "regret-by-strategy": "How far each strategy's objective is from the bound (per seed, the best of the planned "
                          "bound, the oracle and every static strategy), with its 95% interval; 0 is the bound.",
}
"""What each figure shows, by file name (a figure not listed is captioned by its name)."""


def _image(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    key = max((k for k in CAPTIONS if path.stem == k or path.stem.startswith(k + "-")), key=len, default=None)
    caption = CAPTIONS[key] if key else path.stem.replace("-", " ").replace("_", " ")
    if path.stem.startswith("curve-"):
        caption = f"{path.stem[6:].replace('_', ' ')} of every configuration against the sweep's x factor (lines over "\
                  "a numeric factor, grouped bars over a categorical one), one colour per level of its line factor, " \
                  "95% whiskers over seeds."
    return f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(path.stem)}"><figcaption>' \
           f"{html.escape(caption)}</figcaption></figure>"


def _table(frame: pd.DataFrame, classes: str = "data") -> str:
    table = frame.to_html(index=False, float_format=lambda v: f"{v:.4g}", border=0, classes=classes, na_rep="-")
    return f'<div style="overflow-x:auto">{table}</div>'


STYLE = """body{font-family:system-ui,sans-serif;margin:2em auto;padding:0 1em;max-width:1100px;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em}table.data{border-collapse:collapse;font-size:12px}
table.data td,table.data th{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right;white-space:nowrap}
table.data td:first-child,table.data th:first-child{text-align:left}
table.params td,table.params th{text-align:left;white-space:normal}table.params td:first-child{white-space:nowrap}
img{max-width:100%;height:auto;box-sizing:border-box;border:1px solid #eee}figure{margin:1em 0}\
figcaption{font-size:12px;color:#666}
.note{color:#555;font-size:13px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,460px),1fr));gap:1em}
.toc{font-size:13px;background:#f7f7f7;padding:.5em 1em;margin:1em 0}.toc ol{margin:.3em 0;padding-left:1.5em}
@media (max-width:600px){body{margin:1em auto}table.data{font-size:11px}
table.data td,table.data th{padding:2px 4px;white-space:normal}}"""


def write_report(folder: Path) -> Path:
    """Write ``report.html``: tables, the scenario's key parameters, provenance and every figure (screen style,
    drawn afresh and embedded as PNG; the folder's ``figures/`` is left as it is)."""
    import tempfile
    folder = Path(folder)
    kind = folder_kind(folder)
    head = (f"<!doctype html><html><head><meta charset='utf-8'><meta name='viewport' content='width=device-width'>"
            f"<title>simsplit report: {html.escape(folder.name)}</title><style>{STYLE}</style></head><body>")
    parts = [head]
    scenario = scenario_of(folder)
    if kind == "compare":
        parts += _compare_section(folder)
    elif kind == "sweep":
        parts += _sweep_section(folder)
        first = sorted((folder / "runs").glob("*/scenario.yaml"))
        scenario = scenario_of(first[0].parent) if first else None
    else:
        summary = json.loads((folder / "summary.json").read_text())
        parts += _run_section(summary)
        groups = pd.DataFrame([{"device group": n, "strategy": g["strategy"], "completed": g["completed"],
                                "latency mean (ms)": _scaled(g["latency_s"]["mean"], 1e3),
                                "latency p95 (ms)": _scaled(g["latency_s"]["p95"], 1e3),
                                "energy (mJ/request)": _scaled(g["energy_j"]["total"], 1e3),
                                "accuracy": g["accuracy"]} for n, g in summary["groups"].items()])
        parts.append("<h2>Device groups</h2>" + _table(groups))
        if kind == "sites":
            parts += _sites_section(folder)
    if scenario is not None:
        heading = "Scenario of the first configuration (the factors vary it)" if kind == "sweep" else "Scenario"
        parts.append(f"<h2>{heading}</h2>" + _table(scenario_table(scenario), "data params"))
    parts.append("<h2>Figures</h2>")
    with tempfile.TemporaryDirectory() as scratch:
        figures = draw(folder, Path(scratch), SCREEN, ("png",))
        parts.append("<div class='grid'>" + "".join(_image(path) for path in figures) + "</div>")
    if kind == "sweep":
        parts += _flat_metrics(folder)
    parts.append("</body></html>")
    target = folder / "report.html"
    partial = target.with_name(".report.html.partial")
    partial.write_text(with_contents("\n".join(parts)), encoding="utf-8")
    partial.replace(target)
    return target


def with_contents(page: str) -> str:
    """``page`` with an anchor on each section heading (``<h2>``) and a table of contents linking them, placed
    before the first section."""
    titles: list[str] = []

    def anchor(match) -> str:
        titles.append(match.group(1))
        return f"<h2 id='section-{len(titles)}'>{match.group(1)}</h2>"

    page = re.sub(r"<h2>(.*?)</h2>", anchor, page)
    if len(titles) < 2:
        return page
    links = "".join(f"<li><a href='#section-{k}'>{title}</a></li>" for k, title in enumerate(titles, start=1))
    contents = f"<nav class='toc'><b>Contents</b><ol>{links}</ol></nav>"
    return page.replace("<h2 id='section-1'>", contents + "<h2 id='section-1'>", 1)


SITES_SHOWN = 100
"""Sites listed in a report (the slowest first); sites.csv has them all."""


def _sites_section(folder: Path) -> list[str]:
    """The sites, slowest first: each one's drawn values, requests, mean and p95 latency and energy."""
    sites = pd.read_csv(folder / "sites.csv").sort_values("latency_mean_s", ascending=False, kind="stable")
    shown = sites.head(SITES_SHOWN).drop(columns=["seed", "rows_written"], errors="ignore")
    for column in ("latency_mean_s", "latency_p95_s"):
        shown[column.replace("_s", " (ms)")] = shown.pop(column) * 1e3
    shown["energy (mJ/request)"] = shown.pop("energy_j") * 1e3
    note = (f"<p class='note'>{len(sites):,} sites, the slowest first" +
            (f"; the {SITES_SHOWN} slowest shown (sites.csv has every one)" if len(sites) > SITES_SHOWN else "") +
            ".</p>")
    return ["<h2>Sites</h2>", note, _table(shown)]


def _flat_metrics(folder: Path) -> list[str]:
    """A note for each sweep metric with no figure because every configuration gave the same value."""
    table = pd.read_parquet(folder / "table.parquet")
    flat = [f"{label} is {table[metric].dropna().iloc[0] * scale:.4g} {unit} in every configuration"
            for metric, scale, unit, label in SWEEP_CURVES
            if not varies(table[metric]) and table[metric].notna().any()]
    return [f"<p class='note'>No curve drawn: {html.escape('; '.join(flat))}.</p>"] if flat else []


def _sweep_section(folder: Path) -> list[str]:
    meta = json.loads((folder / "sweep.json").read_text())
    table = pd.read_parquet(folder / "table.parquet")
    provenances = [json.loads(path.read_text()).get("provenance", {})
                   for path in sorted((folder / "runs").glob("*/summary.json"))]
    version = " and ".join(sorted({p.get("simsplit_version", "?") for p in provenances})) or "?"
    inputs = provenances[0].get("inputs_sha256", {}) if provenances else {}
    if inputs:
        version += "; the first configuration's inputs (SHA-256): " + "; ".join(
            f"{role} {digest[:12]}" for role, digest in inputs.items())
    note = (f"<h1>Sweep {html.escape(meta['name'])}</h1><p class='note'>{len(table)} configurations; factors: "
            f"{html.escape(', '.join(meta['factors']))}; means over seeds with their 95% t-intervals in brackets "
            f"(none where every seed gave the same value). simsplit {html.escape(str(version))}.</p>")
    parts = [note]
    options = meta.get("report", {})
    if "best_by" in options:
        parts.append(f"<h2>Best configuration per {html.escape(options['best_by'])}</h2>")
        parts.append(_table(best_table(table, options["best_by"], options.get("baseline"))))
    parts.append("<h2>All configurations</h2>" + _table(_sweep_rows(table, meta["factors"])))
    return parts




def _compare_section(folder: Path) -> list[str]:
    """The comparison's title and its table with units and intervals."""
    meta = compare_meta(folder)
    table = pd.read_csv(folder / "compare.csv")

    def interval(row, key: str, scale: float) -> str:
        low, high = row.get(f"{key}_low"), row.get(f"{key}_high")
        value = row[key] * scale
        if low is None or pd.isna(low):
            return f"{value:.4g}"
        return f"{value:.4g} [{low * scale:.4g}, {high * scale:.4g}]"

    rows = [{"strategy": row["strategy"], "latency mean (ms)": interval(row, "latency_mean_s", 1e3),
             "latency p95 (ms)": interval(row, "latency_p95_s", 1e3),
             "energy (mJ/request)": interval(row, "energy_j", 1e3),
             "accuracy": f"{row['accuracy']:.4f}",
             "deadline hit rate": "-" if pd.isna(row["deadline_hit_rate"]) else f"{row['deadline_hit_rate']:.3f}",
             "switches": f"{row['switches']:.0f}",
             "regret": "-" if pd.isna(row.get("relative_regret")) else f"{100 * row['relative_regret']:+.1f}%"}
            for _, row in table.iterrows()]
    seeds = ", ".join(str(s) for s in meta["seeds"]) or "?"
    provenance = meta.get("provenance", {})
    version = provenance.get("simsplit_version", "?")
    inputs = "; ".join(f"{role} {digest[:12]}" for role, digest in provenance.get("inputs_sha256", {}).items())
    if inputs:
        version += f"; inputs (SHA-256): {inputs}"
    return [f"<h1>Compare {html.escape(str(meta['scenario']))}</h1>",
            f"<p class='note'>Every strategy on the same scenario over {len(meta['seeds'])} seeds "
            f"({html.escape(seeds)}, drawn from seed {meta['seed']}); means with 95% t-intervals; regret: the "
            f"objective ({html.escape(str(meta.get('objective', 'latency')))}) against the bound, per seed the best "
            f"of the planned bound, the oracle and every static strategy, relative to the bound"
            f"{'' if not meta.get('planned') else ' (' + html.escape(str(meta['planned'])) + ')'}. "
            f"simsplit {html.escape(str(version))}.</p>",
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
    for name, server in summary.get("servers", {}).items():
        if "energy_j" in server:
            rows += [(f"server {name}: energy", _number(server["energy_kwh"]), "kWh"),
                     (f"server {name}: mean power", _number(server["mean_power_w"]), "W"),
                     (f"server {name}: energy per request (this run's share, idle included)",
                      _number(server["j_per_request"]), "J"),
                     (f"server {name}: busy-power energy per request", _number(server["dynamic_j_per_request"]), "J")]
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
            if low is not None and high is not None and not pd.isna(low) and \
                    f"{low * scale:.4g}" != f"{high * scale:.4g}":
                text += f" [{low * scale:.4g}, {high * scale:.4g}]"
            out[label] = text
        rows.append(out)
    return pd.DataFrame(rows)
