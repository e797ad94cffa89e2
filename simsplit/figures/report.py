"""One self-contained HTML page for a run, sweep or compare folder: its tables with units and 95% intervals,
the scenario's key parameters, provenance and every figure of the folder, captioned and embedded."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from markupsafe import Markup

from simsplit.figures.drawing import varies
from simsplit.figures.folder_figures import SWEEP_CURVES, compare_meta, draw, folder_kind, scenario_of
from simsplit.figures.report_numbers import MISSING, count, decimals_for, fixed, fold_constant, metric_column, tidy
from simsplit.figures.scenario_table import scenario_table
from simsplit.figures.style import SCREEN


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
    "regret-by-strategy": "How far each strategy's objective is above the bound (per seed, the best of the planned "
                          "bound, the oracle and every static strategy), in % of the bound's mean as in the table, "
                          "with its 95% interval; 0 is the bound.",
}
"""What each figure shows, by file name (a figure not listed is captioned by its name)."""


@dataclass
class Section:
    """One section of a report page: its heading, notes, tables (HTML), figures and notes after them."""
    title: str
    notes: list[str] = field(default_factory=list)
    tables: list[Markup] = field(default_factory=list)
    figures: list[dict] = field(default_factory=list)
    after: list[str] = field(default_factory=list)


def _figure(path: Path) -> dict:
    """A figure for the page's template: its PNG as base64, its name and its caption."""
    key = max((k for k in CAPTIONS if path.stem == k or path.stem.startswith(k + "-")), key=len, default=None)
    caption = CAPTIONS[key] if key else path.stem.replace("-", " ").replace("_", " ")
    if path.stem.startswith("curve-"):
        caption = f"{path.stem[6:].replace('_', ' ')} of every configuration against the sweep's x factor (lines over "\
                  "a numeric factor, grouped bars over a categorical one), one colour per level of its line factor, " \
                  "95% whiskers over seeds."
    return {"data": base64.b64encode(path.read_bytes()).decode(), "name": path.stem, "caption": caption}


def _table(frame: pd.DataFrame, classes: str = "data") -> Markup:
    """``frame`` (already text: :mod:`~simsplit.figures.report_numbers`) as an HTML table, its cells escaped."""
    return Markup(frame.to_html(index=False, border=0, classes=classes, na_rep=MISSING, escape=True))


def _folded(frame: pd.DataFrame, section: Section, what: str) -> None:
    """Add ``frame`` to ``section`` with its columns equal in every row folded into a note."""
    frame, note = fold_constant(frame, what)
    section.tables.append(_table(frame))
    if note:
        section.notes.append(note)


STYLE = """body{font-family:system-ui,sans-serif;margin:2em auto;padding:0 1em;max-width:1100px;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em}table.data{border-collapse:collapse;font-size:12px}
table.data td,table.data th{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right;white-space:nowrap}
table.data td:first-child,table.data th:first-child{text-align:left}
table.params td,table.params th{text-align:left;white-space:normal}table.params td:first-child{white-space:nowrap}
.scroll{overflow-x:auto}
img{max-width:100%;height:auto;box-sizing:border-box;border:1px solid #eee}figure{margin:1em 0}\
figcaption{font-size:12px;color:#666}
.note{color:#555;font-size:13px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,460px),1fr));gap:1em}
.toc{font-size:13px;background:#f7f7f7;padding:.5em 1em;margin:1em 0}.toc ol{margin:.3em 0;padding-left:1.5em}
@media (max-width:600px){body{margin:1em auto}table.data{font-size:11px}
table.data td,table.data th{padding:2px 4px;white-space:normal}}"""


def _template():
    """The page's Jinja2 template (``templates/report.html.j2``), HTML-escaping every value not marked safe."""
    import jinja2
    environment = jinja2.Environment(loader=jinja2.PackageLoader("simsplit.figures", "templates"),
                                     autoescape=True, trim_blocks=True, lstrip_blocks=True,
                                     undefined=jinja2.StrictUndefined)
    return environment.get_template("report.html.j2")


