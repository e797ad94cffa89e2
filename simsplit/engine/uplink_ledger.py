"""What a device knows of its own uplink, as its transport would tell it: the uploads it has handed to the link
and not yet seen acknowledged (queued or in flight), the age of the oldest, and the bits acknowledged so far.

An upload is acknowledged ``lag_s`` after its last bit leaves the link (the one-way delay to the server, when
its throughput sample reaches the device too). On a dedicated link, whose channel is a known function of
time, an upload in flight has had acknowledged the bits that left the link ``lag_s`` or more ago; on a shared
cell an upload's bits count when it is acknowledged whole. Kept only for devices whose strategy reads it
(``reads_uplink``).
"""

from __future__ import annotations

import math

from simsplit.model.strategies.base import Observation

READY, START, END, BITS, SENT, LAG = range(6)
"""Fields of an entry: ready to send at (s), first bit at (s; NaN until known), last bit at (s; inf until known),
bits to send, bits it will have sent by ``END`` (fewer when given up), acknowledgement lag (s)."""


class UplinkLedger:
    """One device's unacknowledged uploads, oldest first, and its acknowledged bits so far."""

    __slots__ = ("_channel", "_dedicated", "_open", "_acked_bits")

    def __init__(self, channel, dedicated: bool):
        self._channel = channel
        self._dedicated = dedicated
        """Whether the link is the device's own (its uploads' progress is known before they end)."""
        self._open: dict[int, list[float]] = {}
        """Entries by request sequence, in the order they were handed over."""
        self._acked_bits = 0.0
        """Bits of uploads acknowledged whole."""

    def handed(self, sequence: int, ready_s: float, bits: float, lag_s: float, start_s: float = math.nan,
               end_s: float = math.inf, sent_bits: float | None = None) -> None:
        """An upload of ``bits`` is handed to the link, ready to send at ``ready_s``; on a dedicated link with
        its start and end, known at once, and, for an upload given up at ``end_s``, the bits sent by then
        (the device learns of the give-up at once: ``lag_s`` 0)."""
        self._open[sequence] = [ready_s, start_s, end_s, bits, bits if sent_bits is None else sent_bits, lag_s]

    def sent(self, sequence: int, start_s: float, end_s: float, bits: float) -> None:
        """A shared cell's upload of ``sequence`` left the link from ``start_s`` to ``end_s``, ``bits`` sent."""
        entry = self._open.get(sequence)
        if entry is not None:
            entry[START], entry[END], entry[BITS], entry[SENT] = start_s, end_s, bits, bits

    def note(self, link, request, ready_s: float, start_s: float, end_s: float) -> None:
        """An upload of ``request`` over ``link``: handed over (a dedicated link: its start and end known at once,
        acknowledged the link's delay and half the server's extra round trip after its end), or over (a shared
        cell)."""
        if link.shared:
            self.sent(request.sequence, start_s, end_s, request.bits_up)
        else:
            self.handed(request.sequence, ready_s, request.bits_up, link.delay_s + request.plan.extra_rtt_s / 2,
                        start_s, end_s)

    def fill(self, observation: Observation, now_s: float) -> None:
        """Write what the device knows at ``now_s`` into ``observation``: its unacknowledged uploads (how many,
        their bits not yet acknowledged, when the oldest was ready) and its acknowledged bits so far."""
        done = [sequence for sequence, entry in self._open.items() if entry[END] + entry[LAG] <= now_s]
        for sequence in done:
            self._acked_bits += self._open.pop(sequence)[SENT]
        waiting = [entry for entry in self._open.values() if entry[READY] <= now_s]
        progress = self._progress(waiting, now_s) if self._dedicated else 0.0
        observation.uplink_unacked = len(waiting)
        observation.uplink_unacked_bits = math.fsum(entry[BITS] for entry in waiting) - progress
        observation.uplink_oldest_ready_s = waiting[0][READY] if waiting else math.nan
        observation.uplink_acked_bits = self._acked_bits + progress

    def _progress(self, waiting: list[list[float]], now_s: float) -> float:
        """Bits of the uploads in flight on a dedicated link acknowledged by ``now_s``."""
        acked = 0.0
        for entry in waiting:
            heard_until = min(now_s - entry[LAG], entry[END])
            if not heard_until > entry[START]:
                break  # uploads go one at a time: the later ones have not started by then
            acked += min(self._channel.bits_between(entry[START], heard_until), entry[SENT])
        return acked
