"""The bandwidth-process interface every link model implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


class Channel(ABC):
    """A link's capacity over time, r(t) in bits/s.

    Implementations fill in :meth:`rate_bps_at`, :meth:`bits_between` and
    :meth:`finish_time`; the last must integrate r(t) exactly across every
    change of rate, and return ``math.inf`` when the bits can never be
    delivered (for example a link that holds a rate of zero forever).
    """

    @abstractmethod
    def rate_bps_at(self, at_s: float) -> float:
        """Capacity (bits/s) at instant ``at_s`` (s)."""

    @abstractmethod
    def bits_between(self, start_s: float, end_s: float) -> float:
        """Bits the link can deliver from ``start_s`` to ``end_s`` (s): the integral of r(t)."""

    @abstractmethod
    def finish_time(self, start_s: float, size_bits: float) -> float:
        """Instant (s) at which ``size_bits`` sent from ``start_s`` have fully left the link."""

    def finish_and_spare(self, start_s: float, size_bits: float) -> tuple[float, float]:
        """(:meth:`finish_time`, the bits left unused at that instant, which a transfer queued behind this one
        may still send then: a packet opportunity's rest; 0 on a fluid channel)."""
        return self.finish_time(start_s, size_bits), 0.0


@dataclass(frozen=True)
class ChannelContext:
    """What a channel kind's builder receives besides its block
    (see :func:`simsplit.model.channel.link.register_channel`)."""

    rng: np.random.Generator | None
    """This device's (or cell's) own stream; None for a channel shared by every device using the block."""
    trace: Callable[..., Any]
    """``trace(file, format, **options)``: the trace file read once per run
    (:func:`~simsplit.model.channel.traces.read_trace`)."""
    mobility: Any = None
    """The device's :class:`~simsplit.model.mobility.Trajectory` when its group has a ``mobility`` block, else None."""
