"""Figures (matplotlib, Agg backend): PNG or SVG by the file's suffix, axes labelled with units."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from simsplit.units import MBPS


def plot_trace(trace, path: str | Path, title: str = "") -> Path:
    """Step plot of a trace's rate (Mbps) over time (s), with its time-weighted mean."""
    path = Path(path)
    times = np.append(trace.times_s, trace.period_s)
    rates = np.append(trace.rates_bps, trace.rates_bps[-1]) / MBPS
    mean = trace.statistics()["mean_bps"] / MBPS
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


def plot_timeseries(series, requests, local_split: int, server: str, path: str | Path, title: str = "") -> Path:
    """Three panels over time: the first device's uplink capacity (Mbps), a server's queue length, and the
    split chosen for each request (the first device's highlighted, the others faint)."""
    path = Path(path)
    fig, axes = plt.subplots(3, 1, figsize=(9, 6.5), sharex=True, constrained_layout=True)
    axes[0].step(series["at_s"], series["uplink_bps"] / MBPS, where="post", linewidth=0.8)
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
    last = local_split
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


def save(fig, path: Path) -> list[Path]:
    """Write ``fig`` as PNG and SVG beside each other; return both paths."""
    path = Path(path)
    written = []
    for suffix in (".png", ".svg"):
        target = path.with_suffix(suffix)
        fig.savefig(target, dpi=120)
        written.append(target)
    plt.close(fig)
    return written


def pareto_front(points: np.ndarray) -> np.ndarray:
    """Indices of the points no other point beats on both coordinates (both minimised), by the first."""
    order = np.lexsort((points[:, 1], points[:, 0]))
    front, best = [], np.inf
    for index in order:
        if points[index, 1] < best:
            front.append(index)
            best = points[index, 1]
    return np.array(front, dtype=int)


def plot_tradeoff(table, path: Path, label_factor: str, colour_factor: str | None, title: str = "") -> list[Path]:
    """Energy per request (mJ) against mean latency (ms): one point per configuration with 95% whiskers,
    coloured by ``colour_factor``, each colour's Pareto front joined by a line."""
    fig, ax = plt.subplots(figsize=(8, 5.5), constrained_layout=True)
    groups = [(None, table)] if colour_factor is None else list(table.groupby(colour_factor, observed=True))
    for colour, (level, part) in zip(plt.rcParams["axes.prop_cycle"].by_key()["color"] * 10, groups):
        x, y = part["latency_mean_s"].to_numpy() * 1e3, part["energy_j"].to_numpy() * 1e3
        xerr = np.abs(np.vstack([x - part["latency_mean_s_low"].to_numpy() * 1e3,
                                 part["latency_mean_s_high"].to_numpy() * 1e3 - x]))
        yerr = np.abs(np.vstack([y - part["energy_j_low"].to_numpy() * 1e3, part["energy_j_high"].to_numpy() * 1e3 - y]))
        xerr, yerr = np.nan_to_num(xerr), np.nan_to_num(yerr)
        ax.errorbar(x, y, xerr=xerr, yerr=yerr, fmt="o", markersize=4, color=colour, elinewidth=0.8, capsize=2,
                    label=None if level is None else f"{colour_factor} = {level}")
        front = pareto_front(np.column_stack([x, y]))
        ax.plot(x[front], y[front], "-", color=colour, linewidth=1.2, alpha=0.7)
        labelled = list(front) + [int(np.argmax(x)), int(np.argmax(y))]
        labels = part[label_factor].astype(str).to_numpy()
        for index in dict.fromkeys(labelled):
            ax.annotate(labels[index], (x[index], y[index]), textcoords="offset points", xytext=(4, 4), fontsize=7,
                        color=colour)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("mean latency per request (ms, log)")
    ax.set_ylabel("device energy per request (mJ, log)")
    ax.set_title(title + ("\n" if title else "") + "lines: Pareto front; labelled: the front and the slowest and "
                 "costliest points; whiskers: 95% interval over seeds", fontsize=10)
    if colour_factor is not None:
        ax.legend(fontsize=8, framealpha=0.9)
    ax.grid(True, which="both", linewidth=0.3, alpha=0.5)
    return save(fig, path)


