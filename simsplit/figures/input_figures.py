"""Figures of a simulation's inputs, each written straight to a file: a bandwidth trace's rate over time and a
model profile's per-block compute time with the size of the tensor crossing each split."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from simsplit.core.units import MBPS
from simsplit.figures.drawing import colour_of, in_style, new_figure
from simsplit.figures.style import SCREEN, FigureStyle, save


def _save_one(fig, path: str | Path) -> Path:
    """Write ``fig`` to ``path`` in the format its suffix names (screen style), close it."""
    path = Path(path)
    suffix = path.suffix.lstrip(".").lower() or "png"
    save(fig, path, SCREEN, (suffix,))
    return path


@in_style
def plot_trace(trace, path: str | Path, title: str = "", *, style: FigureStyle = SCREEN) -> Path:
    """Step plot of a trace's rate (Mbps) over time (s), with its time-weighted mean, written to ``path``."""
    times = np.append(trace.times_s, trace.period_s)
    rates = np.append(trace.rates_bps, trace.rates_bps[-1]) / MBPS
    mean = trace.statistics()["mean_bps"] / MBPS
    fig, ax = new_figure(style, "two", 0.33)
    ax.step(times, rates, where="post", linewidth=0.8, label="capacity")
    ax.axhline(mean, color=colour_of(1), linestyle="--", linewidth=1, label=f"mean {mean:.2f} Mbps")
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
    fig, ax = new_figure(style, "two", 0.45)
    ax.bar(range(1, len(names)), block_ms, color=colour_of(0), label=f"block time on {device_class} (ms)")
    ax.set_ylabel(f"block time on {device_class} (ms)")
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=60, ha="right", fontsize="x-small")
    ax.set_xlabel("split after")
    other = ax.twinx()
    other.plot(range(len(names)), sizes_kb, "o-", color=colour_of(1), label="tensor crossing the split (kB)")
    other.set_yscale("log")
    other.set_ylabel("tensor at the split (kB, fp32; input 8-bit)")
    other.grid(False)
    handles = ax.get_legend_handles_labels()[0] + other.get_legend_handles_labels()[0]
    ax.legend(handles, [h.get_label() for h in handles], loc="upper right", framealpha=0.9)
    ax.set_title(title)
    return _save_one(fig, path)
