"""Figures of one run: the latency CDF per device group, and each group's mean latency by stage and device
energy by component as stacked bars (the stages and components a comparison's per-split figures stack too)."""

from __future__ import annotations

import numpy as np

from simsplit.figures.drawing import (
    CDF_GROUPS,
    colour_of,
    finish_cdf,
    in_style,
    line_style_of,
    new_figure,
    spread,
    stacked_bars,
)
from simsplit.figures.style import SCREEN, FigureStyle

MOST_BARS = 20
"""Most device groups a breakdown draws (chosen by :func:`~simsplit.figures.drawing.spread`)."""

LATENCY_STAGES = (("on the device", ("device_wait_s", "switch_s", "head_s")), ("radio promotion", ("promotion_s",)),
                  ("uplink", ("uplink_wait_s", "uplink_s")), ("server queue", ("server_wait_s",)),
                  ("server compute", ("server_s",)), ("downlink", ("downlink_wait_s", "downlink_s")),
                  ("propagation", ("propagation_s",)))
"""Stages a latency breakdown stacks: (label, the per-request latency columns it adds up)."""
ENERGY_COMPONENTS = (("compute", "compute"), ("model switch", "switch"), ("upload", "uplink"),
                     ("download", "downlink"), ("RRC promotion", "promotion"), ("radio tail", "tail"),
                     ("load probes", "probe"))
"""Components an energy breakdown stacks: (label, key in a summary's ``energy_j``)."""


@in_style
def latency_cdf_figure(requests, title: str = "", *, style: FigureStyle = SCREEN, deadline_s: float | None = None,
                       warmup_s: float = 0.0, ax=None):
    """Empirical CDF of the latency (ms, log) of the completed requests that arrived after ``warmup_s`` (those a
    summary counts), one line per device group (:data:`~simsplit.figures.drawing.CDF_GROUPS` of them chosen by
    :func:`~simsplit.figures.drawing.spread` when there are more, which the title says), the deadline as a
    vertical line. Drawn on ``ax`` when given (its figure returned)."""
    fig, ax = new_figure(style, "one", 0.75, ax=ax)
    done = requests[(requests["status"] == "completed") & (requests["arrival_at_s"] >= warmup_s)]
    medians = done.groupby("group", observed=True, sort=False)["latency_s"].median()
    shown = sorted(spread(list(medians.index), medians.to_numpy(), CDF_GROUPS), key=lambda n: medians[n])
    for index, name in enumerate(shown):
        latency = np.sort(done.loc[done["group"] == name, "latency_s"].to_numpy()) * 1e3
        ax.step(latency, np.arange(1, latency.size + 1) / latency.size, where="post", label=str(name),
                color=colour_of(index), linestyle=line_style_of(index))
    finish_cdf(ax, deadline_s, done.empty)
    if len(medians) > len(shown):
        title += f"\n{len(shown)} of {len(medians)} groups, fastest to slowest"
    ax.set_title(title)
    return fig


def _spread_groups(groups: dict, total, title: str, what: str) -> tuple[list[str], str]:
    """The device groups a breakdown draws and its title: at most MOST_BARS spread by mean latency (the same
    groups in the latency and the energy breakdown), plus every group running locally or offloading in full
    (the references), drawn least to most ``total(group)`` as the title says."""
    names = spread(list(groups), [groups[n]["latency_s"]["mean"] for n in groups], MOST_BARS)
    references = [n for n in groups if str(groups[n]["strategy"]).startswith(("local", "full_offload"))]
    chosen = list(dict.fromkeys([*names, *references]))
    chosen.sort(key=lambda n: np.nan_to_num(float(total(groups[n]) if total(groups[n]) is not None else np.nan),
                                            nan=np.inf))
    if len(groups) > len(chosen):
        title += (f"\n{len(chosen)} of {len(groups)} groups (spread by latency, with local and full offload), "
                  f"least to most {what}")
    elif len(groups) > 1:
        title += f"\nleast to most {what}"
    return chosen, title


def stage_means(block: dict) -> list[tuple[str, float]]:
    """(stage label, mean seconds) of :data:`LATENCY_STAGES` from a summary block's ``latency_parts_s``."""
    parts = block["latency_parts_s"]
    return [(label, sum(parts.get(p) or 0.0 for p in columns)) for label, columns in LATENCY_STAGES]


@in_style
def latency_breakdown_figure(summary: dict, title: str = "", *, style: FigureStyle = SCREEN, ax=None):
    """Mean latency (ms) of each device group split into :data:`LATENCY_STAGES`, as stacked bars."""
    names, title = _spread_groups(summary["groups"], lambda g: g["latency_s"]["mean"], title, "latency")
    stages = [stage_means(summary["groups"][n]) for n in names]
    parts = [(label, np.array([s[i][1] for s in stages]) * 1e3) for i, (label, _) in enumerate(LATENCY_STAGES)]
    return stacked_bars(names, parts, style, "mean latency per completed request (ms)", title, ax=ax)


@in_style
def energy_breakdown_figure(summary: dict, title: str = "", *, style: FigureStyle = SCREEN, ax=None):
    """Device energy per completed request (mJ) of each device group split into :data:`ENERGY_COMPONENTS`."""
    names, title = _spread_groups(summary["groups"], lambda g: g["energy_j"]["total"], title, "energy")
    parts = [(label, np.array([summary["groups"][n]["energy_j"].get(key) or 0.0 for n in names]) * 1e3)
             for label, key in ENERGY_COMPONENTS]
    return stacked_bars(names, parts, style, "device energy per completed request (mJ)", title, ax=ax)
