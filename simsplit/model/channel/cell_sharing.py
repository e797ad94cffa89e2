"""The cells of a ``cellular`` block shared by the devices that use it: processor sharing per cell, with
membership that changes at every handover.

Each device keeps its own capacity path r_i(t) (its :class:`~simsplit.model.channel.cellular.CellularChannel`:
its distance to its serving cell, its fading). A cell gives each of the n_c transfers it serves at t an
equal share of its time (round robin), so transfer i sends at r_i(t) / n_c(t), c being its device's
serving cell. A device in a handover's interruption sends nothing and counts in no cell. Between two events
every n_c is constant, so each transfer's progress is its own path's exact integral divided by n_c; the
events are arrivals, departures and the serving-cell changes (handovers and ends of interruptions) of the
devices with a transfer in flight. With ``on_handover: restart`` a transfer cut by its device's handover
starts again from its first bit (the bits it had sent are lost, and counted as sent).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable
from typing import Any

import simpy

from simsplit.model.channel.cellular import CellularChannel
from simsplit.model.channel.fading import FadingChannel

Sent = Callable[[Any, float, float], None]
"""``on_sent(job, start_s, end_s)``, called when a transfer's last bit has left."""

CHANGE_HORIZON_S = 600.0
"""How far ahead (s) a serving-cell change is looked for when no transfer in flight would ever end."""


class _Flow:
    __slots__ = ("cell", "channel", "job", "on_sent", "remaining_bits", "resent_bits", "size_bits", "start_s")

    def __init__(self, channel: CellularChannel, size_bits: float, job: Any, start_s: float, on_sent: Sent):
        self.channel = channel
        self.size_bits = size_bits
        self.remaining_bits = size_bits
        self.job = job
        self.start_s = start_s
        self.on_sent = on_sent
        self.cell = channel.serving_at(start_s)
        """Serving cell of its device since the last event (-1: in a handover's interruption)."""
        self.resent_bits = 0.0
        """Bits sent before handovers that restarted it."""


def _path_finish(channel: CellularChannel, start_s: float, size_bits: float) -> float:
    """When ``size_bits`` sent alone from ``start_s`` would be through ``channel``'s capacity path (s),
    handovers being handled by the cells (no restart here)."""
    return FadingChannel.finish_time(channel, start_s, size_bits)


def next_serving_change(channel: CellularChannel, after_s: float, until_s: float) -> float:
    """The first instant in (after_s, until_s) at which ``channel``'s serving cell differs from the one at
    ``after_s`` (a handover, or an interruption's end), or inf if none (looked for at most
    ``CHANGE_HORIZON_S`` ahead). Draws the path no further than it needs."""
    until_s = min(until_s, after_s + CHANGE_HORIZON_S)
    channel._extend_to_time(after_s)
    starts, serving = channel._starts, channel.serving
    j = bisect_right(starts, after_s)
    now_serving = serving[j - 1]
    while True:
        if j == len(serving):
            if starts[-1] >= until_s:
                return math.inf
            channel._draw()
            continue
        if starts[j] >= until_s:
            return math.inf
        if serving[j] != now_serving:
            return starts[j]
        j += 1


class SharedCells:
    """The transfers in flight in the cells of one ``cellular`` block; see the module docstring."""

    def __init__(self, env: simpy.Environment, delay_s: float, restart: bool):
        self.env = env
        self.delay_s = float(delay_s)
        self.restart = restart
        self._flows: list[_Flow] = []
        self._updated_at_s = 0.0
        self._version = 0
        self._finishing: list[_Flow] = []
        """The transfers that end at the pending event."""

    def link(self, channel: CellularChannel) -> CellShare:
        """A device's view of the cells: its own capacity path, sharing the cells' time."""
        return CellShare(self, channel)

    def send(self, channel: CellularChannel, size_bits: float, job: Any, on_sent: Sent) -> None:
        """Start a transfer of ``size_bits`` over ``channel`` now."""
        now = self.env.now
        if size_bits <= 0:
            on_sent(job, now, now)
            return
        self._progress(now)
        self._update_cells(now)
        self._flows.append(_Flow(channel, size_bits, job, now, on_sent))
        self._reschedule(now)

    def _counts(self) -> Counter:
        """Transfers per serving cell (-1: in an interruption)."""
        return Counter(flow.cell for flow in self._flows)

    def _progress(self, now: float) -> None:
        """Bring every transfer's remaining bits up to ``now`` (its cell's count was constant since the last
        event)."""
        if self._flows and now > self._updated_at_s:
            counts = self._counts()
            for flow in self._flows:
                if flow.cell >= 0:
                    flow.remaining_bits -= flow.channel.bits_between(self._updated_at_s, now) / counts[flow.cell]
        self._updated_at_s = now

    def _update_cells(self, now: float) -> None:
        """Each transfer's serving cell at ``now``; with ``restart``, one whose device handed over at ``now``
        starts again from its first bit."""
        for flow in self._flows:
            cell = flow.channel.serving_at(now)
            if cell != flow.cell and self.restart and flow.cell >= 0:
                flow.resent_bits += flow.size_bits - max(flow.remaining_bits, 0.0)
                flow.remaining_bits = flow.size_bits
            flow.cell = cell

    def _reschedule(self, now: float) -> None:
        """Schedule the next event: the first departure at today's counts, or an earlier change of cell."""
        self._version += 1
        self._finishing = []
        if not self._flows:
            return
        counts = self._counts()
        finishes = [_path_finish(f.channel, now, max(f.remaining_bits, 0.0) * counts[f.cell]) if f.cell >= 0
                    else math.inf for f in self._flows]
        at = min(finishes)
        change = min(next_serving_change(f.channel, now, at) for f in self._flows)
        if change < at:
            at = change  # a device changes cell before any transfer ends: counts change, no one leaves
        else:
            self._finishing = [f for f, end in zip(self._flows, finishes, strict=True) if end == at]
        if at == math.inf:
            return  # no transfer ever ends and no device changes cell again: they stay in flight
        event = self.env.timeout(at - now, self._version)
        event.callbacks.append(self._event)

    def _event(self, event) -> None:
        if event._value != self._version:
            return  # superseded by a later arrival
        now = self.env.now
        self._progress(now)
        done = self._finishing
        if done:
            self._flows = [f for f in self._flows if f not in done]
        self._update_cells(now)
        self._reschedule(now)
        for flow in done:
            if flow.resent_bits and hasattr(flow.job, "resent_bits"):  # a request's transfer (not a probe's)
                flow.job.resent_bits = flow.resent_bits
            flow.on_sent(flow.job, flow.start_s, now)


class CellShare:
    """One device's link through shared cells: ``channel`` is its own capacity path; ``send`` shares the
    serving cell's time with the other transfers there."""

    __slots__ = ("cells", "channel")
    shared = True

    def __init__(self, cells: SharedCells, channel: CellularChannel):
        self.cells = cells
        self.channel = channel

    @property
    def delay_s(self) -> float:
        return self.cells.delay_s

    def send(self, size_bits: float, job: Any, on_sent: Sent) -> None:
        """Send ``size_bits`` now; ``on_sent(job, start_s, end_s)`` when its last bit has left."""
        self.cells.send(self.channel, size_bits, job, on_sent)
