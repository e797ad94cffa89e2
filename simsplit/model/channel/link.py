"""A link: its scenario block's common fields, and the link dedicated to one device (one transfer at a time,
first come first served)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

from pydantic import NonNegativeFloat

from simsplit.core.config import Config
from simsplit.core.registry import Registry
from simsplit.core.units import MS
from simsplit.model.channel.base import Channel
from simsplit.model.channel.loss import LossConfig


class LinkConfig(Config):
    """Fields every link kind has: one-way delay, and how the devices using this block share it.

    ``dedicated``: each device has its own link with this capacity. ``fifo`` or ``processor_sharing``:
    all devices whose network is this block form one cell and share one link of this capacity.
    """

    delay_ms: NonNegativeFloat = 0.0
    sharing: Literal["dedicated", "fifo", "processor_sharing"] = "dedicated"
    loss: LossConfig | None = None

    @property
    def delay_s(self) -> float:
        return self.delay_ms * MS

    @property
    def peak_rate_bps(self) -> float:
        """The highest capacity the link can have (bits/s), for the run's feasibility estimate (inf: not
        known before its files are read)."""
        return math.inf

    @property
    def segments_per_s(self) -> float:
        """Random path segments one channel of this block draws per simulated second (kept in memory)."""
        return 0.0


channels = Registry("channels", base=LinkConfig,
                    order=("constant", "steps", "markov", "fading", "trace", "cellular"))
"""The link capacity models (:func:`register_channel`)."""


def register_channel(kind: str, config: type[Config], build: Callable | None = None, *,
                     per_device: bool | Callable[[Any], bool] = False):
    """A link capacity model. ``build(config, context) -> Channel`` (:class:`~simsplit.model.channel.Channel`);
    ``context.rng`` is a NumPy generator (None unless ``per_device``: then every device, or every shared cell,
    gets its own channel from its own stream; otherwise one channel serves every device using the block)
    and ``context.trace(file, format, **options)`` reads a trace file once per run. The block subclasses
    :class:`LinkConfig` (delay, sharing, loss)."""
    return channels.register(kind, config, build, per_device=per_device)


class DedicatedLink:
    """One device's uplink or downlink over ``channel``, plus a propagation delay.

    Transfers go one after the other in the order they are reserved. Because
    the channel is a known function of time, a transfer's start and end are
    fixed when it is reserved, so the engine needs no event until it ends. A
    transfer queued behind another (ready before it ends) first uses what the
    other left of its last packet opportunity (``mm-link``'s queue does).
    """

    __slots__ = ("channel", "delay_s", "_free_at_s", "_spare_bits")
    shared = False

    def __init__(self, channel: Channel, delay_s: float = 0.0):
        self.channel = channel
        self.delay_s = float(delay_s)
        """One-way propagation delay (s) added after the last bit leaves."""
        self._free_at_s = 0.0
        self._spare_bits = 0.0
        """Bits the last transfer left unused at its end (the rest of a packet opportunity)."""

    @property
    def free_at_s(self) -> float:
        """Instant (s) at which the last reserved transfer ends."""
        return self._free_at_s

    def reserve(self, ready_at_s: float, size_bits: float, extra_s: float = 0.0) -> tuple[float, float]:
        """Queue a transfer of ``size_bits`` ready at ``ready_at_s`` that also holds the link ``extra_s`` (s)
        (retransmission feedback); return its (start, end) instants (s)."""
        start = ready_at_s if ready_at_s > self._free_at_s else self._free_at_s
        spare = self._spare_bits if ready_at_s < self._free_at_s else 0.0  # queued while the last one was sent
        if size_bits <= spare:
            end, self._spare_bits = start, spare - size_bits
        else:
            end, self._spare_bits = self.channel.finish_and_spare(start, size_bits - spare)
        if extra_s:
            end += extra_s
            self._spare_bits = 0.0  # the link idles through the feedback
        self._free_at_s = end
        return start, end

    def cut(self, at_s: float) -> None:
        """The last reserved transfer stops at ``at_s`` (s), before its end: the link is free from then."""
        self._free_at_s = at_s
        self._spare_bits = 0.0
