"""The fast path's shared uplinks (:class:`SharedUplinks`): a cell's transfers depend on each other (first come
first served, or processor sharing), so each cell replays the DES's link events — a payload ready, a
departure — in SimPy's order, with its channel's own ``finish_time`` and ``bits_between`` and the
arithmetic of :class:`~simsplit.model.channel.shared.ProcessorSharingLink` and
:class:`~simsplit.model.channel.shared.SharedFifoLink`, the flows in progress held as arrays.

Events are taken by time, then by when they were scheduled (a payload's readiness when its request arrived at
its device, a departure at the cell event that set it), then request first, then in the order they were set;
the DES breaks a tie of both instants by its scheduling events' numbers (probability zero unless heads,
payloads and capacities line up exactly).
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from itertools import count

import numpy as np

READY, DEPARTURE = 0, 1
"""A cell event's kind, which is also its order against the other kind at equal time and scheduling instant."""


class SharedUplinks:
    """Every shared uplink's events in one order (a departure in one cell and one in another at the same
    instant go in the order they were set), carried from window to window: :meth:`submit` adds payloads
    ready at given instants, :meth:`run` takes every event before a horizon and returns the transfers that
    ended."""

    def __init__(self, links: list) -> None:
        self.events: list = []
        self.numbers = count()
        self.sent: list[tuple[int, float, float, float, float]] = []
        self.set_at = 0.0
        """When the event being taken was set (s)."""
        self.cells = [CellReplay(link, self, k) for k, link in enumerate(links)]

    def submit(self, cells: np.ndarray, transfers: np.ndarray, scheduled: np.ndarray, ready: np.ndarray,
               bits: np.ndarray) -> None:
        """Payloads ``transfers`` (ids, in the order their readiness was set) for ``cells``, ready at ``ready``
        (SimPy's clock, s), set at ``scheduled`` (s), of ``bits`` each."""
        for cell, transfer, at, ready_at, size in zip(cells.tolist(), transfers.tolist(), scheduled.tolist(),
                                                      ready.tolist(), bits.tolist(), strict=True):
            heapq.heappush(self.events, (ready_at, at, READY, next(self.numbers), cell, transfer, size))

    def run(self, stop: float) -> tuple[np.ndarray, ...]:
        """Take the events before ``stop`` (s): (ids, start s, end s, departure's clock s, when the departure was
        set s) of the transfers whose last bit left, in the order the DES hands them on."""
        events, cells = self.events, self.cells
        while events and events[0][0] < stop:
            now, self.set_at, kind, _, cell, value, size = heapq.heappop(events)
            cells[cell].take(now, kind, value, size)
        sent, self.sent = self.sent, []
        if not sent:
            return np.empty(0, dtype=np.int64), np.empty(0), np.empty(0), np.empty(0), np.empty(0)
        ids, start, end, clock, set_at = zip(*sent, strict=True)
        return np.array(ids, dtype=np.int64), np.array(start), np.array(end), np.array(clock), np.array(set_at)