def plot_sweep_curve(table, path: Path, metric: str, unit_scale: float, unit: str, x_factor: str,
                     line_factor: str | None, title: str = "") -> list[Path]:
    """``metric`` against the levels of ``x_factor`` (numeric axis if the labels are numbers), one line per
    level of ``line_factor``, with 95% whiskers."""
    from simsplit.sweep import numeric
    fig, ax = plt.subplots(figsize=(8, 4.2), constrained_layout=True)
    levels = list(table[x_factor].cat.categories) if hasattr(table[x_factor], "cat") else sorted(set(table[x_factor]))
    xs = numeric(levels)
    position = {level: (xs[i] if xs is not None else i) for i, level in enumerate(levels)}
    groups = [(None, table)] if line_factor is None else list(table.groupby(line_factor, observed=True))
    for level, part in groups:
        x = np.array([position[v] for v in part[x_factor]])
        y = part[metric].to_numpy() * unit_scale
        err = np.nan_to_num(np.abs(np.vstack([y - part[f"{metric}_low"].to_numpy() * unit_scale,
                                              part[f"{metric}_high"].to_numpy() * unit_scale - y])))
        ax.errorbar(x, y, yerr=err, marker="o", markersize=3, capsize=2, linewidth=1,
                    label=None if level is None else f"{line_factor} = {level}")
    if xs is None:
        ax.set_xticks(range(len(levels)))
        ax.set_xticklabels(levels, rotation=45, ha="right", fontsize=8)
    ax.set_xlabel(x_factor)
    ax.set_ylabel(f"{metric.replace('_s', '').replace('_j', '').replace('_', ' ')} ({unit})")
    if (table[metric] > 0).all() and table[metric].max() / max(table[metric].min(), 1e-12) > 30:
        ax.set_yscale("log")
    if line_factor is not None:
        ax.legend(fontsize=8, framealpha=0.9)
    ax.grid(True, linewidth=0.3, alpha=0.5)
    ax.set_title(title, fontsize=10)
    return save(fig, path)


CDF_GROUPS = 10
"""Most device groups a latency CDF draws (the ones with the most completed requests)."""


def plot_latency_cdf(requests, path: Path, title: str = "", deadline_s: float | None = None) -> list[Path]:
    """Empirical CDF of the completed requests' latency (ms, log), one line per device group (the
    :data:`CDF_GROUPS` busiest when there are more), the deadline as a vertical line."""
    fig, ax = plt.subplots(figsize=(7, 4.2), constrained_layout=True)
    done = requests[requests["status"] == "completed"]
    counts = done.groupby("group", observed=True).size().sort_values(ascending=False, kind="stable")
    shown = set(counts.index[:CDF_GROUPS])
    for name, group in done.groupby("group", observed=True):
        if name not in shown:
            continue
        latency = np.sort(group["latency_s"].to_numpy()) * 1e3
        ax.step(latency, np.arange(1, latency.size + 1) / latency.size, where="post", label=str(name), linewidth=1)
    if deadline_s is not None:
        ax.axvline(deadline_s * 1e3, color="0.2", linestyle="--", linewidth=1, label=f"deadline {deadline_s * 1e3:g} ms")
    if len(counts) > CDF_GROUPS:
        title += f"\nthe {CDF_GROUPS} device groups with the most completed requests, of {len(counts)}"
    ax.set_xscale("log")
    ax.set_xlabel("latency (ms, log)")
    ax.set_ylabel("fraction of requests")
    ax.set_ylim(0, 1.01)
    if done.empty:
        ax.text(0.5, 0.5, "no completed requests", transform=ax.transAxes, ha="center", va="center")
    else:
        ax.legend(fontsize=7, framealpha=0.9)
    ax.grid(True, which="both", linewidth=0.3, alpha=0.5)
    ax.set_title(title, fontsize=10)
    return save(fig, path)


def _stacked_bars(groups: dict, parts: list[tuple[str, str, str]], scale: float, path: Path, ylabel: str,
                  title: str) -> list[Path]:
    """One stacked bar per device group: ``groups[name][block][key] * scale`` for each (block, key, label) of
    ``parts``; parts that are zero everywhere are left out."""
    names = list(groups)
    fig, ax = plt.subplots(figsize=(min(max(6.0, 0.35 * len(names) + 3), 12.0), 4.5), constrained_layout=True)
    bottom = np.zeros(len(names))
    for block, key, label in parts:
        values = np.array([(groups[n][block].get(key) or 0.0) * scale for n in names])
        if values.sum() > 0:
            ax.bar(range(len(names)), values, bottom=bottom, label=label)
            bottom += values
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel(ylabel)
    if bottom.sum() > 0:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    else:
        ax.text(0.5, 0.5, "no completed requests", transform=ax.transAxes, ha="center", va="center")
    ax.set_title(title, fontsize=10)
    return save(fig, path)