def write_report(folder: Path) -> Path:
    """Write ``report.html`` from its template: a table of contents, the tables (units, 95% intervals, one
    number of decimals a column, constant columns in a note), the scenario's key parameters, provenance and
    every figure (screen style, drawn afresh and embedded as PNG in a grid; ``figures/`` is left as it is)."""
    import tempfile
    folder = Path(folder)
    kind = folder_kind(folder)
    scenario = scenario_of(folder)
    if kind == "compare":
        title, notes, sections = _compare_section(folder)
    elif kind == "sweep":
        title, notes, sections = _sweep_section(folder)
        first = sorted((folder / "runs").glob("*/scenario.yaml"))
        scenario = scenario_of(first[0].parent) if first else None
    else:
        summary = json.loads((folder / "summary.json").read_text())
        title, notes, sections = _run_section(summary)
        groups = pd.DataFrame([{"device group": n, "strategy": g["strategy"], "completed": g["completed"],
                                "latency_mean_s": g["latency_s"]["mean"], "latency_p95_s": g["latency_s"]["p95"],
                                "energy_j": g["energy_j"]["total"], "accuracy": g["accuracy"]}
                               for n, g in summary["groups"].items()])
        shown = pd.DataFrame({"device group": groups["device group"], "strategy": groups["strategy"].astype(str),
                              "completed": [count(v) for v in groups["completed"]]})
        for key, label, scale in GROUP_COLUMNS:
            shown[label] = metric_column(groups.astype({key: float}), key, scale)
        section = Section("Device groups")
        _folded(shown, section, "device group")
        sections.append(section)
        if kind == "sites":
            sections.append(_sites_section(folder))
    if scenario is not None:
        heading = "Scenario of the first configuration (the factors vary it)" if kind == "sweep" else "Scenario"
        sections.append(Section(heading, tables=[_table(scenario_table(scenario), "data params")]))
    figures = Section("Figures")
    with tempfile.TemporaryDirectory() as scratch:
        figures.figures = [_figure(path) for path in draw(folder, Path(scratch), SCREEN, ("png",))]
    if kind == "sweep":
        figures.after = _flat_metrics(folder)
    sections.append(figures)
    page = _template().render(folder=folder.name, title=title, notes=notes, sections=sections, style=STYLE)
    target = folder / "report.html"
    partial = target.with_name(".report.html.partial")
    partial.write_text(page, encoding="utf-8")
    partial.replace(target)
    return target


GROUP_COLUMNS = (("latency_mean_s", "latency mean (ms)", 1e3), ("latency_p95_s", "latency p95 (ms)", 1e3),
                 ("energy_j", "energy (mJ/request)", 1e3), ("accuracy", "accuracy", 1.0))
"""A run's per-group columns: (summary key, heading, scale)."""


SITES_SHOWN = 100
"""Sites listed in a report (the slowest first); sites.csv has them all."""


def _sites_section(folder: Path) -> Section:
    """The sites, slowest first: each one's drawn values, requests, mean and p95 latency and energy."""
    sites = pd.read_csv(folder / "sites.csv").sort_values("latency_mean_s", ascending=False, kind="stable")
    shown = sites.head(SITES_SHOWN).drop(columns=["seed", "rows_written"], errors="ignore").reset_index(drop=True)
    metrics = {key: metric_column(shown, key, scale) for key, _, scale in SITE_COLUMNS}
    shown = tidy(shown.drop(columns=list(metrics)), counts=[c for c in shown.columns if c in ("requests", "completed")])
    for key, label, _ in SITE_COLUMNS:
        shown[label] = metrics[key]
    section = Section("Sites", notes=[f"{len(sites):,} sites, the slowest first" + (
        f"; the {SITES_SHOWN} slowest shown (sites.csv has every one)" if len(sites) > SITES_SHOWN else "") + "."])
    _folded(shown, section, "site")
    return section


SITE_COLUMNS = (("latency_mean_s", "latency mean (ms)", 1e3), ("latency_p95_s", "latency p95 (ms)", 1e3),
                ("energy_j", "energy (mJ/request)", 1e3))
"""A sites table's metric columns: (sites.csv column, heading, scale)."""


