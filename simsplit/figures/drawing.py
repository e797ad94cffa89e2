"""What every figure is drawn with: the :func:`in_style` decorator, a new figure, the palette's colours and line
styles in turn, log axes, point labels that keep out of each other's way, 95% whiskers, the Pareto front,
horizontal stacked bars and the axes of a latency CDF. Figures are matplotlib (Agg backend), each a function
of tidy tables that returns a Figure drawn in a :class:`~simsplit.figures.style.FigureStyle`; axes say their
units (ms and mJ on the axes, SI in the tables)."""

from __future__ import annotations

import functools

import numpy as np

from simsplit.figures.style import PALETTE, SCREEN, FigureStyle, plt, styled

CDF_GROUPS = 10
"""Most lines a latency CDF draws (device groups chosen by :func:`spread`)."""
LINE_STYLES = ("-", "--", "-.", ":")


def in_style(function):
    """Draw the decorated figure function's body in its ``style`` keyword's settings (screen by default)."""
    @functools.wraps(function)
    def drawn(*args, style: FigureStyle = SCREEN, **options):
        with styled(style):
            return function(*args, style=style, **options)
    return drawn


def new_figure(style: FigureStyle, width: str = "one", aspect: float = 0.7, rows: int = 1, ax=None, **options):
    """(figure, axes) ``width`` ("one" or "two" columns) wide; called inside an :func:`in_style` function. Given
    ``ax`` (a matplotlib Axes of the caller's, one row only), that and its figure instead."""
    if ax is not None:
        return ax.figure, ax
    return plt.subplots(rows, 1, figsize=style.size(width, aspect), constrained_layout=True, **options)


def colour_of(index: int) -> str:
    """The palette's colour number ``index`` (round the palette again past its end)."""
    return PALETTE[index % len(PALETTE)]


def line_style_of(index: int) -> str:
    """Solid, dashed, dash-dot and dotted in turn, so that lines lying on each other still show, shifted by one
    each time the palette's colours come round again: with :func:`colour_of`, no two of the first 32 lines
    share both colour and style (8 lines in a row differ in both)."""
    return LINE_STYLES[(index + index // len(PALETTE)) % len(LINE_STYLES)]


def spread(names: list, values, most: int) -> list:
    """At most ``most`` of ``names``, evenly spaced in the order of ``values`` (the smallest and the largest
    always among them), in their original order; NaN values last. All of them when there are few enough."""
    if len(names) <= most:
        return list(names)
    order = np.argsort(np.nan_to_num(np.asarray(values, dtype=float), nan=np.inf), kind="stable")
    picked = set(order[np.unique(np.round(np.linspace(0, len(names) - 1, most)).astype(int))].tolist())
    return [name for index, name in enumerate(names) if index in picked]


def varies(values) -> bool:
    """Whether ``values`` differ by more than float noise (a figure of one repeated value says nothing)."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    return values.size > 1 and values.max() - values.min() > 1e-9 * max(1.0, np.abs(values).max())


def log_if_wide(ax, axis: str, values: np.ndarray, ratio: float = 30.0) -> None:
    """Log scale on ``axis`` ("x" or "y") when the positive ``values`` span more than ``ratio``."""
    values = values[np.isfinite(values)]
    if values.size and (values > 0).all() and values.max() / values.min() > ratio:
        log_axis(ax, axis)


def log_axis(ax, axis: str) -> None:
    """Log scale on ``axis`` with ticks at 1, 2 and 5 of each decade written as plain numbers (20, not 2x10^1)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
    (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    target.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    target.set_minor_formatter(NullFormatter())


def label_points(ax, names, x, y, first=(), colours=None, placed=None, always=()) -> int:
    """Write each name beside its point (in ``colours`` if given), skipping one that would sit on a label
    already written (the indices in ``first`` go first, then left to right; ``placed`` carries the labels
    of earlier calls on the same axes), except the indices in ``always``: one of those that is crowded is
    written higher up, joined to its point by a thin line. Return how many were skipped."""
    lifted = 0
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
            if index in always:  # the strategy the reader came for: lifted clear, with a leader
                lifted += 1
                ax.annotate(names[index], (x[index], y[index]), textcoords="offset points", xytext=(8, 6 + 9 * lifted),
                            fontsize="x-small", color=None if colours is None else colours[index],
                            arrowprops={"arrowstyle": "-", "linewidth": 0.4, "color": "0.4"})
                continue
            skipped += 1
            continue
        right = at[index][0] > 0.8  # near the right edge the label goes to the left of its point
        ax.annotate(names[index], (x[index], y[index]), textcoords="offset points", xytext=(-3 if right else 3, 3),
                    ha="right" if right else "left", fontsize="x-small",
                    color=None if colours is None else colours[index])
        placed.append((at[index][0], at[index][1], len(names[index])))
    return skipped


def note_unlabelled(ax, skipped: int) -> None:
    """Say in the lower right corner how many crowded points were left without a label (nothing if none)."""
    if skipped:
        ax.text(0.99, 0.01, f"{skipped} crowded points unlabelled", transform=ax.transAxes, ha="right", va="bottom",
                fontsize="xx-small", color="0.4")


def pareto_front(points: np.ndarray) -> np.ndarray:
    """Indices of the points no other point beats on both coordinates (both minimised), by the first."""
    order = np.lexsort((points[:, 1], points[:, 0]))
    front, best = [], np.inf
    for index in order:
        if points[index, 1] < best:
            front.append(index)
            best = points[index, 1]
    return np.array(front, dtype=int)


def whiskers(table, metric: str, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """(values, 2 x n distances to the 95% interval's ends; 0 where there is none) of ``metric`` x ``scale``."""
    values = table[metric].to_numpy(dtype=float) * scale
    if f"{metric}_low" not in table.columns:
        return values, np.zeros((2, values.size))
    low = table[f"{metric}_low"].to_numpy(dtype=float) * scale
    high = table[f"{metric}_high"].to_numpy(dtype=float) * scale
    return values, np.nan_to_num(np.abs(np.vstack([values - low, high - values])))


def stacked_bars(names: list[str], parts: list[tuple[str, np.ndarray]], style: FigureStyle, xlabel: str,
                 title: str, references: dict[str, float] | None = None, ax=None):
    """One horizontal stacked bar per name (top to bottom), each part a (label, values) in the units of the
    axis; parts zero everywhere left out; ``references`` drawn as labelled vertical lines."""
    fig, ax = new_figure(style, "one", max(0.6, 0.045 * len(names) + 0.45), ax=ax)
    left = np.zeros(len(names))
    for index, (label, values) in enumerate(parts):
        values = np.nan_to_num(np.asarray(values, dtype=float))
        if values.sum() > 0:
            ax.barh(np.arange(len(names)), values, left=left, label=label, color=colour_of(index), height=0.7)
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


def finish_cdf(ax, deadline_s: float | None, empty: bool) -> None:
    """A latency CDF's deadline line (s, drawn in ms), log latency axis, labels and legend (or, ``empty``,
    a note that nothing completed)."""
    if deadline_s is not None:
        ax.axvline(deadline_s * 1e3, color="0.2", linestyle="--", linewidth=0.8,
                   label=f"deadline {deadline_s * 1e3:g} ms")
    log_axis(ax, "x")
    ax.set_xlabel("latency (ms, log)")
    ax.set_ylabel("fraction of requests")
    ax.set_ylim(0, 1.01)
    if empty:
        ax.text(0.5, 0.5, "no completed requests", transform=ax.transAxes, ha="center", va="center")
    else:
        ax.legend(framealpha=0.9, fontsize="x-small", loc="lower right")
