"""Figures of a strategy comparison (compare.csv and its latency quantiles): every strategy's latency CDF, the
energy–latency plane, bars per strategy, the fixed splits' latency by stage and energy by component, and bytes
sent against accuracy."""

from __future__ import annotations

import numpy as np

from simsplit.figures.drawing import (
    CDF_GROUPS,
    colour_of,
    finish_cdf,
    in_style,
    label_points,
    line_style_of,
    log_axis,
    log_if_wide,
    new_figure,
    note_unlabelled,
    pareto_front,
    stacked_bars,
    whiskers,
)
from simsplit.figures.run_figures import ENERGY_COMPONENTS, LATENCY_STAGES
from simsplit.figures.style import SCREEN, FigureStyle


@in_style
def strategy_cdf_figure(quantiles, title: str = "", *, style: FigureStyle = SCREEN, deadline_s: float | None = None):
    """Latency CDF of every strategy of a comparison: per strategy, the latency at each quantile level
    averaged over seeds (the seeds' quantile functions averaged), the deadline as a vertical line.
    ``quantiles``: columns strategy, seed, level, latency_s."""
    fig, ax = new_figure(style, "one", 0.8)
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
                    color=colour_of(index), linestyle=line_style_of(index))
    finish_cdf(ax, deadline_s, averaged["latency_s"].isna().all())
    ax.set_title(title)
    return fig


def _references(table, metric: str, scale: float) -> dict[str, float]:
    """Local's and full offload's ``metric`` x ``scale``, by "<strategy> (total)"."""
    rows = table[table["strategy"].astype(str).str.match(r"^(local|full_offload)")]
    return {f"{name} (total)": value * scale
            for name, value in zip(rows["strategy"].astype(str), rows[metric], strict=True)}


@in_style
def split_latency_figure(table, title: str = "", *, style: FigureStyle = SCREEN):
    """A comparison's fixed splits: mean latency (ms) stacked by stage, local and full offload as reference
    lines (their totals). ``table``: compare.csv (columns strategy, latency_mean_s and the latency parts)."""
    fixed = table[table["strategy"].astype(str).str.startswith("fixed(")]
    parts = [(label, sum(fixed[p].fillna(0.0).to_numpy() for p in columns) * 1e3) for label, columns in LATENCY_STAGES]
    return stacked_bars(list(fixed["strategy"].astype(str)), parts, style, "mean latency per request (ms)", title,
                        _references(table, "latency_mean_s", 1e3))


@in_style
def split_energy_figure(table, title: str = "", *, style: FigureStyle = SCREEN):
    """A comparison's fixed splits: device energy per request (mJ) stacked by component, local and full
    offload as reference lines (their totals)."""
    fixed = table[table["strategy"].astype(str).str.startswith("fixed(")]
    parts = [(label, fixed[f"energy_{key}_j"].fillna(0.0).to_numpy() * 1e3) for label, key in ENERGY_COMPONENTS
             if f"energy_{key}_j" in fixed.columns]
    return stacked_bars(list(fixed["strategy"].astype(str)), parts, style, "device energy per request (mJ)", title,
                        _references(table, "energy_j", 1e3))


@in_style
def rate_accuracy_figure(table, title: str = "", *, style: FigureStyle = SCREEN):
    """Bytes sent up per request (log) against top-1 accuracy, one labelled point per static strategy of a
    comparison (local sends nothing and is left out); the upper-left points are the efficient ones."""
    fig, ax = new_figure(style, "one", 0.8)
    static = table[table["static"].astype(bool) & (table["bytes_up"].fillna(0) > 0)]
    x, y = static["bytes_up"].to_numpy(dtype=float), static["accuracy"].to_numpy(dtype=float)
    ax.plot(x, y, "o", markersize=3.5, color=colour_of(0))
    finite = np.isfinite(x) & np.isfinite(y)
    front = np.flatnonzero(finite)[pareto_front(np.column_stack([x[finite], -y[finite]]))]
    ax.plot(x[front], y[front], "-", color="0.4", linewidth=0.8, label="best accuracy for its bytes")
    if not static.empty:
        log_axis(ax, "x")
    _label_shared(ax, static["strategy"].astype(str).tolist(), x, y, front)
    if static.empty:
        ax.text(0.5, 0.5, "no strategy sends anything", transform=ax.transAxes, ha="center", va="center")
    else:
        ax.legend(framealpha=0.9, loc="lower right")
    ax.set_xlabel("bytes sent up per request (log)")
    ax.set_ylabel("top-1 accuracy")
    ax.set_title(title)
    return fig


