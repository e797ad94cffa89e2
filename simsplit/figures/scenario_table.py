"""A scenario's key parameters as a two-column table (parameter, value) in the units the scenario file uses,
for the HTML report: each config block written briefly as ``kind (field value unit, ...)``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

MOST_GROUP_ROWS = 12
"""Device groups the scenario table lists one by one (the rest are counted)."""


UNIT_SUFFIXES = {"_hz": "Hz", "_ms": "ms", "_mbps": "Mbps", "_kbps": "kbps", "_bps": "bit/s", "_s": "s", "_w": "W",
                 "_mw": "mW", "_db": "dB", "_dbm": "dBm", "_bytes": "bytes", "_j": "J", "_mj": "mJ", "_m": "m"}
"""Field-name endings that are units: ``rate_hz: 2`` reads ``rate 2 Hz``."""


def _field(key: str, value: str) -> str:
    suffix = max((s for s in UNIT_SUFFIXES if key.endswith(s)), key=len, default=None)
    if suffix is None or not value[:1].isdigit() and value[:1] not in "[-.":  # "offset_s: random" has no unit
        return f"{key.replace('_', ' ')} {value}"
    return f"{key[:-len(suffix)].replace('_', ' ')} {value} {UNIT_SUFFIXES[suffix]}"


def _brief(config) -> str:
    """A config block as ``kind (field value unit, ...)`` (its non-default fields, file paths by name), nested
    blocks in parentheses."""
    if config is None:
        return "-"
    data = config.model_dump(mode="json", exclude_defaults=True) if hasattr(config, "model_dump") else config

    def text(value, key: str = "") -> str:
        if isinstance(value, dict):
            inner = ", ".join(_field(k, text(v, k)) for k, v in value.items() if k != "kind" and v is not None)
            kind = str(value.get("kind", ""))
            return f"{kind} ({inner})" if kind and inner else kind or inner or "-"
        if isinstance(value, list):
            shown = ", ".join(text(v) for v in value[:6])
            return f"[{shown}{', ...' if len(value) > 6 else ''}]"
        if key in ("file", "path", "profile", "payloads") and isinstance(value, str):
            return Path(value).name
        return f"{value:g}" if isinstance(value, float) else str(value)

    out = text(data)
    return out if len(out) <= 240 else out[:237] + "..."


def scenario_table(scenario) -> pd.DataFrame:
    """The key parameters of a scenario as (parameter, value) rows, in the units the scenario file uses."""
    rows = [("name", scenario.name), ("seed", scenario.seed), ("duration (s)", f"{scenario.duration_s:g}"),
            ("warm-up (s)", f"{scenario.warmup_s:g}"),
            ("deadline (ms)", "-" if scenario.deadline_s is None else f"{scenario.deadline_s * 1e3:g}"),
            ("model profile", Path(scenario.model.profile).name), ("payload table", Path(scenario.model.payloads).name),
            ("result size (bytes)", f"{scenario.model.result_bytes:g}")]
    for group in scenario.devices[:MOST_GROUP_ROWS]:
        rows.append((f"devices: {group.name}", f"{group.count} x {group.device_class}, {group.compute_power_w:g} W; "
                     f"arrivals {_brief(group.arrivals)}; strategy {_brief(group.strategy or scenario.strategy)}"
                     + (f"; own network: uplink {_brief(group.network.uplink)}" if group.network else "")))
    if len(scenario.devices) > MOST_GROUP_ROWS:
        rest = scenario.devices[MOST_GROUP_ROWS:]
        rows.append(("devices: more", f"{len(rest)} more groups, {sum(g.count for g in rest)} devices"))
    rows += [("uplink", _brief(scenario.network.uplink)), ("downlink", _brief(scenario.network.downlink)),
             ("radio", _brief(scenario.network.radio))]
    for server in scenario.server_list:
        rows.append((f"server: {server.name}", _brief(server)))
    rows.append(("default strategy", _brief(scenario.strategy)))
    if scenario.phases_s:
        rows.append(("phases (s)", ", ".join(f"{t:g}" for t in scenario.phases_s)))
    return pd.DataFrame(rows, columns=["parameter", "value"])
