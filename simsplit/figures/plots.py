"""Figures (matplotlib, Agg backend), each a function of tidy tables that returns a Figure drawn in a
:class:`~simsplit.figures.style.FigureStyle`; :func:`simsplit.figures.style.save` writes it in the style's formats.
Axes say their units; ms and mJ on the axes, SI in the tables."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from simsplit.core.units import MBPS
from simsplit.figures.style import PALETTE, SCREEN, FigureStyle, plt, save, styled

MOST_BARS = 20
"""Most device groups a breakdown draws (chosen by :func:`spread`)."""
CDF_GROUPS = 10
"""Most lines a latency CDF draws (device groups chosen by :func:`spread`)."""
LINE_STYLES = ("-", "--", "-.", ":")

LATENCY_STAGES = (("on the device", ("device_wait_s", "switch_s", "head_s")), ("radio promotion", ("promotion_s",)),
                  ("uplink", ("uplink_wait_s", "uplink_s")), ("server queue", ("server_wait_s",)),
                  ("server compute", ("server_s",)), ("downlink", ("downlink_wait_s", "downlink_s")),
                  ("propagation", ("propagation_s",)))
"""Stages a latency breakdown stacks: (label, the per-request latency columns it adds up)."""
ENERGY_COMPONENTS = (("compute", "compute"), ("model switch", "switch"), ("upload", "uplink"),
                     ("download", "downlink"), ("RRC promotion", "promotion"), ("radio tail", "tail"),
                     ("load probes", "probe"))
"""Components an energy breakdown stacks: (label, key in a summary's ``energy_j``)."""


def in_style(function):
    """Draw the decorated figure function's body in its ``style`` keyword's settings (screen by default)."""
    @functools.wraps(function)
    def drawn(*args, style: FigureStyle = SCREEN, **options):
        with styled(style):
            return function(*args, style=style, **options)
    return drawn


def _figure(style: FigureStyle, width: str = "one", aspect: float = 0.7, rows: int = 1, **options):
    """A figure ``width`` ("one" or "two" columns) wide; called inside an :func:`in_style` function."""
    return plt.subplots(rows, 1, figsize=style.size(width, aspect), constrained_layout=True, **options)


def _colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def _line_style(index: int) -> str:
    """Solid, dashed, dash-dot and dotted in turn, so that lines lying on each other still show (with the
    palette's eight colours, 8 lines in a row differ in both)."""
    return LINE_STYLES[index % len(LINE_STYLES)]


def _save_one(fig, path: str | Path) -> Path:
    """Write ``fig`` to ``path`` in the format its suffix names (screen style), close it."""
    path = Path(path)
    suffix = path.suffix.lstrip(".").lower() or "png"
    save(fig, path, SCREEN, (suffix,))
    return path


def spread(names: list, values, most: int) -> list:
    """At most ``most`` of ``names``, evenly spaced in the order of ``values`` (the smallest and the largest
    always among them), in their original order; NaN values last. All of them when there are few enough."""
    if len(names) <= most:
        return list(names)
    order = np.argsort(np.nan_to_num(np.asarray(values, dtype=float), nan=np.inf), kind="stable")
    picked = set(order[np.unique(np.round(np.linspace(0, len(names) - 1, most)).astype(int))].tolist())
    return [name for index, name in enumerate(names) if index in picked]


def _log_if_wide(ax, axis: str, values: np.ndarray, ratio: float = 30.0) -> None:
    """Log scale on ``axis`` ("x" or "y") when the positive ``values`` span more than ``ratio``."""
    values = values[np.isfinite(values)]
    if values.size and (values > 0).all() and values.max() / values.min() > ratio:
        _log(ax, axis)


def _log(ax, axis: str) -> None:
    """Log scale on ``axis`` with ticks at 1, 2 and 5 of each decade written as plain numbers (20, not 2x10^1)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
    (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    target.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    target.set_minor_formatter(NullFormatter())


def _label_points(ax, names, x, y, first=(), colours=None, placed=None) -> int:
    """Write each name beside its point (in ``colours`` if given), skipping one that would sit on a label
    already written (the indices in ``first`` go first, then left to right; ``placed`` carries the labels
    of earlier calls on the same axes); return how many were skipped."""
    ax.autoscale_view()
    at = ax.transAxes.inverted().transform(ax.transData.transform(np.column_stack([x, y])))
    placed = [] if placed is None else placed
    skipped = 0
    finite = [i for i in range(len(names)) if np.all(np.isfinite(at[i]))]
    for index in list(dict.fromkeys([*first, *sorted(finite, key=lambda i: at[i][0])])):
        if index not in finite:
            continue
        if any(abs(at[index][0] - px) < 0.02 + 0.011 * max(size, len(names[index])) and abs(at[index][1] - py) < 0.045
               for px, py, size in placed):
            skipped += 1
            continue
        right = at[index][0] > 0.8  # near the right edge the label goes to the left of its point
        ax.annotate(names[index], (x[index], y[index]), textcoords="offset points", xytext=(-3 if right else 3, 3),
                    ha="right" if right else "left", fontsize="x-small",
                    color=None if colours is None else colours[index])
        placed.append((at[index][0], at[index][1], len(names[index])))
    return skipped


@in_style
def plot_trace(trace, path: str | Path, title: str = "", *, style: FigureStyle = SCREEN) -> Path:
    """Step plot of a trace's rate (Mbps) over time (s), with its time-weighted mean, written to ``path``."""
    times = np.append(trace.times_s, trace.period_s)
    rates = np.append(trace.rates_bps, trace.rates_bps[-1]) / MBPS
    mean = trace.statistics()["mean_bps"] / MBPS
    fig, ax = _figure(style, "two", 0.33)
    ax.step(times, rates, where="post", linewidth=0.8, label="capacity")
    ax.axhline(mean, color=_colour(1), linestyle="--", linewidth=1, label=f"mean {mean:.2f} Mbps")
    ax.set(xlabel="time (s)", ylabel="rate (Mbps)", xlim=(0, trace.period_s), title=title)
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper right", framealpha=0.9)
    return _save_one(fig, path)


@in_style
def plot_profile(profile, path: str | Path, device_class: str, title: str = "", *, style: FigureStyle = SCREEN) -> Path:
    """Per split point: the block's compute time on ``device_class`` (bars, ms) and the size of the tensor
    crossing the split (line, kB, log scale) — the figure split-computing papers open with."""
    block_ms = np.diff(profile.head_s[device_class] * 1e3)
    sizes_kb = profile.output_bytes / 1e3
    names = list(profile.names)
    fig, ax = _figure(style, "two", 0.45)
    ax.bar(range(1, len(names)), block_ms, color=_colour(0), label=f"block time on {device_class} (ms)")
    ax.set_ylabel(f"block time on {device_class} (ms)")
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=60, ha="right", fontsize="x-small")
    ax.set_xlabel("split after")
    other = ax.twinx()
    other.plot(range(len(names)), sizes_kb, "o-", color=_colour(1), label="tensor crossing the split (kB)")
    other.set_yscale("log")
    other.set_ylabel("tensor at the split (kB, fp32; input 8-bit)")
    other.grid(False)
    handles = ax.get_legend_handles_labels()[0] + other.get_legend_handles_labels()[0]
    ax.legend(handles, [h.get_label() for h in handles], loc="upper right", framealpha=0.9)
    ax.set_title(title)
    return _save_one(fig, path)


