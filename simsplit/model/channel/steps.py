"""A piecewise-constant capacity: the common form of every bandwidth trace.

Rate ``rates_bps[k]`` holds on ``[times_s[k], times_s[k+1])``. After the last
breakpoint the link either holds the last rate for ever (``end="hold"``) or
the whole pattern repeats with period ``period_s`` (``end="loop"``; the last
rate then holds until ``period_s``). Zero rates are outages: a transfer waits
through them.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from itertools import pairwise
from typing import Literal

from pydantic import NonNegativeFloat, PositiveFloat, model_validator

from simsplit.core.config import FieldValueError
from simsplit.core.units import MBPS
from simsplit.model.channel.base import Channel
from simsplit.model.channel.link import LinkConfig, register_channel

END_POLICIES = ("hold", "loop")
ROUNDING = 1e-12
"""Relative tolerance on a cumulative bit count: sums of floats err by a few ulp (~1e-16) of the total;
bits within this fraction of a breakpoint's cumulative count as reaching it exactly."""


def check_steps(times_s: Sequence[float], values: Sequence[float], end: str, period_s: float | None,
                values_field: str = "rates_bps") -> None:
    """Raise a :class:`~simsplit.core.config.FieldValueError` naming the field at fault unless the breakpoints
    ``times_s`` and the values on each step make a valid piecewise-constant path."""
    if not times_s or len(times_s) != len(values):
        raise FieldValueError("times_s", f"times_s and {values_field} must be non-empty and of equal length")
    if times_s[0] != 0.0:
        raise FieldValueError("times_s", f"times_s must start at 0, got {times_s[0]}")
    if any(b <= a for a, b in pairwise(times_s)):
        raise FieldValueError("times_s", "times_s must strictly increase")
    if any(not (v >= 0 and math.isfinite(v)) for v in values):
        raise FieldValueError(values_field, f"{values_field} must be finite and >= 0")
    if end not in END_POLICIES:
        raise FieldValueError("end", f"end must be one of {END_POLICIES}, got {end!r}")
    if end == "loop" and (period_s is None or not period_s > times_s[-1]):
        raise FieldValueError("period_s", f"loop needs period_s > last breakpoint {times_s[-1]}, got {period_s}")


class StepsLinkConfig(LinkConfig):
    """Capacity rates_mbps[k] from times_s[k] to the next breakpoint; after the last, hold or loop."""

    kind: Literal["steps"]
    times_s: list[float]
    rates_mbps: list[NonNegativeFloat]
    end: Literal["hold", "loop"] = "hold"
    period_s: PositiveFloat | None = None

    @model_validator(mode="after")
    def _valid_steps(self):
        check_steps(self.times_s, self.rates_mbps, self.end, self.period_s, "rates_mbps")
        return self

    @property
    def peak_rate_bps(self) -> float:
        return max(self.rates_mbps) * MBPS


class StepChannel(Channel):
    """Piecewise-constant r(t) with exact integration.

    Raise a ValueError unless ``times_s`` starts at 0 and strictly increases,
    rates are >= 0 and as many as the times, and (for ``loop``) ``period_s``
    exceeds the last breakpoint.
    """

    def __init__(self, times_s: Iterable[float], rates_bps: Iterable[float], end: str = "hold",
                 period_s: float | None = None):
        times = [float(t) for t in times_s]
        rates = [float(r) for r in rates_bps]
        check_steps(times, rates, end, period_s)
        self._times = times
        self._rates = rates
        self.end = end
        cumulative = [0.0]
        for k in range(1, len(times)):
            cumulative.append(cumulative[-1] + rates[k - 1] * (times[k] - times[k - 1]))
        self._cumulative = cumulative
        self.period_s: float | None = None
        self._period_bits = math.nan
        if end == "loop" and period_s is not None:  # check_steps gave a loop its period
            self.period_s = float(period_s)
            self._period_bits = cumulative[-1] + rates[-1] * (self.period_s - times[-1])

    @property
    def times_s(self) -> list[float]:
        """Breakpoints (s), a copy."""
        return list(self._times)

    @property
    def rates_bps(self) -> list[float]:
        """Rates (bits/s) on each step, a copy."""
        return list(self._rates)

    def arrays(self) -> tuple[list[float], list[float], list[float], float]:
        """(breakpoints s, rates bits/s, bits delivered by each breakpoint, bits per period or NaN): what a
        compiled copy of :meth:`finish_time` needs (:func:`simsplit.engine.kernels.step_finish`)."""
        return self._times, self._rates, self._cumulative, self._period_bits

    def rate_bps_at(self, at_s: float) -> float:
        if self.period_s is not None:
            at_s = at_s % self.period_s
        return self._rates[max(bisect_right(self._times, at_s) - 1, 0)]

    def _bits_within(self, tau_s: float) -> float:
        k = max(bisect_right(self._times, tau_s) - 1, 0)
        return self._cumulative[k] + self._rates[k] * (tau_s - self._times[k])

    def _cumulative_bits(self, at_s: float) -> float:
        """Integral of r from 0 to ``at_s`` (bits)."""
        if self.period_s is None:
            return self._bits_within(at_s)
        periods, tau = divmod(at_s, self.period_s)
        return periods * self._period_bits + self._bits_within(tau)

    def bits_between(self, start_s: float, end_s: float) -> float:
        return self._cumulative_bits(end_s) - self._cumulative_bits(start_s)

    def _time_within(self, bits: float, tolerance: float) -> float:
        """Earliest instant tau (s) inside one pass with integral 0..tau equal to ``bits`` (> 0).

        ``bits`` carries rounding from the sums that made it; a value within ``tolerance`` of a
        breakpoint's cumulative counts as reaching that breakpoint, so rounding can never carry a finish
        across a zero-rate gap that follows it.
        """
        cumulative = self._cumulative
        i = bisect_left(cumulative, bits - tolerance)
        if i < len(cumulative) and cumulative[i] <= bits + tolerance:
            return self._times[i]  # the first instant the integral reaches a breakpoint's value
        k = i - 1
        rate = self._rates[k]
        if rate == 0.0:
            return math.inf
        tau = self._times[k] + (bits - cumulative[k]) / rate
        return min(tau, self._times[k + 1]) if k + 1 < len(self._times) else tau

    def finish_time(self, start_s: float, size_bits: float) -> float:
        if size_bits <= 0:
            return start_s
        target = self._cumulative_bits(start_s) + size_bits
        tolerance = ROUNDING * target
        if self.period_s is None:
            return max(self._time_within(target, tolerance), start_s)
        passes = target / self._period_bits if self._period_bits > 0 else math.inf
        if not math.isfinite(passes):
            return math.inf
        periods = math.ceil(passes) - 1
        within = target - periods * self._period_bits
        # rounding can put the remainder outside (0, period_bits]: a remainder within the tolerance of 0
        # belongs at the end of the previous pass (which may end in an outage)
        if within <= tolerance:
            periods -= 1
            within += self._period_bits
        within = min(within, self._period_bits)
        return max(periods * self.period_s + self._time_within(within, tolerance), start_s)


register_channel("steps", StepsLinkConfig, lambda config, context: StepChannel(
    config.times_s, [r * MBPS for r in config.rates_mbps], config.end, config.period_s))
