"""A plugin channel: a duty-cycled link (a drone flying in and out of range, a satellite pass).

Capacity ``rate_mbps`` for ``on_s`` seconds, then nothing for ``off_s`` seconds, repeating from t = 0.
A transfer that meets an off period waits it out. One file, nothing in simsplit touched: load it with
``plugins: [path/to/duty_cycle_channel.py]`` in a scenario, then use ``kind: duty_cycle`` for a link.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import PositiveFloat

from simsplit import register_channel
from simsplit.model.channel import Channel
from simsplit.model.channel.link import LinkConfig


class DutyCycleLinkConfig(LinkConfig):
    """Capacity rate_mbps for on_s, then 0 for off_s, periodically from t = 0."""

    kind: Literal["duty_cycle"]
    rate_mbps: PositiveFloat
    on_s: PositiveFloat
    off_s: PositiveFloat


class DutyCycleChannel(Channel):
    """r(t) = rate_bps on [k P, k P + on_s), 0 on [k P + on_s, (k + 1) P), P = on_s + off_s (s, bits/s)."""

    def __init__(self, rate_bps: float, on_s: float, off_s: float):
        self.rate_bps, self.on_s, self.period_s = rate_bps, on_s, on_s + off_s

    def _bits_until(self, at_s: float) -> float:
        """Bits deliverable from 0 to ``at_s``."""
        cycles, into = divmod(at_s, self.period_s)
        return self.rate_bps * (cycles * self.on_s + min(into, self.on_s))

    def rate_bps_at(self, at_s: float) -> float:
        return self.rate_bps if at_s % self.period_s < self.on_s else 0.0

    def bits_between(self, start_s: float, end_s: float) -> float:
        return self._bits_until(end_s) - self._bits_until(start_s)

    def finish_time(self, start_s: float, size_bits: float) -> float:
        if size_bits <= 0:
            return start_s
        target_s = (self._bits_until(start_s) + size_bits) / self.rate_bps  # "on" time needed since t = 0
        cycles = math.ceil(target_s / self.on_s) - 1
        return max(start_s, cycles * self.period_s + (target_s - cycles * self.on_s))


@register_channel("duty_cycle", DutyCycleLinkConfig)
def build(config: DutyCycleLinkConfig, context) -> DutyCycleChannel:
    return DutyCycleChannel(config.rate_mbps * 1e6, config.on_s, config.off_s)
