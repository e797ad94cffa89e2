"""The RRC state of one device's radio: whether a transfer must first wait for a promotion.

The radio is connected from a transfer's start until its tail (the sum of the
tail stages) has run out after the last transfer; a transfer that becomes
ready after that finds it idle and waits ``promotion_s`` first. Energy of the
tail and the promotion is computed from the records after the run
(:mod:`simsplit.energy`).
"""

from __future__ import annotations

import math


class RadioState:
    """Promotion bookkeeping for one device; ``promotion_s`` and ``tail_s`` in seconds."""

    __slots__ = ("promotion_s", "tail_s", "_active_until_s", "_in_progress")

    def __init__(self, promotion_s: float, tail_s: float):
        self.promotion_s = promotion_s
        self.tail_s = tail_s
        self._active_until_s = -math.inf
        self._in_progress = 0

    def wake(self, ready_at_s: float) -> float:
        """Instant (s) a transfer ready at ``ready_at_s`` can start sending (after a promotion if idle)."""
        if self.promotion_s and not self._in_progress and ready_at_s >= self._active_until_s + self.tail_s:
            return ready_at_s + self.promotion_s
        return ready_at_s

    def note(self, end_at_s: float) -> None:
        """Record a transfer whose end is known: it ends at ``end_at_s`` (s)."""
        if end_at_s > self._active_until_s:
            self._active_until_s = end_at_s

    def begin(self) -> None:
        """A transfer whose end is not yet known (on a shared link) has started."""
        self._in_progress += 1

    def finish(self, end_at_s: float) -> None:
        """That transfer ended at ``end_at_s`` (s)."""
        self._in_progress -= 1
        self.note(end_at_s)
