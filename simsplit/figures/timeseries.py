"""The time-series figure of a monitored run: panels over time, one function each (distance and SNR, serving
cell, uplink, server queue, latency, chosen split)."""

from __future__ import annotations

import numpy as np

from simsplit.core.units import MBPS
from simsplit.figures.drawing import colour_of, in_style, log_axis, new_figure, varies
from simsplit.figures.style import SCREEN, FigureStyle


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
    device_label = _device_label(requests, first)
    uplink = series["uplink_bps"].to_numpy(dtype=float) / MBPS
    queue = series[f"{server}_queue"].to_numpy(dtype=float)
    busy = series[f"{server}_busy"].to_numpy(dtype=float) if f"{server}_busy" in series.columns else None
    panels, left_out = _panels(series, uplink, queue, server)
    fig, axes = new_figure(style, "two", 0.16 * len(panels) + 0.12, rows=len(panels), sharex=True)
    axes = np.atleast_1d(axes)
    at = series["at_s"].to_numpy(dtype=float)
    draw = {"distance": lambda ax: _distance_panel(ax, at, series),
            "cell": lambda ax: _cell_panel(ax, at, series, cell_names),
            "uplink": lambda ax: _uplink_panel(ax, at, uplink, requests, first),
            "server": lambda ax: _server_panel(ax, at, queue, busy, server),
            "latency": lambda ax: _latency_panel(ax, requests, device_label, deadline_s),
            "split": lambda ax: _split_panel(ax, requests, first, local_split, device_label)}
    for ax, panel in zip(axes, panels, strict=True):
        draw[panel](ax)
        _shade_phases(ax, phases_s)
    axes[-1].set_xlabel("time (s)" + ("; shaded: alternate phases" if phases_s else ""))
    axes[0].set_title(title + (f"\n(no panel: {'; '.join(left_out)})" if left_out else ""))
    return fig


def _device_label(requests, first: np.ndarray) -> str:
    """"device 0", with its group when the requests name groups."""
    if "group" in requests and first.any():
        return f"device 0 ({requests.loc[first, 'group'].iloc[0]})"
    return "device 0"


def _panels(series, uplink: np.ndarray, queue: np.ndarray, server: str) -> tuple[list[str], list[str]]:
    """(the panels drawn, top to bottom; why each panel left out is missing)."""
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
    return panels, left_out


def _shade_phases(ax, phases_s: list[float] | None) -> None:
    """Shade every other phase between the boundaries ``phases_s`` (s)."""
    for index, (start, end) in enumerate(zip(phases_s or [], (phases_s or [])[1:], strict=False)):
        if index % 2:
            ax.axvspan(start, end, color="0.92", zorder=0, linewidth=0)


def _uplink_panel(ax, at: np.ndarray, uplink: np.ndarray, requests, first: np.ndarray) -> None:
    """Device 0's true uplink capacity (Mbps) and the throughput each of its completed uploads achieved."""
    ax.step(at, uplink, where="post", linewidth=0.8, color=colour_of(0), label="capacity (true)")
    sent = requests.loc[first & (requests["status"] == "completed").to_numpy()]
    sent = sent[(sent["bytes_sent_up"] > 0) & (sent["uplink_s"] > 0)]
    if len(sent):
        ax.plot(sent["uplink_start_at_s"], 8 * sent["bytes_sent_up"] / sent["uplink_s"] / MBPS, ".", markersize=2,
                color=colour_of(3), label="each upload's throughput")
    ax.set_ylabel("device 0 uplink\n(Mbps)")
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper right", framealpha=0.9, fontsize="x-small", markerscale=3)


def _distance_panel(ax, at: np.ndarray, series) -> None:
    """Device 0's distance to its serving cell (m) and, on a second axis, its SNR (dB)."""
    ax.plot(at, series["distance_m"], linewidth=0.8, color=colour_of(0), label="distance to serving cell")
    ax.set_ylabel("device 0\ndistance (m)")
    ax.set_ylim(bottom=0)
    snr = ax.twinx()
    snr.plot(at, series["snr_db"].where(np.isfinite(series["snr_db"])), linewidth=0.5, color=colour_of(1),
             alpha=0.6, label="SNR")
    snr.set_ylabel("SNR (dB)")
    ax.legend(loc="upper left", framealpha=0.9, fontsize="x-small")
    snr.legend(loc="upper right", framealpha=0.9, fontsize="x-small")