def _flat_metrics(folder: Path) -> list[str]:
    """A note for each sweep metric with no figure because every configuration gave the same value."""
    table = pd.read_parquet(folder / "table.parquet")
    flat = [f"{label} is {table[metric].dropna().iloc[0] * scale:.4g} {unit} in every configuration"
            for metric, scale, unit, label in SWEEP_CURVES
            if not varies(table[metric]) and table[metric].notna().any()]
    return [f"No curve drawn: {'; '.join(flat)}."] if flat else []


def _sweep_section(folder: Path) -> tuple[str, list[str], list[Section]]:
    """A sweep's title, notes and sections: the best configuration per level (when asked) and every one."""
    meta = json.loads((folder / "sweep.json").read_text())
    table = pd.read_parquet(folder / "table.parquet")
    provenances = [json.loads(path.read_text()).get("provenance", {})
                   for path in sorted((folder / "runs").glob("*/summary.json"))]
    version = " and ".join(sorted({p.get("simsplit_version", "?") for p in provenances})) or "?"
    inputs = provenances[0].get("inputs_sha256", {}) if provenances else {}
    if inputs:
        version += "; the first configuration's inputs (SHA-256): " + "; ".join(
            f"{role} {digest[:12]}" for role, digest in inputs.items())
    note = (f"{len(table):,} configurations; factors: {', '.join(meta['factors'])}; means over seeds with their "
            f"95% t-intervals in brackets (none where every seed gave the same value), each column in one number of "
            f"decimals. simsplit {version}.")
    sections = []
    options = meta.get("report", {})
    if "best_by" in options:
        best = Section(f"Best configuration per {options['best_by']}")
        best.tables.append(_table(tidy(best_table(table, options["best_by"], options.get("baseline")))))
        sections.append(best)
    every = Section("All configurations")
    _folded(_sweep_rows(table, meta["factors"]), every, "configuration")
    sections.append(every)
    return f"Sweep {meta['name']}", [note], sections


COMPARE_COLUMNS = (("latency_mean_s", "latency mean (ms)", 1e3), ("latency_p95_s", "latency p95 (ms)", 1e3),
                   ("energy_j", "energy (mJ/request)", 1e3), ("accuracy", "accuracy", 1.0),
                   ("deadline_hit_rate", "deadline hit rate", 1.0), ("switches", "switches", 1.0),
                   ("relative_regret", "regret (% above the bound)", 100.0))
"""A comparison's columns: (compare.csv column, heading, scale); each beside its 95% interval where it has one."""


def _compare_section(folder: Path) -> tuple[str, list[str], list[Section]]:
    """The comparison's title, its note and its table with units and intervals."""
    meta = compare_meta(folder)
    table = pd.read_csv(folder / "compare.csv")
    shown = pd.DataFrame({"strategy": table["strategy"].astype(str)})
    for key, label, scale in COMPARE_COLUMNS:
        if key in table.columns:
            shown[label] = metric_column(table, key, scale)
    seeds = ", ".join(str(s) for s in meta["seeds"]) or "?"
    provenance = meta.get("provenance", {})
    version = provenance.get("simsplit_version", "?")
    inputs = "; ".join(f"{role} {digest[:12]}" for role, digest in provenance.get("inputs_sha256", {}).items())
    if inputs:
        version += f"; inputs (SHA-256): {inputs}"
    planned = f" ({meta['planned']})" if meta.get("planned") else ""
    note = (f"Every strategy on the same scenario over {len(meta['seeds'])} seeds ({seeds}, drawn from seed "
            f"{meta['seed']}); means with 95% t-intervals; regret: the objective "
            f"({meta.get('objective', 'latency')}) against the bound, per seed the best of the planned bound, the "
            f"oracle and every static strategy, relative to the bound{planned}. simsplit {version}.")
    section = Section("Strategies")
    _folded(shown, section, "strategy")
    return f"Compare {meta['scenario']}", [note], [section]


RUN_ROWS = (("generated", "requests generated (after the warm-up)", 1.0, ""),
            ("completed", "requests completed", 1.0, ""), ("dropped", "dropped (server queue full)", 1.0, ""),
            ("lost", "lost (erased on a link)", 1.0, ""), ("timed_out", "timed out (deadline, in the queue)", 1.0, ""),
            ("in_flight", "still in flight at the end", 1.0, ""), ("throughput_rps", "throughput", 1.0, "requests/s"),
            ("accuracy", "accuracy (top-1)", 1.0, ""), ("deadline_miss_rate", "deadline miss rate", 1.0, ""),
            ("server_utilisation", "server utilisation", 1.0, ""))
