"""A link whose capacity never changes."""

from __future__ import annotations

from typing import Literal

from pydantic import PositiveFloat

from simsplit.core.units import MBPS
from simsplit.model.channel.base import Channel
from simsplit.model.channel.link import LinkConfig, register_channel


class ConstantLinkConfig(LinkConfig):
    """A link of fixed capacity rate_mbps (10^6 bit/s) and one-way delay delay_ms."""

    kind: Literal["constant"]
    rate_mbps: PositiveFloat

    @property
    def peak_rate_bps(self) -> float:
        return self.rate_mbps * MBPS


class ConstantChannel(Channel):
    """Capacity ``rate_bps`` (bits/s) at all times. Raise a ValueError if ``rate_bps <= 0``."""

    def __init__(self, rate_bps: float):
        if not rate_bps > 0:
            raise ValueError(f"rate_bps must be > 0, got {rate_bps}")
        self.rate_bps = float(rate_bps)

    def rate_bps_at(self, at_s: float) -> float:
        return self.rate_bps

    def bits_between(self, start_s: float, end_s: float) -> float:
        return self.rate_bps * (end_s - start_s)

    def finish_time(self, start_s: float, size_bits: float) -> float:
        return start_s + size_bits / self.rate_bps


register_channel("constant", ConstantLinkConfig, lambda config, context: ConstantChannel(config.rate_mbps * MBPS))