def _cell_panel(ax, at: np.ndarray, series, cell_names: list[str] | None) -> None:
    """Device 0's serving cell, by name when ``cell_names`` are given (-1: in a handover)."""
    ax.step(at, series["serving_cell"], where="post", linewidth=0.8, color=colour_of(2))
    if cell_names:
        ax.set_yticks(range(-1, len(cell_names)), ["handover", *cell_names])
        ax.set_ylabel("serving cell")
    else:
        ax.set_ylabel("serving cell\n(-1: handover)")


def _server_panel(ax, at: np.ndarray, queue: np.ndarray, busy: np.ndarray | None, server: str) -> None:
    """The server's waiting jobs and (when monitored) busy workers."""
    ax.step(at, queue, where="post", linewidth=0.8, color=colour_of(3), label="jobs waiting")
    if busy is not None:
        ax.step(at, busy, where="post", linewidth=0.8, color=colour_of(2), label="busy workers")
    ax.set_ylabel(f"{server}\n(jobs)")
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper right", framealpha=0.9, fontsize="x-small")


def _latency_panel(ax, requests, device_label: str, deadline_s: float | None) -> None:
    """Every completed request's latency (ms, log) by arrival, device 0's in colour, the deadline dashed."""
    done = requests[requests["status"] == "completed"]
    mine = (done["device"] == 0).to_numpy()
    ax.plot(done.loc[~mine, "arrival_at_s"], done.loc[~mine, "latency_s"] * 1e3, ".", markersize=1,
            color="0.75", label="other devices")
    ax.plot(done.loc[mine, "arrival_at_s"], done.loc[mine, "latency_s"] * 1e3, ".", markersize=2,
            color=colour_of(0), label=device_label)
    if deadline_s is not None:
        ax.axhline(deadline_s * 1e3, color="0.2", linestyle="--", linewidth=0.8, label="deadline")
    if len(done) and (done["latency_s"] > 0).all():
        log_axis(ax, "y")
    ax.set_ylabel("latency\n(ms, log)")
    ax.legend(loc="upper right", framealpha=0.9, fontsize="x-small", markerscale=3)


def _split_panel(ax, requests, first: np.ndarray, local_split: int, device_label: str) -> None:
    """The split every request chose by arrival: the other devices' grey, device 0's in colour (by bottleneck
    where it used several)."""
    others = requests[~first]
    if len(others):
        ax.plot(others["arrival_at_s"], others["split"], ".", markersize=1, color="0.75", label="other devices")
    mine = requests.loc[first]
    sent = (mine["split"] != local_split).to_numpy()
    codecs = mine["bottleneck"].astype(str).to_numpy() if "bottleneck" in mine.columns else None
    offloaded = [] if codecs is None else sorted(set(codecs[sent]))
    if codecs is not None and len(offloaded) > 1:  # rate adaptation: which bottleneck each request used, by colour
        for k, codec in enumerate(offloaded):
            rows = sent & (codecs == codec)
            ax.plot(mine.loc[rows, "arrival_at_s"], mine.loc[rows, "split"], ".", markersize=2,
                    color=colour_of(k), label=f"{device_label}: {codec}")
        ax.plot(mine.loc[~sent, "arrival_at_s"], mine.loc[~sent, "split"], ".", markersize=2,
                color=colour_of(len(offloaded)))
    else:
        ax.plot(mine["arrival_at_s"], mine["split"], ".", markersize=2, color=colour_of(0), label=device_label)
    ax.set_ylabel("chosen split\n(0 = offload input)")
    ax.set_ylim(-0.5, local_split + 0.5)
    ax.axhline(local_split, color="0.5", linewidth=0.5, linestyle=":")
    ax.annotate(f"{local_split} = local", (0.005, local_split - 0.3), xycoords=("axes fraction", "data"),
                va="top", color="0.4", fontsize="x-small")
    ax.legend(loc="center right", markerscale=3, framealpha=0.9, fontsize="x-small")
