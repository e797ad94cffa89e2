"""Figures (matplotlib, Agg backend): PNG or SVG by the file's suffix, axes labelled with units."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def plot_trace(trace, path: str | Path, title: str = "") -> Path:
    """Step plot of a trace's rate (Mbps) over time (s), with its time-weighted mean."""
    path = Path(path)
    times = np.append(trace.times_s, trace.period_s)
    rates = np.append(trace.rates_bps, trace.rates_bps[-1]) / 1e6
    mean = trace.statistics()["mean_bps"] / 1e6
    fig, ax = plt.subplots(figsize=(9, 3.2), constrained_layout=True)
    ax.step(times, rates, where="post", linewidth=0.8, color="tab:blue", label="capacity")
    ax.axhline(mean, color="tab:orange", linestyle="--", linewidth=1, label=f"mean {mean:.2f} Mbps")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("rate (Mbps)")
    ax.set_xlim(0, trace.period_s)
    ax.set_ylim(bottom=0)
    ax.set_title(title)
    ax.legend(loc="upper right", framealpha=0.9)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