def pareto_front(points: np.ndarray) -> np.ndarray:
    """Indices of the points no other point beats on both coordinates (both minimised), by the first."""
    order = np.lexsort((points[:, 1], points[:, 0]))
    front, best = [], np.inf
    for index in order:
        if points[index, 1] < best:
            front.append(index)
            best = points[index, 1]
    return np.array(front, dtype=int)


def _whiskers(table, metric: str, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """(values, 2 x n distances to the 95% interval's ends; 0 where there is none) of ``metric`` x ``scale``."""
    values = table[metric].to_numpy(dtype=float) * scale
    if f"{metric}_low" not in table.columns:
        return values, np.zeros((2, values.size))
    low, high = table[f"{metric}_low"].to_numpy(dtype=float) * scale, table[f"{metric}_high"].to_numpy(dtype=float) * scale
    return values, np.nan_to_num(np.abs(np.vstack([values - low, high - values])))


@in_style
def tradeoff_figure(table, label_factor: str, colour_factor: str | None, title: str = "", *, style: FigureStyle = SCREEN):
    """A sweep's energy per request (mJ) against mean latency (ms): one point per configuration with 95%
    whiskers, coloured by ``colour_factor``, each colour's Pareto front joined; the front's points and each
    colour's slowest and costliest point labelled with their ``label_factor``."""
    fig, ax = _figure(style, "two", 0.55)
    groups = [(None, table)] if colour_factor is None else list(table.groupby(colour_factor, observed=True))
    labelled = []
    for index, (level, part) in enumerate(groups):
        colour = _colour(index)
        x, xerr = _whiskers(part, "latency_mean_s", 1e3)
        y, yerr = _whiskers(part, "energy_j", 1e3)
        ax.errorbar(x, y, xerr=xerr, yerr=yerr, fmt="os^Dv<>p"[index % 8], markersize=3.5, color=colour,
                    elinewidth=0.6, capsize=1.5, label=None if level is None else f"{colour_factor} = {level}")
        finite = np.isfinite(x) & np.isfinite(y)
        front = np.flatnonzero(finite)[pareto_front(np.column_stack([x[finite], y[finite]]))]
        ax.plot(x[front], y[front], _line_style(index), color=colour,
                linewidth=1.0, alpha=0.8)
        labelled.append((part[label_factor].astype(str).to_numpy(), x, y, front, colour))
    _log_if_wide(ax, "x", table["latency_mean_s"].to_numpy(dtype=float))
    _log_if_wide(ax, "y", table["energy_j"].to_numpy(dtype=float))
    placed: list = []
    for labels, x, y, front, colour in labelled:  # every front before the other points
        _label_points(ax, [labels[i] for i in front], x[front], y[front], colours=[colour] * len(front), placed=placed)
    skipped = sum(_label_points(ax, list(labels), x, y, colours=[colour] * len(labels), placed=placed)
                  for labels, x, y, front, colour in labelled)
    if skipped:
        ax.text(0.99, 0.01, f"{skipped} crowded points unlabelled", transform=ax.transAxes, ha="right", va="bottom",
                fontsize="xx-small", color="0.4")
    ax.set_xlabel("mean latency per request (ms)")
    ax.set_ylabel("device energy per request (mJ)")
    ax.set_title(title)
    if colour_factor is not None:
        ax.legend(framealpha=0.9, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def varies(values) -> bool:
    """Whether ``values`` differ by more than float noise (a figure of one repeated value says nothing)."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    return values.size > 1 and values.max() - values.min() > 1e-9 * max(1.0, np.abs(values).max())


@in_style
def sweep_curve_figure(table, metric: str, scale: float, label: str, x_factor: str, line_factor: str | None,
                       title: str = "", *, style: FigureStyle = SCREEN):
    """``metric`` x ``scale`` against the levels of ``x_factor`` with 95% whiskers: lines over a numeric axis
    when the levels are numbers, grouped bars when they are categories (one bar per ``line_factor`` level)."""
    column = table[x_factor]
    levels = list(column.cat.categories) if hasattr(column, "cat") else sorted(set(column))
    levels = [level for level in levels if (column == level).any()]
    xs = _numeric(levels)
    groups = [(None, table)] if line_factor is None else list(table.groupby(line_factor, observed=True))
    wide = xs is None and len(levels) * len(groups) > 24
    fig, ax = _figure(style, "two" if wide else "one", 0.4 if wide else 0.75)
    width = 0.8 / len(groups)
    for index, (level, part) in enumerate(groups):
        legend = None if level is None else f"{line_factor} = {level}"
        y, err = _whiskers(part, metric, scale)
        if xs is not None:
            x = np.array([xs[levels.index(v)] for v in part[x_factor]])
            order = np.argsort(x)
            ax.errorbar(x[order], y[order], yerr=err[:, order], marker="os^Dv<>p"[index % 8], markersize=3,
                        capsize=1.5, linestyle=_line_style(index), color=_colour(index), label=legend)
        else:
            x = np.array([levels.index(v) for v in part[x_factor]]) - 0.4 + width * (index + 0.5)
            ax.bar(x, y, width=width, yerr=err, capsize=1.5, color=_colour(index), label=legend,
                   error_kw={"elinewidth": 0.6})
    if xs is None:
        ax.set_xticks(range(len(levels)))
        ax.set_xticklabels([str(v) for v in levels], rotation=45 if len(levels) > 4 else 0,
                           ha="right" if len(levels) > 4 else "center", rotation_mode="anchor")
        ax.grid(False, axis="x")
    elif (xs > 0).all() and xs.max() / xs.min() > 30:
        ax.set_xscale("log")
    if xs is not None:
        _log_if_wide(ax, "y", table[metric].to_numpy(dtype=float))
    ax.set_xlabel(x_factor)
    ax.set_ylabel(label)
    if line_factor is not None:
        ax.legend(framealpha=0.9)
    ax.set_title(title)
    return fig


@in_style
def latency_cdf_figure(requests, title: str = "", *, style: FigureStyle = SCREEN, deadline_s: float | None = None,
                       warmup_s: float = 0.0):
    """Empirical CDF of the latency (ms, log) of the completed requests that arrived after ``warmup_s`` (those a
    summary counts), one line per device group (:data:`CDF_GROUPS` of them chosen by :func:`spread` when
    there are more, which the title says), the deadline as a vertical line."""
    fig, ax = _figure(style, "one", 0.75)
    done = requests[(requests["status"] == "completed") & (requests["arrival_at_s"] >= warmup_s)]
    medians = done.groupby("group", observed=True, sort=False)["latency_s"].median()
    shown = sorted(spread(list(medians.index), medians.to_numpy(), CDF_GROUPS), key=lambda n: medians[n])
    for index, name in enumerate(shown):
        latency = np.sort(done.loc[done["group"] == name, "latency_s"].to_numpy()) * 1e3
        ax.step(latency, np.arange(1, latency.size + 1) / latency.size, where="post", label=str(name),
                color=_colour(index), linestyle=_line_style(index))
    _finish_cdf(ax, deadline_s, done.empty)
    if len(medians) > len(shown):
        title += f"\n{len(shown)} of {len(medians)} groups, fastest to slowest"
    ax.set_title(title)
    return fig


def _finish_cdf(ax, deadline_s: float | None, empty: bool) -> None:
    if deadline_s is not None:
        ax.axvline(deadline_s * 1e3, color="0.2", linestyle="--", linewidth=0.8,
                   label=f"deadline {deadline_s * 1e3:g} ms")
    _log(ax, "x")
    ax.set_xlabel("latency (ms, log)")
    ax.set_ylabel("fraction of requests")
    ax.set_ylim(0, 1.01)
    if empty:
        ax.text(0.5, 0.5, "no completed requests", transform=ax.transAxes, ha="center", va="center")
    else:
        ax.legend(framealpha=0.9, fontsize="x-small", loc="lower right")


@in_style
def strategy_cdf_figure(quantiles, title: str = "", *, style: FigureStyle = SCREEN, deadline_s: float | None = None):
    """Latency CDF of every strategy of a comparison: per strategy, the latency at each quantile level
    averaged over seeds (the seeds' quantile functions averaged), the deadline as a vertical line.
    ``quantiles``: columns strategy, seed, level, latency_s."""
    fig, ax = _figure(style, "one", 0.8)
    averaged = quantiles.groupby(["strategy", "level"], sort=False)["latency_s"].mean().reset_index()
    names = list(dict.fromkeys(averaged["strategy"]))
    fixed = [n for n in names if str(n).startswith("fixed(")]
    if len(names) > CDF_GROUPS and len(fixed) > 2:
        mean = averaged.groupby("strategy", sort=False)["latency_s"].mean()
        kept = {mean[fixed].idxmin(), mean[fixed].idxmax()}
        names = [n for n in names if n not in fixed or n in kept]
        title += f"\n{len(fixed) - 2} other fixed splits not drawn"
    for index, name in enumerate(names):
        part = averaged[averaged["strategy"] == name].dropna()
        if len(part):
            ax.step(part["latency_s"].to_numpy() * 1e3, part["level"].to_numpy(), where="post", label=str(name),
                    color=_colour(index), linestyle=_line_style(index))
    _finish_cdf(ax, deadline_s, averaged["latency_s"].isna().all())
    ax.set_title(title)
    return fig


def _stacked_bars(names: list[str], parts: list[tuple[str, np.ndarray]], style: FigureStyle, xlabel: str,
                  title: str, references: dict[str, float] | None = None):
    """One horizontal stacked bar per name (top to bottom), each part a (label, values) in the units of the
    axis; parts zero everywhere left out; ``references`` drawn as labelled vertical lines."""
    fig, ax = _figure(style, "one", max(0.6, 0.045 * len(names) + 0.45))
    left = np.zeros(len(names))
    for index, (label, values) in enumerate(parts):
        values = np.nan_to_num(np.asarray(values, dtype=float))
        if values.sum() > 0:
            ax.barh(np.arange(len(names)), values, left=left, label=label, color=_colour(index), height=0.7)
            left += values
    for index, (label, value) in enumerate((references or {}).items()):
        if np.isfinite(value):
            ax.axvline(value, color="0.15", linestyle=LINE_STYLES[1 + index % 3], linewidth=0.9, label=label)
    ax.set_yticks(np.arange(len(names)))
    ax.set_yticklabels(names, fontsize="x-small" if len(names) > 8 else None)
    ax.invert_yaxis()
    ax.grid(False, axis="y")
    ax.set_xlabel(xlabel)
    if left.sum() > 0:
        fig.legend(loc="outside lower center", ncol=2, frameon=False, fontsize="x-small")
    else:
        ax.text(0.5, 0.5, "no completed requests", transform=ax.transAxes, ha="center", va="center")
    ax.set_title(title)
    return fig


def _spread_groups(groups: dict, total, title: str, what: str) -> tuple[list[str], str]:
    """The device groups a breakdown draws (:func:`spread` by ``total(group)``) and its title."""
    names = spread(list(groups), [total(groups[n]) for n in groups], MOST_BARS)
    if len(groups) > len(names):
        title += f"\n{len(names)} of {len(groups)} groups, least to most {what}"
    return names, title


def stage_means(block: dict) -> list[tuple[str, float]]:
    """(stage label, mean seconds) of :data:`LATENCY_STAGES` from a summary block's ``latency_parts_s``."""
    parts = block["latency_parts_s"]
    return [(label, sum(parts.get(p) or 0.0 for p in columns)) for label, columns in LATENCY_STAGES]


@in_style
def latency_breakdown_figure(summary: dict, title: str = "", *, style: FigureStyle = SCREEN):
    """Mean latency (ms) of each device group split into :data:`LATENCY_STAGES`, as stacked bars."""
    names, title = _spread_groups(summary["groups"], lambda g: g["latency_s"]["mean"], title, "latency")
    stages = [stage_means(summary["groups"][n]) for n in names]
    parts = [(label, np.array([s[i][1] for s in stages]) * 1e3) for i, (label, _) in enumerate(LATENCY_STAGES)]
    return _stacked_bars(names, parts, style, "mean latency per completed request (ms)", title)


@in_style
def energy_breakdown_figure(summary: dict, title: str = "", *, style: FigureStyle = SCREEN):
    """Device energy per completed request (mJ) of each device group split into :data:`ENERGY_COMPONENTS`."""
    names, title = _spread_groups(summary["groups"], lambda g: g["energy_j"]["total"], title, "energy")
    parts = [(label, np.array([summary["groups"][n]["energy_j"].get(key) or 0.0 for n in names]) * 1e3)
             for label, key in ENERGY_COMPONENTS]
    return _stacked_bars(names, parts, style, "device energy per completed request (mJ)", title)


def _references(table, metric: str, scale: float) -> dict[str, float]:
    rows = table[table["strategy"].astype(str).str.match(r"^(local|full_offload)")]
    return {f"{name} (total)": value * scale for name, value in zip(rows["strategy"].astype(str), rows[metric])}


@in_style
def split_latency_figure(table, title: str = "", *, style: FigureStyle = SCREEN):
    """A comparison's fixed splits: mean latency (ms) stacked by stage, local and full offload as reference
    lines (their totals). ``table``: compare.csv (columns strategy, latency_mean_s and the latency parts)."""
    fixed = table[table["strategy"].astype(str).str.startswith("fixed(")]
    parts = [(label, sum(fixed[p].fillna(0.0).to_numpy() for p in columns) * 1e3) for label, columns in LATENCY_STAGES]
    return _stacked_bars(list(fixed["strategy"].astype(str)), parts, style, "mean latency per request (ms)", title,
                         _references(table, "latency_mean_s", 1e3))


@in_style
def split_energy_figure(table, title: str = "", *, style: FigureStyle = SCREEN):
    """A comparison's fixed splits: device energy per request (mJ) stacked by component, local and full
    offload as reference lines (their totals)."""
    fixed = table[table["strategy"].astype(str).str.startswith("fixed(")]
    parts = [(label, fixed[f"energy_{key}_j"].fillna(0.0).to_numpy() * 1e3) for label, key in ENERGY_COMPONENTS
             if f"energy_{key}_j" in fixed.columns]
    return _stacked_bars(list(fixed["strategy"].astype(str)), parts, style, "device energy per request (mJ)", title,
                         _references(table, "energy_j", 1e3))


@in_style
def rate_accuracy_figure(table, title: str = "", *, style: FigureStyle = SCREEN):
    """Bytes sent up per request (log) against top-1 accuracy, one labelled point per static strategy of a
    comparison (local sends nothing and is left out); the upper-left points are the efficient ones."""
    fig, ax = _figure(style, "one", 0.8)
    static = table[table["static"].astype(bool) & (table["bytes_up"].fillna(0) > 0)]
    x, y = static["bytes_up"].to_numpy(dtype=float), static["accuracy"].to_numpy(dtype=float)
    ax.plot(x, y, "o", markersize=3.5, color=_colour(0))
    finite = np.isfinite(x) & np.isfinite(y)
    front = np.flatnonzero(finite)[pareto_front(np.column_stack([x[finite], -y[finite]]))]
    ax.plot(x[front], y[front], "-", color="0.4", linewidth=0.8, label="best accuracy for its bytes")
    if not static.empty:
        _log(ax, "x")
    _label_shared(ax, static["strategy"].astype(str).tolist(), x, y, front)
    if static.empty:
        ax.text(0.5, 0.5, "no strategy sends anything", transform=ax.transAxes, ha="center", va="center")
    else:
        ax.legend(framealpha=0.9, loc="lower right")
    ax.set_xlabel("bytes sent up per request (log)")
    ax.set_ylabel("top-1 accuracy")
    ax.set_title(title)
    return fig


def _label_shared(ax, names: list[str], x, y, first) -> None:
    """Label points, strategies at the same point (3 significant digits) under one label joined by "=",
    crowded ones left out and counted in the corner."""
    key = [(float(f"{a:.3g}"), float(f"{b:.3g}")) for a, b in zip(x, y)]
    shared: dict[tuple, list[int]] = {}
    for index, point in enumerate(key):
        shared.setdefault(point, []).append(index)
    heads = [members[0] for members in shared.values()]
    labels = [" = ".join(names[i] for i in shared[key[h]]) for h in heads]
    order = [heads.index(shared[key[i]][0]) for i in first if np.isfinite(x[i]) and np.isfinite(y[i])]
    skipped = _label_points(ax, labels, np.asarray(x)[heads], np.asarray(y)[heads], first=order)
    if skipped:
        ax.text(0.99, 0.01, f"{skipped} crowded points unlabelled", transform=ax.transAxes, ha="right", va="bottom",
                fontsize="xx-small", color="0.4")


@in_style
def compare_tradeoff_figure(table, title: str = "", *, style: FigureStyle = SCREEN):
    """The strategy comparison's energy–latency plane: one point per strategy (mean over seeds, 95% whiskers
    on both axes), static strategies as squares and adaptive ones as circles, the Pareto front joined, every
    point labelled (strategies at the same point share a label)."""
    fig, ax = _figure(style, "one", 0.8)
    x, xerr = _whiskers(table, "latency_mean_s", 1e3)
    y, yerr = _whiskers(table, "energy_j", 1e3)
    static = table["static"].to_numpy(dtype=bool)
    for mask, marker, colour, label in ((static, "s", _colour(0), "static (one option for every request)"),
                                        (~static, "o", _colour(1), "adaptive")):
        if mask.any():
            ax.errorbar(x[mask], y[mask], xerr=xerr[:, mask], yerr=yerr[:, mask], fmt=marker, markersize=3.5,
                        color=colour, elinewidth=0.6, capsize=1.5, label=label)
    finite = np.isfinite(x) & np.isfinite(y)
    front = np.flatnonzero(finite)[pareto_front(np.column_stack([x[finite], y[finite]]))]
    ax.plot(x[front], y[front], "-", color="0.3", linewidth=0.8, alpha=0.7, label="Pareto front")
    _log_if_wide(ax, "x", x)
    _log_if_wide(ax, "y", y)
    _label_shared(ax, table["strategy"].astype(str).tolist(), x, y, np.concatenate([front, np.flatnonzero(~static)]))
    ax.set_xlabel("mean latency per request (ms)")
    ax.set_ylabel("device energy per request (mJ)")
    ax.set_title(title)
    ax.legend(framealpha=0.9, fontsize="x-small")
    return fig


@in_style
def compare_bars_figure(table, metric: str, scale: float, label: str, title: str = "", *, style: FigureStyle = SCREEN):
    """One horizontal bar per strategy: ``metric`` x ``scale`` with its 95% interval, best first."""
    part = table.iloc[np.argsort(table[metric].to_numpy())]
    values, err = _whiskers(part, metric, scale)
    fig, ax = _figure(style, "one", 0.06 * len(part) + 0.3)
    ax.barh(np.arange(len(part)), values, xerr=err, color="0.6", capsize=1.5, error_kw={"elinewidth": 0.6})
    ax.set_yticks(np.arange(len(part)))
    ax.set_yticklabels(part["strategy"].astype(str), fontsize="x-small")
    ax.invert_yaxis()
    ax.grid(False, axis="y")
    ax.set_xlabel(label)
    ax.set_title(title)
    return fig


@in_style
def timeseries_figure(series, requests, local_split: int, server: str, title: str = "", *, style: FigureStyle = SCREEN,
                      deadline_s: float | None = None, phases_s: list[float] | None = None,
                      cell_names: list[str] | None = None):
    """Panels over time: on a cellular link, the first device's distance to its serving cell with its SNR, and
    the serving cell; the first device's uplink capacity with the throughput each of its uploads achieved
    (what a throughput estimator sees); the server's queue and busy workers; the latency of every request
    (log, deadline dashed); and the split each chose (device 0's coloured by bottleneck where it used several:
    rate adaptation). A flat uplink or a queue that never forms gives no
    panel (the title says so); ``phases_s`` boundaries shade alternate phases; ``cell_names`` label the serving
    cell panel (else cell indices)."""
    first = (requests["device"] == 0).to_numpy()
    device_label = f"device 0 ({requests.loc[first, 'group'].iloc[0]})" if "group" in requests and first.any() \
        else "device 0"
    uplink = series["uplink_bps"].to_numpy(dtype=float) / MBPS
    queue = series[f"{server}_queue"].to_numpy(dtype=float)
    busy = series[f"{server}_busy"].to_numpy(dtype=float) if f"{server}_busy" in series.columns else None
    panels, left_out = [], []
    if "distance_m" in series.columns:
        panels += ["distance", "cell"]
    if varies(uplink):
        panels.append("uplink")
    else:
        left_out.append(f"uplink constant at {uplink[0]:.3g} Mbps" if uplink.size else "no uplink samples")
    if queue.size and queue.max() > 0:
        panels.append("server")
    else:
        left_out.append(f"{server} queue always empty")
    panels += ["latency", "split"]
    fig, axes = _figure(style, "two", 0.16 * len(panels) + 0.12, rows=len(panels), sharex=True)
    axes = np.atleast_1d(axes)
    at = series["at_s"].to_numpy(dtype=float)
    for ax, panel in zip(axes, panels):
        if panel == "uplink":
            ax.step(at, uplink, where="post", linewidth=0.8, color=_colour(0), label="capacity (true)")
            sent = requests.loc[first & (requests["status"] == "completed").to_numpy()]
            sent = sent[(sent["bytes_sent_up"] > 0) & (sent["uplink_s"] > 0)]
            if len(sent):
                ax.plot(sent["uplink_start_at_s"], 8 * sent["bytes_sent_up"] / sent["uplink_s"] / MBPS, ".", markersize=2,
                        color=_colour(3), label="each upload's throughput")
            ax.set_ylabel("device 0 uplink\n(Mbps)")
            ax.set_ylim(bottom=0)
            ax.legend(loc="upper right", framealpha=0.9, fontsize="x-small", markerscale=3)
        elif panel == "distance":
            ax.plot(at, series["distance_m"], linewidth=0.8, color=_colour(0), label="distance to serving cell")
            ax.set_ylabel("device 0\ndistance (m)")
            ax.set_ylim(bottom=0)
            snr = ax.twinx()
            snr.plot(at, series["snr_db"].where(np.isfinite(series["snr_db"])), linewidth=0.5, color=_colour(1),
                     alpha=0.6, label="SNR")
            snr.set_ylabel("SNR (dB)")
            ax.legend(loc="upper left", framealpha=0.9, fontsize="x-small")
            snr.legend(loc="upper right", framealpha=0.9, fontsize="x-small")
        elif panel == "cell":
            ax.step(at, series["serving_cell"], where="post", linewidth=0.8, color=_colour(2))
            if cell_names:
                ax.set_yticks(range(-1, len(cell_names)), ["handover", *cell_names])
                ax.set_ylabel("serving cell")
            else:
                ax.set_ylabel("serving cell\n(-1: handover)")
        elif panel == "server":
            ax.step(at, queue, where="post", linewidth=0.8, color=_colour(3), label="jobs waiting")
            if busy is not None:
                ax.step(at, busy, where="post", linewidth=0.8, color=_colour(2), label="busy workers")
            ax.set_ylabel(f"{server}\n(jobs)")
            ax.set_ylim(bottom=0)
            ax.legend(loc="upper right", framealpha=0.9, fontsize="x-small")
        elif panel == "latency":
            done = requests[requests["status"] == "completed"]
            mine = (done["device"] == 0).to_numpy()
            ax.plot(done.loc[~mine, "arrival_at_s"], done.loc[~mine, "latency_s"] * 1e3, ".", markersize=1,
                    color="0.75", label="other devices")
            ax.plot(done.loc[mine, "arrival_at_s"], done.loc[mine, "latency_s"] * 1e3, ".", markersize=2,
                    color=_colour(0), label=device_label)
            if deadline_s is not None:
                ax.axhline(deadline_s * 1e3, color="0.2", linestyle="--", linewidth=0.8, label="deadline")
            if len(done) and (done["latency_s"] > 0).all():
                _log(ax, "y")
            ax.set_ylabel("latency\n(ms, log)")
            ax.legend(loc="upper right", framealpha=0.9, fontsize="x-small", markerscale=3)
        else:
            others = requests[~first]
            if len(others):
                ax.plot(others["arrival_at_s"], others["split"], ".", markersize=1, color="0.75", label="other devices")
            mine = requests.loc[first]
            sent = (mine["split"] != local_split).to_numpy()
            codecs = mine["bottleneck"].astype(str).to_numpy() if "bottleneck" in mine.columns else None
            offloaded = [] if codecs is None else sorted(set(codecs[sent]))
            if len(offloaded) > 1:  # rate adaptation: which bottleneck each request used, by colour
                for k, codec in enumerate(offloaded):
                    rows = sent & (codecs == codec)
                    ax.plot(mine.loc[rows, "arrival_at_s"], mine.loc[rows, "split"], ".", markersize=2,
                            color=_colour(k), label=f"{device_label}: {codec}")
                ax.plot(mine.loc[~sent, "arrival_at_s"], mine.loc[~sent, "split"], ".", markersize=2,
                        color=_colour(len(offloaded)))
            else:
                ax.plot(mine["arrival_at_s"], mine["split"], ".", markersize=2, color=_colour(0), label=device_label)
            ax.set_ylabel("chosen split\n(0 = offload input)")
            ax.set_ylim(-0.5, local_split + 0.5)
            ax.axhline(local_split, color="0.5", linewidth=0.5, linestyle=":")
            ax.annotate(f"{local_split} = local", (0.005, local_split - 0.3), xycoords=("axes fraction", "data"),
                        va="top", color="0.4", fontsize="x-small")
            ax.legend(loc="center right", markerscale=3, framealpha=0.9, fontsize="x-small")
        for index, (start, end) in enumerate(zip(phases_s or [], (phases_s or [])[1:])):
            if index % 2:
                ax.axvspan(start, end, color="0.92", zorder=0, linewidth=0)
    axes[-1].set_xlabel("time (s)" + ("; shaded: alternate phases" if phases_s else ""))
    axes[0].set_title(title + (f"\n(no panel: {'; '.join(left_out)})" if left_out else ""))
    return fig



def _numeric(values) -> np.ndarray | None:
    """The labels as numbers if they all are, else None."""
    try:
        return np.array([float(v) for v in values])
    except (TypeError, ValueError):
        return None
