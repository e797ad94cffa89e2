"""Strategies that always make the same decision: local, full offload, fixed split."""

from __future__ import annotations

from typing import Literal, cast

from pydantic import NonNegativeInt

from simsplit.core.config import Config
from simsplit.core.errors import InputError
from simsplit.model.strategies.base import Decision, Observation, register_strategy
from simsplit.model.strategies.context import StrategyContext


class FixedStrategy:
    """Returns ``decision`` for every request (local = split L, full offload = split 0)."""

    __slots__ = ("decision", "label")
    reads_history = False

    def __init__(self, decision: Decision, label: str):
        self.decision = decision
        self.label = label
        """Human-readable name, e.g. ``local`` or ``fixed(4, bottlenet)``."""

    @property
    def fixed_decision(self) -> Decision:
        """The decision for every request (see :class:`~simsplit.model.strategies.base.Strategy`)."""
        return self.decision

    def decide(self, now_s: float, observation: Observation) -> Decision:
        return self.decision


class LocalConfig(Config):
    """Run the whole model on the device."""

    kind: Literal["local"]


class FullOffloadConfig(Config):
    """Send the (encoded) input: split 0; bottleneck names the encoding row at split 0 if there are several;
    server names the target (default: the first server)."""

    kind: Literal["full_offload"]
    bottleneck: str | None = None
    server: str | None = None


class FixedSplitConfig(Config):
    """Always split at point split with bottleneck configuration bottleneck, on server (default: the first)."""

    kind: Literal["fixed"]
    split: NonNegativeInt
    bottleneck: str
    server: str | None = None


_FixedKinds = LocalConfig | FullOffloadConfig | FixedSplitConfig
"""The blocks of the kinds this module registers (a builder is handed its own kind's block)."""


def target_server(context: StrategyContext, config) -> str:
    """The server a block names (``server``), else the first; InputError for an unknown name."""
    names = context.server_names
    name = getattr(config, "server", None)
    if name is None:
        return names[0]
    if name not in names:
        raise InputError(context.scenario.source, f"{context.field}.server", f"expected one of {names}, got {name!r}")
    return name


def _local(context: StrategyContext) -> list[Decision]:
    last, payloads = context.profile.local_split, context.payloads
    rows = payloads.at_split(last)
    if not rows:
        raise context.error("kind", f"local needs a row at the local split {last} in {payloads.source} (bytes 0) "
                            f"giving the model's accuracy, found none")
    return [Decision(last, rows[0].bottleneck, context.server_names[0])]


def _full_offload(context: StrategyContext) -> list[Decision]:
    config, payloads = cast(FullOffloadConfig, context.config), context.payloads
    rows = payloads.at_split(0)
    names = [r.bottleneck for r in rows]
    if config.bottleneck is None:
        if len(rows) != 1:
            raise context.error("bottleneck", f"expected one of {names} (the input encodings at split 0 in "
                                f"{payloads.source}), got none")
        return [Decision(0, rows[0].bottleneck, target_server(context, config))]
    if config.bottleneck not in names:
        raise context.error("bottleneck", f"expected one of {names} (split 0 rows of {payloads.source}), "
                            f"got {config.bottleneck!r}")
    return [Decision(0, config.bottleneck, target_server(context, config))]


def _fixed(context: StrategyContext) -> list[Decision]:
    config, profile, payloads = cast(FixedSplitConfig, context.config), context.profile, context.payloads
    last = profile.local_split
    if config.split > last:
        raise context.error("split", f"expected a split point 0..{last} of {profile.source}, got {config.split}")
    names = [r.bottleneck for r in payloads.at_split(config.split)]
    if config.bottleneck not in names:
        raise context.error("bottleneck", f"expected one of {names} (rows at split {config.split} of "
                            f"{payloads.source}), got {config.bottleneck!r}")
    return [Decision(config.split, config.bottleneck, target_server(context, config))]


def _label(context: StrategyContext) -> str:
    config, decision = cast(_FixedKinds, context.config), context.decisions[0]
    if config.kind == "local":
        return "local"
    name = (f"full_offload({config.bottleneck})" if config.bottleneck is not None else "full_offload") \
        if config.kind == "full_offload" else f"fixed({decision.split}, {decision.bottleneck})"
    return name + (f" @{decision.server}" if len(context.server_names) > 1 else "")


def _build(context: StrategyContext) -> FixedStrategy:
    return FixedStrategy(context.decisions[0], context.label)


def _compared_rows(kind: str):
    """The static variants ``compare`` runs: local, each input encoding, each fixed split (payload rows at
    or above the scenario's accuracy floor)."""
    def compared(scenario, setup) -> dict[str, dict]:
        floor = getattr(scenario.strategy, "min_accuracy", 0.0)
        last = setup.profile.local_split
        if kind == "local":
            return {"local": {"kind": "local"}}
        found = {}
        for (split, bottleneck), entry in setup.payloads.entries.items():
            if entry.accuracy < floor or split == last or (split == 0) != (kind == "full_offload"):
                continue
            if kind == "full_offload":
                found[f"full_offload({bottleneck})"] = {"kind": "full_offload", "bottleneck": bottleneck}
            else:
                found[f"fixed({split}, {bottleneck})"] = {"kind": "fixed", "split": split, "bottleneck": bottleneck}
        return found
    return compared


register_strategy("local", LocalConfig, _build, decisions=_local, label=_label, compared=_compared_rows("local"),
                  static=True)
register_strategy("full_offload", FullOffloadConfig, _build, decisions=_full_offload, label=_label,
                  compared=_compared_rows("full_offload"), static=True)
register_strategy("fixed", FixedSplitConfig, _build, decisions=_fixed, label=_label,
                  compared=_compared_rows("fixed"), static=True)
