"""A channel seen from an offset into its time axis (to start a trace part-way through)."""

from __future__ import annotations

import math

from simsplit.model.channel.base import Channel


class ShiftedChannel(Channel):
    """``inner`` delayed so that simulated time 0 reads ``inner`` at ``offset_s`` (s, >= 0)."""

    def __init__(self, inner: Channel, offset_s: float):
        if offset_s < 0:
            raise ValueError(f"offset_s must be >= 0, got {offset_s}")
        self.inner = inner
        self.offset_s = float(offset_s)

    def rate_bps_at(self, at_s: float) -> float:
        return self.inner.rate_bps_at(at_s + self.offset_s)

    def bits_between(self, start_s: float, end_s: float) -> float:
        return self.inner.bits_between(start_s + self.offset_s, end_s + self.offset_s)

    def finish_time(self, start_s: float, size_bits: float) -> float:
        if size_bits <= 0:
            return start_s
        return self._back(self.inner.finish_time(start_s + self.offset_s, size_bits), start_s)

    def finish_and_spare(self, start_s: float, size_bits: float) -> tuple[float, float]:
        if size_bits <= 0:
            return start_s, 0.0
        inner_end, spare = self.inner.finish_and_spare(start_s + self.offset_s, size_bits)
        return self._back(inner_end, start_s), spare

    def _back(self, inner_end: float, start_s: float) -> float:
        """The inner finish less the offset, rounded up so that adding the offset back never falls short of the
        inner finish: a transfer starting where this one ends sees the same instant, so it cannot reuse the
        packet opportunity (or the step) that ended this one."""
        end = inner_end - self.offset_s
        while end + self.offset_s < inner_end:
            end = math.nextafter(end, math.inf)
        return max(end, start_s)