COUNTS = {"generated", "completed", "dropped", "lost", "timed_out", "in_flight"}


def _number(value, scale: float = 1.0) -> str:
    """One value of a list of different quantities: :data:`SIGNIFICANT` significant figures, kept zeros."""
    if value is None or pd.isna(value):
        return MISSING
    return fixed(value * scale, decimals_for([value * scale]))


def _run_section(summary: dict) -> tuple[str, list[str], list[Section]]:
    """A run's title, where it came from, and its key numbers with units and 95% intervals."""
    rows = [(label, count(summary.get(key)) if key in COUNTS else _number(summary.get(key), scale), unit)
            for key, label, scale, unit in RUN_ROWS]
    rows += _latency_rows(summary["latency_s"])
    rows += [(f"device energy per request: {part}", _number(value, 1e3), "mJ")
             for part, value in summary["energy_j"].items()]
    for name, server in summary.get("servers", {}).items():
        if "energy_j" in server:
            rows += [(f"server {name}: energy", _number(server["energy_kwh"]), "kWh"),
                     (f"server {name}: mean power", _number(server["mean_power_w"]), "W"),
                     (f"server {name}: energy per request (this run's share, idle included)",
                      _number(server["j_per_request"]), "J"),
                     (f"server {name}: busy-power energy per request", _number(server["dynamic_j_per_request"]), "J")]
    table = pd.DataFrame(rows, columns=["", "value [95% interval]", "unit"])
    return f"Run {summary['scenario']}", [_run_note(summary)], [Section("Summary",
                                                                         tables=[_table(table, "data keyvalue")])]


def _latency_rows(latency: dict) -> list[tuple[str, str, str]]:
    """(label, value [interval], unit) of the latency's mean and quantiles, each in its own decimals (ms)."""
    rows = []
    for key in ("mean", "p50", "p95", "p99"):
        low, high = latency.get("ci95", {}).get(key, [None, None])
        value = latency.get(key)
        decimals = decimals_for([v * 1e3 for v in (value, low, high) if v is not None])
        text = fixed(None if value is None else value * 1e3, decimals)
        if low is not None and high is not None:
            text += f" [{fixed(low * 1e3, decimals)}, {fixed(high * 1e3, decimals)}]"
        rows.append((f"latency {key}", text, "ms"))
    return rows


def _run_note(summary: dict) -> str:
    """Where a run came from: its seed, duration, warm-up and deadline, simsplit's version and its inputs."""
    provenance = summary.get("provenance", {})
    inputs = "; ".join(f"{role} {digest[:12]}" for role, digest in provenance.get("inputs_sha256", {}).items())
    return (f"seed {summary['seed']}, {summary['duration_s']:g} s simulated, the first {summary['warmup_s']:g} s "
            f"left out as warm-up" + (f", deadline {summary['deadline_s'] * 1e3:g} ms" if summary.get("deadline_s")
                                      else "")
            + f". simsplit {provenance.get('simsplit_version', '?')}"
            + (f" (git {str(provenance['git_commit'])[:10]})" if provenance.get("git_commit") else "")
            + (f"; inputs (SHA-256): {inputs}" if inputs else "") + ".")


SWEEP_COLUMNS = (("latency_mean_s", "latency mean (ms)", 1e3), ("latency_p95_s", "latency p95 (ms)", 1e3),
                 ("energy_j", "energy (mJ/request)", 1e3), ("accuracy", "accuracy", 1.0),
                 ("deadline_miss_rate", "deadline miss rate", 1.0), ("throughput_rps", "throughput (requests/s)", 1.0),
                 ("server_utilisation", "server utilisation", 1.0))


def _sweep_rows(table: pd.DataFrame, factors: list[str]) -> pd.DataFrame:
    """A sweep's configurations with human column names and units, each mean with its 95% interval."""
    rows = pd.DataFrame({factor: table[factor].astype(str) for factor in factors})
    for key, label, scale in SWEEP_COLUMNS:
        if key in table.columns:
            rows[label] = metric_column(table, key, scale)
    return rows
