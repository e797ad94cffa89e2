"""What a strategy kind's builder sees for one device group, and what adaptive strategies share.

A strategy kind registers (:func:`simsplit.model.strategies.base.register_strategy`) a block, a ``build(context)`` that
returns one device's strategy, and optionally the decisions it may take, its label and the block
``simsplit compare`` runs for it. The default decisions are every payload row meeting the block's
``min_accuracy`` on its ``servers``: what an :class:`AdaptiveConfig` block describes.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import Field, PositiveFloat

from simsplit.core.config import Config
from simsplit.core.errors import InputError
from simsplit.model.strategies.base import Decision
from simsplit.model.strategies.predict import DeviceModel, Option


class AdaptiveConfig(Config):
    """What adaptive strategies share: the options they consider and their prior bandwidth guess."""

    min_accuracy: float = Field(default=0.0, ge=0, le=1)
    bottlenecks: list[str] | None = None
    """Payload rows the block may choose, by bottleneck name or shell pattern (``entropy-vbr-*``); the
    local row's name is ``none``. Default: every row."""
    servers: list[str] | None = None
    initial_uplink_mbps: PositiveFloat = 5.0
    initial_downlink_mbps: PositiveFloat = 10.0


@dataclass
class StrategyContext:
    """One device group's view for building its strategy (SI units)."""

    config: Config
    """The group's strategy block."""
    field: str
    """Where the block is in the scenario (``strategy`` or ``devices.2.strategy``), for error messages."""
    scenario: Any
    profile: Any
    """The model's :class:`~simsplit.scenario.profiles.ModelProfile`."""
    payloads: Any
    """The :class:`~simsplit.scenario.payloads.PayloadTable`."""
    network: Any
    """The group's resolved network block."""
    trace: Callable[..., Any]
    """``trace(file, format, **options)``: a trace file read once per run."""
    device: DeviceModel | None = None
    """The device's model of its own power, radio and workload."""
    decisions: list[Decision] = dataclasses.field(default_factory=list)
    """What the strategy may choose, as resolved by the kind's ``decisions``."""
    options: list[Option] = dataclasses.field(default_factory=list)
    """The cost of each decision, in the order of ``decisions``."""
    label: str = ""

    @property
    def server_names(self) -> list[str]:
        """Every server's name, the default target first."""
        return [server.name for server in self.scenario.server_list]

    @property
    def deadline_s(self) -> float | None:
        return self.scenario.deadline_s

    def error(self, field: str, message: str) -> InputError:
        """An InputError naming the scenario and ``field`` of the strategy block."""
        return InputError(self.scenario.source, f"{self.field}.{field}", message)


def adaptive_decisions(context: StrategyContext, first_server_only: bool = False) -> list[Decision]:
    """Every (split, bottleneck, server) an adaptive block may choose: payload rows meeting its
    ``min_accuracy``, on each of its ``servers`` (default: every server); a local row once."""
    config, names = context.config, context.server_names
    servers = _chosen_servers(context)
    if first_server_only:
        servers = servers[:1]
    floor = getattr(config, "min_accuracy", 0.0)
    patterns = getattr(config, "bottlenecks", None)
    local_split = context.profile.local_split
    decisions = []
    for entry in context.payloads.entries.values():
        if not _admitted(entry, floor, patterns):
            continue
        if entry.split == local_split:
            decisions.append(Decision(entry.split, entry.bottleneck, names[0]))
        else:
            decisions += [Decision(entry.split, entry.bottleneck, name) for name in servers]
    if not decisions:
        raise _no_decision_error(context, floor, patterns)
    return decisions


def _chosen_servers(context: StrategyContext) -> list[str]:
    """The block's ``servers`` (default: every server), each checked to be one of the scenario's."""
    names = context.server_names
    servers = getattr(context.config, "servers", None) or names
    for name in servers:
        if name not in names:
            raise context.error("servers", f"expected names among {names}, got {name!r}")
    return servers


def _admitted(entry: Any, floor: float, patterns: list[str] | None) -> bool:
    """Whether a payload row meets the accuracy ``floor`` and, given ``patterns``, matches one of them."""
    if entry.accuracy < floor:
        return False
    return patterns is None or any(fnmatch.fnmatchcase(entry.bottleneck, p) for p in patterns)


def _no_decision_error(context: StrategyContext, floor: float, patterns: list[str] | None) -> InputError:
    """Why no payload row was admitted: the ``bottlenecks`` patterns if the block gives them, else the floor."""
    entries = context.payloads.entries.values()
    if patterns is not None:
        names = sorted({e.bottleneck for e in entries})
        return context.error("bottlenecks", f"expected patterns matching payload rows above min_accuracy "
                             f"{floor:g} (bottlenecks: {', '.join(names)}), got {patterns}")
    best = max(e.accuracy for e in entries)
    return context.error("min_accuracy", f"expected a floor that some payload row meets (best accuracy "
                         f"{best:g}), got {floor:g}")


def adaptive_defaults(scenario) -> dict:
    """The adaptive fields of the scenario's own strategy, for the blocks ``compare`` builds."""
    base = scenario.strategy
    if isinstance(base, AdaptiveConfig):
        keep = {"min_accuracy": base.min_accuracy, "servers": base.servers, "bottlenecks": base.bottlenecks,
                "initial_uplink_mbps": base.initial_uplink_mbps, "initial_downlink_mbps": base.initial_downlink_mbps}
        return {k: v for k, v in keep.items() if v is not None}
    return {}


def objective_name(scenario) -> str:
    """The scenario strategy's objective (``latency`` for kinds without one)."""
    return getattr(scenario.strategy, "objective", "latency")
