"""Figures of a sweep (its table: one row per configuration, means over seeds with 95% intervals): the
energy–latency trade-off, and a metric against the x factor as curves (numeric levels) or grouped bars
(categorical levels)."""

from __future__ import annotations

import numpy as np

from simsplit.figures.drawing import (
    colour_of,
    in_style,
    label_points,
    line_style_of,
    log_if_wide,
    new_figure,
    note_unlabelled,
    pareto_front,
    whiskers,
)
from simsplit.figures.style import SCREEN, FigureStyle

MARKERS = "os^Dv<>p"
"""Marker of each colour in turn (eight, like the palette)."""
NARROW = 1.5
"""Categorical values all within this ratio are drawn as points, not bars from zero."""
WIDE = 10.0
"""Categorical values spanning more than this ratio are drawn as points on a log axis."""


@in_style
def tradeoff_figure(table, label_factor: str, colour_factor: str | None, title: str = "", *,
                    style: FigureStyle = SCREEN):
    """A sweep's energy per request (mJ) against mean latency (ms): one point per configuration with 95%
    whiskers, coloured by ``colour_factor``, each colour's Pareto front joined; the front's points and each
    colour's slowest and costliest point labelled with their ``label_factor``."""
    fig, ax = new_figure(style, "two", 0.55)
    groups = [(None, table)] if colour_factor is None else list(table.groupby(colour_factor, observed=True))
    labelled = []
    for index, (level, part) in enumerate(groups):
        colour = colour_of(index)
        x, xerr = whiskers(part, "latency_mean_s", 1e3)
        y, yerr = whiskers(part, "energy_j", 1e3)
        ax.errorbar(x, y, xerr=xerr, yerr=yerr, fmt=MARKERS[index % 8], markersize=3.5, color=colour,
                    elinewidth=0.6, capsize=1.5, label=None if level is None else f"{colour_factor} = {level}")
        finite = np.isfinite(x) & np.isfinite(y)
        front = np.flatnonzero(finite)[pareto_front(np.column_stack([x[finite], y[finite]]))]
        ax.plot(x[front], y[front], line_style_of(index), color=colour,
                linewidth=1.0, alpha=0.8)
        labelled.append((part[label_factor].astype(str).to_numpy(), x, y, front, colour))
    log_if_wide(ax, "x", table["latency_mean_s"].to_numpy(dtype=float))
    log_if_wide(ax, "y", table["energy_j"].to_numpy(dtype=float))
    placed: list = []
    for labels, x, y, front, colour in labelled:  # every front before the other points
        label_points(ax, [labels[i] for i in front], x[front], y[front], colours=[colour] * len(front), placed=placed)
    note_unlabelled(ax, sum(label_points(ax, list(labels), x, y, colours=[colour] * len(labels), placed=placed)
                            for labels, x, y, front, colour in labelled))
    ax.set_xlabel("mean latency per request (ms)")
    ax.set_ylabel("device energy per request (mJ)")
    ax.set_title(title)
    if colour_factor is not None:
        ax.legend(framealpha=0.9, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


@in_style
def sweep_curve_figure(table, metric: str, scale: float, label: str, x_factor: str, line_factor: str | None,
                       title: str = "", *, style: FigureStyle = SCREEN):
    """``metric`` x ``scale`` against the levels of ``x_factor`` with 95% whiskers: lines over a numeric axis
    when the levels are numbers, grouped bars when they are categories (one bar per ``line_factor`` level)."""
    levels = _levels_present(table[x_factor])
    xs = _numeric(levels)
    groups = [(None, table)] if line_factor is None else \
        [(f"{line_factor} = {level}", part) for level, part in table.groupby(line_factor, observed=True)]
    wide = xs is None and len(levels) * len(groups) > 24
    fig, ax = new_figure(style, "two" if wide else "one", 0.4 if wide else 0.75)
    if xs is None:
        _grouped_bars(ax, groups, metric, scale, x_factor, levels)
    else:
        _curves(ax, groups, metric, scale, x_factor, levels, xs)
        log_if_wide(ax, "y", table[metric].to_numpy(dtype=float))
    ax.set_xlabel(x_factor)
    ax.set_ylabel(label)
    if line_factor is not None:  # beside the axes: never over a bar or a point
        ax.legend(framealpha=0.9, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title(title)
    return fig


def _levels_present(column) -> list:
    """The levels of a factor column that some row has: a categorical's in its order, others sorted."""
    levels = list(column.cat.categories) if hasattr(column, "cat") else sorted(set(column))
    return [level for level in levels if (column == level).any()]


def _curves(ax, groups: list, metric: str, scale: float, x_factor: str, levels: list, xs: np.ndarray) -> None:
    """One line with whiskers per (legend, rows) of ``groups`` over the numeric levels ``xs`` (log x when they
    span more than 30 times)."""
    for index, (legend, part) in enumerate(groups):
        y, err = whiskers(part, metric, scale)
        x = np.array([xs[levels.index(v)] for v in part[x_factor]])
        order = np.argsort(x)
        ax.errorbar(x[order], y[order], yerr=err[:, order], marker=MARKERS[index % 8], markersize=3,
                    capsize=1.5, linestyle=line_style_of(index), color=colour_of(index), label=legend)
    if (xs > 0).all() and xs.max() / xs.min() > 30:
        ax.set_xscale("log")


def _grouped_bars(ax, groups: list, metric: str, scale: float, x_factor: str, levels: list) -> None:
    """At each categorical level, one bar with whiskers per (legend, rows) of ``groups``, side by side; points
    with whiskers instead where bars from zero would hide the differences (values within :data:`NARROW` of each
    other, as accuracies are) or where one value dwarfs the rest (spanning more than :data:`WIDE` times: a log
    axis, which has no zero)."""
    width = 0.8 / len(groups)
    values = np.concatenate([part[metric].to_numpy(dtype=float) for _, part in groups]) * scale
    finite = values[np.isfinite(values)]
    low, high = (finite.min(), finite.max()) if finite.size else (0.0, 0.0)
    points = low > 0 and (high / low < NARROW or high / low > WIDE)
    for index, (legend, part) in enumerate(groups):
        y, err = whiskers(part, metric, scale)
        x = np.array([levels.index(v) for v in part[x_factor]]) - 0.4 + width * (index + 0.5)
        if points:
            ax.errorbar(x, y, yerr=err, fmt=MARKERS[index % 8], markersize=4, capsize=1.5, color=colour_of(index),
                        label=legend, elinewidth=0.6)
        else:
            ax.bar(x, y, width=width, yerr=err, capsize=1.5, color=colour_of(index), label=legend,
                   error_kw={"elinewidth": 0.6})
    if points and high / low > WIDE:
        ax.set_yscale("log")
    ax.set_xticks(range(len(levels)))
    ax.set_xticklabels([str(v) for v in levels], rotation=45 if len(levels) > 4 else 0,
                       ha="right" if len(levels) > 4 else "center", rotation_mode="anchor")
    ax.grid(False, axis="x")


def _numeric(values) -> np.ndarray | None:
    """The labels as numbers if they all are, else None."""
    try:
        return np.array([float(v) for v in values])
    except (TypeError, ValueError):
        return None