def plot_breakdown(summary: dict, path: Path, title: str = "") -> list[Path]:
    """Mean latency (ms) of each device group split into its stages, as stacked bars."""
    from simsplit.summary import LATENCY_PARTS
    parts = [("latency_parts_s", p, p.replace("_s", "").replace("_", " ")) for p in LATENCY_PARTS]
    return _stacked_bars(summary["groups"], parts, 1e3, path, "mean latency (ms)", title)


def plot_compare_tradeoff(table, path: Path, title: str = "") -> list[Path]:
    """The strategy comparison's energy–latency plane: one point per strategy (mean over seeds, 95% whiskers
    on both axes), static strategies as squares and adaptive ones as circles, the Pareto front joined, every
    point labelled."""
    fig, ax = plt.subplots(figsize=(7, 4.8), constrained_layout=True)
    x, y = table["latency_mean_s"].to_numpy() * 1e3, table["energy_j"].to_numpy() * 1e3
    xerr = np.nan_to_num(np.abs(np.vstack([x - table["latency_mean_s_low"].to_numpy() * 1e3,
                                           table["latency_mean_s_high"].to_numpy() * 1e3 - x])))
    yerr = np.nan_to_num(np.abs(np.vstack([y - table["energy_j_low"].to_numpy() * 1e3,
                                           table["energy_j_high"].to_numpy() * 1e3 - y])))
    static = table["static"].to_numpy(dtype=bool)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for mask, marker, colour, label in ((static, "s", colours[0], "static (one option for every request)"),
                                        (~static, "o", colours[1], "adaptive")):
        if mask.any():
            ax.errorbar(x[mask], y[mask], xerr=xerr[:, mask], yerr=yerr[:, mask], fmt=marker, markersize=5,
                        color=colour, elinewidth=0.8, capsize=2, label=label)
    finite = np.isfinite(x) & np.isfinite(y)
    front = np.flatnonzero(finite)[pareto_front(np.column_stack([x[finite], y[finite]]))]
    ax.plot(x[front], y[front], "-", color="0.3", linewidth=1.0, alpha=0.7, label="Pareto front")
    names: dict[tuple, list[str]] = {}  # strategies at the same point share one label
    for index, name in enumerate(table["strategy"].astype(str)):
        if finite[index]:
            names.setdefault((float(f"{x[index]:.3g}"), float(f"{y[index]:.3g}")), []).append(name)
    for (px, py), group in names.items():
        ax.annotate(" = ".join(group), (px, py), textcoords="offset points", xytext=(4, 4), fontsize=7)
    if finite.any() and x[finite].max() / max(x[finite].min(), 1e-12) > 30:
        ax.set_xscale("log")
    if finite.any() and y[finite].max() / max(y[finite].min(), 1e-12) > 30:
        ax.set_yscale("log")
    ax.set_xlabel("mean latency per request (ms)")
    ax.set_ylabel("device energy per request (mJ)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, framealpha=0.9)
    ax.grid(True, which="both", linewidth=0.3, alpha=0.5)
    return save(fig, path)


def plot_compare_bars(table, path: Path, metric: str, scale: float, label: str, title: str = "") -> list[Path]:
    """One horizontal bar per strategy: ``metric`` x ``scale`` with its 95% interval, best first."""
    order = np.argsort(table[metric].to_numpy())
    part = table.iloc[order]
    values = part[metric].to_numpy() * scale
    err = np.nan_to_num(np.abs(np.vstack([values - part[f"{metric}_low"].to_numpy() * scale,
                                          part[f"{metric}_high"].to_numpy() * scale - values])))
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(part) + 1.2), constrained_layout=True)
    ax.barh(np.arange(len(part)), values, xerr=err, color="0.65", capsize=2)
    ax.set_yticks(np.arange(len(part)))
    ax.set_yticklabels(part["strategy"].astype(str), fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(label)
    ax.set_title(title, fontsize=10)
    ax.grid(True, axis="x", linewidth=0.3, alpha=0.5)
    return save(fig, path)


ENERGY_COMPONENTS = ("compute", "switch", "uplink", "downlink", "promotion", "tail", "probe")


def plot_energy_breakdown(summary: dict, path: Path, title: str = "") -> list[Path]:
    """Device energy per completed request (mJ) of each device group split into compute, switching,
    uplink, downlink, RRC promotion, radio tail and probes, as stacked bars."""
    parts = [("energy_j", p, p) for p in ENERGY_COMPONENTS]
    return _stacked_bars(summary["groups"], parts, 1e3, path, "device energy per completed request (mJ)", title)
