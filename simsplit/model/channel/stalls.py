"""When a transfer on a known channel stops making progress: the first instant at which the link has delivered
nothing for ``stall_s`` while it had bits to send.

A device sees its uplink's progress through its transport's acknowledgements; a late-upload fallback gives up
on an upload once nothing has been acknowledged for ``stall_s``. On a channel that is a known function of time
that instant is found from the capacity's integral alone (:meth:`~simsplit.model.channel.base.Channel.bits_between`),
so the engine can decide it when the upload is handed to the link.
"""

from __future__ import annotations

import math

from simsplit.model.channel.base import Channel

BISECTIONS = 60
"""Halvings that locate the last delivery before a candidate instant (60 bring an interval of seconds below
1e-15 s, the resolution of the clock's doubles)."""


def last_delivery(channel: Channel, after_s: float, before_s: float) -> float:
    """The instant (s) in [after_s, before_s] after which the channel delivers nothing until ``before_s``: the
    smallest ``x`` with ``bits_between(x, before_s) == 0`` (``before_s`` itself if bits arrive right up to it)."""
    low, high = after_s, before_s  # bits_between(high, before_s) == 0 always holds; low may deliver
    if channel.bits_between(low, before_s) == 0.0:
        return low
    for _ in range(BISECTIONS):
        middle = 0.5 * (low + high)
        if middle <= low or middle >= high:
            break
        if channel.bits_between(middle, before_s) == 0.0:
            high = middle
        else:
            low = middle
    return high


def first_stall(channel: Channel, clock_from_s: float, start_s: float, end_s: float, stall_s: float) -> float:
    """The first instant ``t`` in [start_s, end_s) at which the channel has delivered nothing over
    [t - stall_s, t], counting only time from ``clock_from_s`` on (when the link last made progress or became
    busy; at most ``start_s``); ``math.inf`` if the transfer ending at ``end_s`` never stalls that long.

    Each candidate ``t`` either is the answer or moves to the last delivery before it plus ``stall_s``, which
    is later than the previous candidate by the time between deliveries: the search ends after about
    (end_s - start_s) / stall_s steps on a channel that keeps delivering."""
    if not stall_s > 0.0:
        raise ValueError(f"stall_s: expected a time > 0, got {stall_s!r}")
    candidate = max(start_s, clock_from_s + stall_s)
    while candidate < end_s:
        if channel.bits_between(candidate - stall_s, candidate) == 0.0:
            return candidate
        resumed = last_delivery(channel, candidate - stall_s, candidate)
        following = resumed + stall_s
        if following <= candidate:  # silent since ``resumed``, stall_s ago up to the clock's rounding
            return candidate
        candidate = following
    return math.inf
