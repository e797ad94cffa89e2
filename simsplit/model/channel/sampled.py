"""Random capacity paths drawn segment by segment as simulated time advances.

A :class:`SampledPathChannel` asks its ``next_segment()`` for ``(duration_s,
rate_bps)`` pairs only when a query reaches past the path drawn so far, so a
run draws exactly the path it uses, from the channel's own random stream.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Callable

from simsplit.model.channel.base import Channel
from simsplit.model.channel.steps import ROUNDING

MAX_SEGMENTS_PER_QUERY = 10_000_000
"""A query that needs more new segments than this is answered with infinity (a path that never delivers)."""
HORIZON_S = math.inf
"""Default of :attr:`SampledPathChannel.horizon_s`."""


class SampledPathChannel(Channel):
    """Piecewise-constant r(t) drawn lazily from ``next_segment() -> (duration_s > 0, rate_bps >= 0)``."""

    def __init__(self, next_segment: Callable[[], tuple[float, float]]):
        self._next_segment = next_segment
        self._starts = [0.0]  # _starts[k] begins segment k; _starts[-1] is the end of the drawn path
        self._rates: list[float] = []
        self._cumulative = [0.0]  # bits delivered by _starts[k]
        self.horizon_s = HORIZON_S
        """A transfer that would end only after this instant (s) is answered with infinity: the path is not
        drawn further (a run sets it well past its end; a device out of coverage drew paths without end)."""

    def _draw(self) -> None:
        duration, rate = self._next_segment()
        self._rates.append(rate)
        self._cumulative.append(self._cumulative[-1] + rate * duration)
        self._starts.append(self._starts[-1] + duration)

    def _extend_to_time(self, at_s: float) -> None:
        while self._starts[-1] <= at_s:
            self._draw()

    def _extend_to_bits(self, bits: float) -> bool:
        drawn = 0
        while self._cumulative[-1] < bits:
            if self._starts[-1] > self.horizon_s:
                return False
            self._draw()
            drawn += 1
            if drawn > MAX_SEGMENTS_PER_QUERY:
                return False
        return True

    def segments(self, until_s: float) -> tuple[list[float], list[float]]:
        """Breakpoints (s) and rates (bits/s) of the path from 0 to at least ``until_s``."""
        self._extend_to_time(until_s)
        return self._starts[:-1], list(self._rates)

    def rate_bps_at(self, at_s: float) -> float:
        self._extend_to_time(at_s)
        return self._rates[bisect_right(self._starts, at_s) - 1]

    def _cumulative_bits(self, at_s: float) -> float:
        self._extend_to_time(at_s)
        k = bisect_right(self._starts, at_s) - 1
        return self._cumulative[k] + self._rates[k] * (at_s - self._starts[k])

    def bits_between(self, start_s: float, end_s: float) -> float:
        return self._cumulative_bits(end_s) - self._cumulative_bits(start_s)

    def finish_time(self, start_s: float, size_bits: float) -> float:
        if size_bits <= 0:
            return start_s
        if not start_s <= self.horizon_s:  # it starts after the horizon (or never: a link busy for ever)
            return math.inf
        target = self._cumulative_bits(start_s) + size_bits
        if not math.isfinite(target) or not self._extend_to_bits(target):
            return math.inf
        # as in StepChannel: a target within the rounding tolerance of a breakpoint's cumulative reaches it
        # there, so rounding never carries a finish across a zero-rate segment that follows
        tolerance = ROUNDING * target
        cumulative = self._cumulative
        i = bisect_left(cumulative, target - tolerance)
        if cumulative[i] <= target + tolerance:
            return max(self._starts[i], start_s)
        k = i - 1
        finish = self._starts[k] + (target - cumulative[k]) / self._rates[k]
        return max(min(finish, self._starts[k + 1]), start_s)
