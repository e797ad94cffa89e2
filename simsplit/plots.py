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


def plot_timeseries(result, path: str | Path, title: str = "", server: str | None = None) -> Path:
    """Three panels over time: the first device's uplink capacity (Mbps), a server's queue length, and the
    split chosen for each request (the first device's highlighted, the others faint)."""
    path = Path(path)
    series = result.timeseries
    server = server or result.scenario.server_list[0].name
    requests = result.requests
    fig, axes = plt.subplots(3, 1, figsize=(9, 6.5), sharex=True, constrained_layout=True)
    axes[0].step(series["at_s"], series["uplink_bps"] / 1e6, where="post", linewidth=0.8)
    axes[0].set_ylabel("uplink\ncapacity (Mbps)")
    axes[0].set_ylim(bottom=0)
    queue = series[f"{server}_queue"]
    axes[1].step(series["at_s"], queue, where="post", linewidth=0.8, color="tab:red")
    axes[1].set_ylabel(f"{server} queue\n(jobs waiting)")
    axes[1].set_ylim(0, max(1.0, float(queue.max()) * 1.05))
    first = requests["device"] == 0
    others = requests[~first]
    if len(others):
        axes[2].plot(others["arrival_at_s"], others["split"], ".", markersize=1.5, color="0.75",
                     label="other devices")
    axes[2].plot(requests.loc[first, "arrival_at_s"], requests.loc[first, "split"], ".", markersize=3,
                 color="tab:blue", label="device 0 (its uplink above)")
    last = result.setup.profile.local_split
    axes[2].set_ylabel("chosen split\n(0 = offload input)")
    axes[2].set_ylim(-0.5, last + 0.5)
    axes[2].axhline(last, color="grey", linewidth=0.5, linestyle=":")
    axes[2].text(0, last, " local", va="bottom", fontsize=8, color="grey")
    axes[2].set_xlabel("time (s)")
    axes[2].legend(loc="center right", markerscale=4, fontsize=8, framealpha=0.9)
    axes[0].set_title(title)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