class CellReplay:
    """One shared uplink's state: the flows in progress (processor sharing) or the queue (first come first
    served), its events kept by :class:`SharedUplinks`."""

    def __init__(self, link, shared: SharedUplinks, index: int) -> None:
        from simsplit.model.channel.shared import SharedFifoLink
        self.channel = link.channel
        self.fifo = isinstance(link, SharedFifoLink)
        self._shared = shared
        self._index = index
        # processor sharing: the flows in progress, in order of arrival
        self._bits = np.empty((2, 16))
        """Each flow's bits left to send and its size, the first ``len(_flows)`` columns (room to grow)."""
        self._flows: list[tuple[int, float]] = []
        """(transfer, start s) of each flow, in the order of :attr:`_bits`."""
        self._updated_at_s = 0.0
        self._version = 0
        # first come first served
        self._busy = False
        self._queue: deque = deque()

    def take(self, now: float, kind: int, value, size: float) -> None:
        """One event of this cell at ``now`` (s): a payload ready (``value`` its id) or a departure."""
        if kind == READY:
            self._send(now, value, size)
        elif self.fifo:
            self._fifo_finish(now, value)
        else:
            self._departure(now, value)

    def _on_sent(self, transfer: int, start: float, end: float, now: float) -> None:
        self._shared.sent.append((transfer, start, end, now, self._shared.set_at))

    def _schedule(self, now: float, end: float, value) -> None:
        """A departure at ``end`` (s) set now, as ``call_after(env, end - now, value)``."""
        shared = self._shared
        event = (now + (end - now), now, DEPARTURE, next(shared.numbers), self._index, value, 0.0)
        heapq.heappush(shared.events, event)

    # ------------------------------------------------------------ first come first served
    def _send(self, now: float, transfer: int, size: float) -> None:
        if self.fifo:
            if self._busy:
                self._queue.append((transfer, size))
            else:
                self._fifo_start(now, transfer, size)
            return
        if size <= 0:
            self._on_sent(transfer, now, now, now)
            return
        if self._flows:
            self._advance(now)
            self._append(transfer, size, now)
            self._reschedule(now)
            return
        self._updated_at_s = now  # the link was idle: this transfer alone, at the whole capacity
        self._append(transfer, size, now)
        self._version += 1
        end = self.channel.finish_time(now, size)
        if end != math.inf:
            self._schedule(now, end, self._version)

    def _fifo_start(self, now: float, transfer: int, size: float) -> None:
        end = self.channel.finish_time(now, size)
        self._busy = True
        if end == math.inf:
            return  # the link never delivers: this and every later transfer stay in flight
        self._schedule(now, end, (transfer, now, end))

    def _fifo_finish(self, now: float, value) -> None:
        transfer, start, end = value
        self._busy = False
        if self._queue:
            self._fifo_start(now, *self._queue.popleft())
        self._on_sent(transfer, start, end, now)

    # ------------------------------------------------------------ processor sharing
    def _append(self, transfer: int, size: float, now: float) -> None:
        n = len(self._flows)
        if n == self._bits.shape[1]:
            self._bits = np.concatenate((self._bits, np.empty_like(self._bits)), axis=1)
        self._bits[0, n] = size
        self._bits[1, n] = size
        self._flows.append((transfer, now))

    def _advance(self, now: float) -> None:
        n = len(self._flows)
        if n and now > self._updated_at_s:
            share = self.channel.bits_between(self._updated_at_s, now) / n
            self._bits[0, :n] -= share
        self._updated_at_s = now

    def _reschedule(self, now: float) -> None:
        self._version += 1
        n = len(self._flows)
        if not n:
            return
        least = float(self._bits[0, :n].min())
        end = self.channel.finish_time(now, max(least, 0.0) * n)
        if end == math.inf:
            return
        self._schedule(now, end, self._version)

    def _departure(self, now: float, version: int) -> None:
        if version != self._version:
            return  # superseded by a later arrival or departure
        if len(self._flows) == 1:  # the one transfer in progress is done: nothing left to bring up to date
            transfer, start = self._flows.pop()
            self._updated_at_s = now
            self._version += 1
            self._on_sent(transfer, start, now, now)
            return
        self._advance(now)
        n = len(self._flows)
        remaining, size = self._bits[0, :n], self._bits[1, :n]
        least = float(remaining.min())
        done = remaining <= least + 1e-9 * size
        gone = done.tolist()
        finished = [flow for flow, left in zip(self._flows, gone, strict=True) if left]
        self._flows = [flow for flow, left in zip(self._flows, gone, strict=True) if not left]
        kept = self._bits[:, :n][:, ~done]
        self._bits[:, :kept.shape[1]] = kept
        self._reschedule(now)
        for transfer, start in finished:
            self._on_sent(transfer, start, now, now)


class CellWaiting:
    """The uploads in a cell: by row (kept sorted), each one's feedback delay (s), whether it is lost, and when
    it was ready to send (s)."""

    def __init__(self) -> None:
        self.rows: np.ndarray
        self.extra: np.ndarray
        self.lost: np.ndarray
        self.ready: np.ndarray
        self.clear()

    def __len__(self) -> int:
        return int(self.rows.size)

    def add(self, rows: np.ndarray, extra: np.ndarray, lost: np.ndarray, ready: np.ndarray) -> None:
        """Uploads ``rows`` (not waiting yet) entering their cells."""
        merged = np.concatenate((self.rows, rows))
        order = np.argsort(merged, kind="stable")
        self.rows = merged[order]
        self.extra = np.concatenate((self.extra, extra))[order]
        self.lost = np.concatenate((self.lost, lost.astype(bool)))[order]
        self.ready = np.concatenate((self.ready, ready))[order]

    def clear(self) -> None:
        """No upload waits any more."""
        self.rows, self.extra = np.empty(0, dtype=np.int64), np.empty(0)
        self.lost, self.ready = np.empty(0, dtype=bool), np.empty(0)

    def take(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(feedback delay s, lost, ready s) of the waiting uploads ``rows``, in that order; they wait no more."""
        at = np.searchsorted(self.rows, rows)
        taken = self.extra[at], self.lost[at], self.ready[at]
        kept = np.ones(self.rows.size, dtype=bool)
        kept[at] = False
        self.rows, self.extra = self.rows[kept], self.extra[kept]
        self.lost, self.ready = self.lost[kept], self.ready[kept]
        return taken