def _label_shared(ax, names: list[str], x, y, first, always=()) -> None:
    """Label points, strategies at the same point (3 significant digits) under one label joined by "=",
    crowded ones left out and counted in the corner, but those of ``always``, which are lifted clear."""
    key = [(float(f"{a:.3g}"), float(f"{b:.3g}")) for a, b in zip(x, y, strict=True)]
    shared: dict[tuple, list[int]] = {}
    for index, point in enumerate(key):
        shared.setdefault(point, []).append(index)
    heads = [members[0] for members in shared.values()]
    labels = [" = ".join(names[i] for i in shared[key[h]]) for h in heads]
    order = [heads.index(shared[key[i]][0]) for i in first if np.isfinite(x[i]) and np.isfinite(y[i])]
    kept = {heads.index(shared[key[i]][0]) for i in always if np.isfinite(x[i]) and np.isfinite(y[i])}
    note_unlabelled(ax, label_points(ax, labels, np.asarray(x)[heads], np.asarray(y)[heads], first=order,
                                     always=kept))


@in_style
def compare_tradeoff_figure(table, title: str = "", *, style: FigureStyle = SCREEN):
    """The strategy comparison's energy–latency plane: one point per strategy (mean over seeds, 95% whiskers
    on both axes), static strategies as squares and adaptive ones as circles, the Pareto front joined, every
    point labelled (strategies at the same point share a label)."""
    fig, ax = new_figure(style, "one", 0.8)
    x, xerr = whiskers(table, "latency_mean_s", 1e3)
    y, yerr = whiskers(table, "energy_j", 1e3)
    static = table["static"].to_numpy(dtype=bool)
    for mask, marker, colour, label in ((static, "s", colour_of(0), "static (one option for every request)"),
                                        (~static, "o", colour_of(1), "adaptive")):
        if mask.any():
            ax.errorbar(x[mask], y[mask], xerr=xerr[:, mask], yerr=yerr[:, mask], fmt=marker, markersize=3.5,
                        color=colour, elinewidth=0.6, capsize=1.5, label=label)
    finite = np.isfinite(x) & np.isfinite(y)
    front = np.flatnonzero(finite)[pareto_front(np.column_stack([x[finite], y[finite]]))]
    ax.plot(x[front], y[front], "-", color="0.3", linewidth=0.8, alpha=0.7, label="Pareto front")
    log_if_wide(ax, "x", x)
    log_if_wide(ax, "y", y)
    adaptive = np.flatnonzero(~static)
    _label_shared(ax, table["strategy"].astype(str).tolist(), x, y, np.concatenate([adaptive, front]),
                  always=adaptive)
    ax.set_xlabel("mean latency per request (ms)")
    ax.set_ylabel("device energy per request (mJ)")
    ax.set_title(title)
    ax.legend(framealpha=0.9, fontsize="x-small")
    return fig


KINDS = ("static", "adaptive", "oracle or plan")
"""The kinds of strategy a comparison's bars tell apart by colour."""


def strategy_kind(name: str, static) -> str:
    """``static`` (a fixed decision), ``oracle or plan`` (it knows what a device cannot: the oracles and the planned
    bound) or ``adaptive`` (it decides from what it observes)."""
    if bool(static):
        return "static"
    return "oracle or plan" if name.startswith(("oracle", "planned")) else "adaptive"


@in_style
def compare_bars_figure(table, metric: str, scale: float, label: str, title: str = "", *, style: FigureStyle = SCREEN):
    """One horizontal bar per strategy: ``metric`` x ``scale`` with its 95% interval, best first, coloured by
    :func:`strategy_kind` (the legend beside the axes)."""
    part = table.iloc[np.argsort(table[metric].to_numpy())]
    values, err = whiskers(part, metric, scale)
    fig, ax = new_figure(style, "one", 0.06 * len(part) + 0.3)
    kinds = [strategy_kind(name, static) for name, static in zip(
        part["strategy"].astype(str), part["static"] if "static" in part.columns else [True] * len(part), strict=True)]
    colours = [colour_of(KINDS.index(kind)) for kind in kinds]
    ax.barh(np.arange(len(part)), values, xerr=err, color=colours, capsize=1.5, error_kw={"elinewidth": 0.6})
    for kind in (k for k in KINDS if k in kinds):
        ax.barh([np.nan], [np.nan], color=colour_of(KINDS.index(kind)), label=kind)  # a legend entry only
    ax.legend(fontsize="x-small", loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    ax.set_yticks(np.arange(len(part)))
    ax.set_yticklabels(part["strategy"].astype(str), fontsize="x-small")
    ax.invert_yaxis()
    ax.grid(False, axis="y")
    ax.set_xlabel(label)
    ax.set_title(title)
    return fig
