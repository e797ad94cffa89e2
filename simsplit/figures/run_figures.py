"""Figures of one run: the latency CDF per device group, and each group's mean latency by stage and device
energy by component as stacked bars (the stages and components a comparison's per-split figures stack too)."""

from __future__ import annotations

import numpy as np

from simsplit.core.words import counted
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


CDF_BEST = 3
"""Fastest groups (by mean latency) each panel of a many-group latency CDF draws beside its references."""


def network_labels(scenario) -> dict[str, str]:
    """Each device group's network as a short label (radio technology, uplink kind and rate), the same label for
    groups that share one network configuration and different labels for different ones."""
    labels: dict[str, str] = {}
    seen: dict[str, str] = {}
    for group in scenario.devices:
        network = scenario.network_of(group)
        key = network.model_dump_json() if hasattr(network, "model_dump_json") else repr(network)
        if key not in seen:
            uplink = network.uplink
            label = f"{network.radio.technology}, uplink {uplink.kind}" + (
                f" {uplink.rate_mbps:g} Mbps" if isinstance(getattr(uplink, "rate_mbps", None), float) else "")
            seen[key] = label if label not in seen.values() else f"{label} ({len(seen) + 1})"
        labels[group.name] = seen[key]
    return labels


def _is_reference(strategy) -> bool:
    return str(strategy).startswith(("local", "full_offload"))


MOST_PANELS = 4
"""Most networks a many-group latency CDF gives a panel (those whose fastest group is fastest)."""


def cdf_panels(means, networks: dict | None, strategies: dict | None) -> tuple[list[tuple[str, list]], int]:
    """((panel title, groups fastest first) of a latency CDF, the number of networks). Few groups (at most
    CDF_GROUPS): one panel with them all. More: a panel per network (``networks``: group -> label; at most
    MOST_PANELS), each with its CDF_BEST fastest groups that are no reference, its fastest full offload and the
    fastest local group (which runs on no network; ``strategies``: group -> strategy)."""
    names = list(means.sort_values(kind="stable").index)
    if len(names) <= CDF_GROUPS:
        return [("", names)], 1
    strategy = {name: str((strategies or {}).get(name, "")) for name in names}
    local = [n for n in names if strategy[n].startswith("local")]
    by_network: dict[str, list] = {}
    for name in (n for n in names if n not in local):
        by_network.setdefault((networks or {}).get(name, ""), []).append(name)
    if not by_network:  # every group runs locally
        return [(f"the {CDF_GROUPS} fastest of {counted(len(names), 'group')}", names[:CDF_GROUPS])], 1
    panels = [_network_panel(label, members, names, local[:1], strategy) for label, members in by_network.items()]
    return panels[:MOST_PANELS], len(panels)


def _network_panel(label: str, members: list, names: list, local: list, strategy: dict) -> tuple[str, list]:
    """(title, groups fastest first) of one network's panel: its CDF_BEST fastest ``members`` that are not
    references, its fastest full offload and the ``local`` group."""
    best = [n for n in members if not _is_reference(strategy[n])][:CDF_BEST]
    offload = [n for n in members if _is_reference(strategy[n])][:1]
    chosen = {*best, *offload, *local}
    heading = f"{label}: " * bool(label) + (f"the {len(best)} fastest of {counted(len(members), 'group')}" if best
                                            else counted(len(members), "group"))
    with_ = [kind for kind, there in (("local", local), ("full offload", offload)) if there]
    heading += f", with {' and '.join(with_)}" if with_ else ""
    return heading, [n for n in names if n in chosen]


@in_style
def latency_cdf_figure(requests, title: str = "", *, style: FigureStyle = SCREEN, deadline_s: float | None = None,
                       warmup_s: float = 0.0, ax=None, networks: dict | None = None, strategies: dict | None = None):
    """Empirical CDF of the latency (ms, log) of the completed requests that arrived after ``warmup_s`` (those a
    summary counts), one line per device group, the deadline as a vertical line. Past CDF_GROUPS groups, the
    groups are chosen by meaning (:func:`cdf_panels`): a panel per network with its fastest groups and the
    references. No two lines of the figure share colour and style; a group keeps its style in every panel.
    Drawn on ``ax`` when given (one panel: every group's network taken as one; its figure returned)."""
    done = requests[(requests["status"] == "completed") & (requests["arrival_at_s"] >= warmup_s)]
    means = done.groupby("group", observed=True, sort=False)["latency_s"].mean()
    panels, networks_total = cdf_panels(means, None if ax is not None else networks, strategies)
    fig, axes = new_figure(style, "one", 0.75 if len(panels) == 1 else 0.42 * len(panels), rows=len(panels),
                           ax=ax, **({"sharex": True} if len(panels) > 1 and ax is None else {}))
    axes = list(np.atleast_1d(axes))
    styles = {name: index for index, name in enumerate(dict.fromkeys(n for _, shown in panels for n in shown))}
    for panel, (heading, shown) in zip(axes, panels, strict=True):
        for name in shown:
            latency = np.sort(done.loc[done["group"] == name, "latency_s"].to_numpy()) * 1e3
            panel.step(latency, np.arange(1, latency.size + 1) / latency.size, where="post", label=str(name),
                       color=colour_of(styles[name]), linestyle=line_style_of(styles[name]))
        finish_cdf(panel, deadline_s, done.empty)
        if len(panels) > 1:
            panel.set_title(heading, fontsize="small")
            if panel is not axes[-1]:
                panel.set_xlabel("")
    if len(panels) < networks_total:
        title += f"\nthe {len(panels)} networks of {networks_total} with the fastest groups"
    if len(panels) > 1:
        fig.suptitle(title)
    else:
        axes[0].set_title(title + (f"\n{panels[0][0]}" if panels[0][0] else ""))
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
