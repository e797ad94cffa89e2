"""Strategies that always make the same decision: local, full offload, fixed split."""

from __future__ import annotations

from simsplit.strategies.base import Decision, Observation


class FixedStrategy:
    """Returns ``decision`` for every request (local = split L, full offload = split 0)."""

    __slots__ = ("decision", "label")

    def __init__(self, decision: Decision, label: str):
        self.decision = decision
        self.label = label
        """Human-readable name, e.g. ``local`` or ``fixed(4, bottlenet)``."""

    def decide(self, now_s: float, observation: Observation) -> Decision:
        return self.decision
