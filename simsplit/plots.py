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


def plot_profile(profile, path: str | Path, device_class: str, title: str = "") -> Path:
    """Per split point: the block's compute time on ``device_class`` (bars, ms) and the size of the tensor
    crossing the split (line, kB, log scale) — the figure split-computing papers open with."""
    path = Path(path)
    head_ms = profile.head_s[device_class] * 1e3
    block_ms = np.diff(head_ms)
    sizes_kb = profile.output_bytes / 1e3
    names = list(profile.names)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.45 * len(names)), 3.8), constrained_layout=True)
    ax.bar(range(1, len(names)), block_ms, color="tab:blue", label=f"block time on {device_class} (ms)")
    ax.set_ylabel(f"block time on {device_class} (ms)")
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=60, ha="right", fontsize=8)
    ax.set_xlabel("split after")
    other = ax.twinx()
    other.plot(range(len(names)), sizes_kb, "o-", color="tab:orange", label="tensor crossing the split (kB)")
    other.set_yscale("log")
    other.set_ylabel("tensor size at the split (kB, fp32; input 8-bit)")
    lines = ax.get_legend_handles_labels()[0] + other.get_legend_handles_labels()[0]
    labels = ax.get_legend_handles_labels()[1] + other.get_legend_handles_labels()[1]
    ax.legend(lines, labels, loc="upper center", bbox_to_anchor=(0.5, -0.32), ncol=2, fontsize=8, frameon=False)
    ax.set_title(title)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
