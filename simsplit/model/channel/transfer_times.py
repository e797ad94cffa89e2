"""How long a transfer of a given size takes on a trace, over every instant it could start.

A transfer's throughput depends on its size as much as on the link: on a packet-level (Mahimahi) trace, a
64-byte message waits for the next delivery opportunity, so it measures that wait, while a 27 kB payload
spans many opportunities and measures the rate. :class:`TransferTimes` gives, for a transfer of ``bits``,
its duration from each of ``starts`` instants spread evenly over one period of the trace (the middle of
every millisecond, or of at most ``MAX_STARTS`` equal slices), as the trace's link would deliver it: each
start weighs the same, so the durations are time-weighted. The trace loops, so every duration is finite
when the trace carries anything at all.

Sizes are counted in grains: whole packets on a packet-level trace (a transfer of ``n`` packets takes the
same time whatever its last packet holds, as on
:class:`~simsplit.model.channel.opportunities.OpportunityChannel`), else the bits the trace carries in a
millisecond at its mean rate (a size is rounded up to whole grains: at most 1 ms of transfer more).
"""

from __future__ import annotations

import math

import numpy as np

from simsplit.model.channel.steps import ROUNDING
from simsplit.model.channel.traces import MAHIMAHI_PACKET_BITS, Trace

MAX_STARTS = 200_000
"""Most start instants per period (a trace longer than 200 s is sampled more sparsely than every ms)."""
GRAIN_S = 1e-3
"""On a trace read as a rate: the grain of sizes is what the trace carries in this long at its mean rate."""


class TransferTimes:
    """Durations (s) of transfers of each size on ``trace`` (its capacity times ``scale``), one per start
    instant, computed once per size grain and kept (sorted)."""

    def __init__(self, trace: Trace, scale: float = 1.0):
        self.trace = trace
        self.scale = scale
        self._packet = trace.opportunities_ms is not None
        period_ms = round(trace.period_s * 1e3) if self._packet else trace.period_s * 1e3
        self._period_ms = period_ms
        count = min(max(round(period_ms), 1), MAX_STARTS)
        self.starts_ms = (np.arange(count) + 0.5) * (period_ms / count)
        """Where the transfers start (ms from the trace's start): the middle of ``count`` equal slices."""
        if self._packet:
            self._stamps_ms = np.asarray(trace.opportunities_ms, dtype=float)
            self.grain_bits = MAHIMAHI_PACKET_BITS * scale
        else:
            widths_s = trace.durations_s()
            self._bits_per_period = float((trace.rates_bps * widths_s).sum() * scale)
            if not self._bits_per_period > 0:
                raise ValueError("the trace carries nothing: no transfer on it ever finishes")
            self.grain_bits = self._bits_per_period / trace.period_s * GRAIN_S
        self._sorted: dict[int, np.ndarray] = {}

    def grains(self, bits: float) -> int:
        """The whole grains a transfer of ``bits`` occupies (at least 1)."""
        return max(math.ceil(bits / self.grain_bits * (1.0 - ROUNDING)), 1)

    def durations_s(self, bits: float) -> np.ndarray:
        """The duration (s) of a transfer of ``bits`` (rounded up to whole grains) from each start, sorted."""
        n = self.grains(bits)
        if n not in self._sorted:
            durations_ms = self._packet_ms(n) if self._packet else self._steps_ms(n * self.grain_bits)
            self._sorted[n] = np.sort(durations_ms) / 1e3
        return self._sorted[n]

    def throughput_bps(self, bits: float, level: float) -> float:
        """The throughput (bit/s) of a transfer of ``bits`` at quantile ``level`` (0 to 1) over the starts:
        the lowest throughput that at least a fraction ``level`` of the starts do not exceed (the inverse of
        the time-weighted distribution; ``level`` times the number of starts within 1e-9 of an integer
        counts as that integer)."""
        durations = self.durations_s(bits)
        count = min(max(math.ceil(level * durations.size - 1e-9), 1), durations.size)
        return bits / float(durations[durations.size - count])  # the count-th longest duration

    def _packet_ms(self, n: int) -> np.ndarray:
        """From each start, the time (ms) to its ``n``-th delivery opportunity strictly after it."""
        stamps, period_ms = self._stamps_ms, self._period_ms
        passes = 2 + n // stamps.size
        instants = np.concatenate([stamps + p * period_ms for p in range(passes)])
        first = np.searchsorted(instants, self.starts_ms, side="right")
        return instants[first + n - 1] - self.starts_ms

    def _steps_ms(self, bits: float) -> np.ndarray:
        """From each start, the time (ms) until the piecewise-constant rate has carried ``bits``."""
        trace = self.trace
        passes = 2 + math.ceil(bits / self._bits_per_period)
        period_ms = self._period_ms
        times_ms = np.concatenate([trace.times_s * 1e3 + p * period_ms for p in range(passes)]
                                  + [[passes * period_ms]])
        rates_per_ms = np.tile(trace.rates_bps * self.scale / 1e3, passes)
        carried = np.concatenate([[0.0], np.cumsum(rates_per_ms * np.diff(times_ms))])
        target = np.interp(self.starts_ms, times_ms, carried) + bits
        reached = np.searchsorted(carried, target * (1.0 - ROUNDING), side="left")
        return times_ms[reached] - (carried[reached] - target) / rates_per_ms[reached - 1] - self.starts_ms
