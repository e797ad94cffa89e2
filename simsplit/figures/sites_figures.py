"""The figure of a scenario with sites: each site's mean and 95th-percentile latency, sites ranked by their
mean, with the merged mean across them (from ``sites.csv`` and the merged summary)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from simsplit.figures.drawing import in_style, new_figure
from simsplit.figures.style import SCREEN, FigureStyle


@in_style
def sites_latency_figure(sites: pd.DataFrame, merged_mean_s: float | None, title: str = "", *,
                         style: FigureStyle = SCREEN):
    """Each site's mean latency (dots) and 95th percentile (crosses), in ms, sites ranked by their mean (the
    x axis is the rank, 1 the fastest site); the merged mean as a horizontal line."""
    ranked = sites.sort_values("latency_mean_s", kind="stable")
    rank = np.arange(1, len(ranked) + 1)
    fig, ax = new_figure(style, "one", 0.6)
    ax.plot(rank, ranked["latency_mean_s"].to_numpy() * 1e3, "o", markersize=3, label="site mean")
    ax.plot(rank, ranked["latency_p95_s"].to_numpy() * 1e3, "x", markersize=3, label="site p95")
    if merged_mean_s is not None:
        ax.axhline(merged_mean_s * 1e3, color="0.3", linestyle="--", linewidth=0.8, label="all sites' mean")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("site, ranked by its mean latency")
    ax.set_ylabel("latency (ms)")
    ax.legend(frameon=False)
    if title:
        ax.set_title(title)
    return fig
