"""The compiled replay of shared uplinks whose channels are constant or piecewise constant (a trace, shifted
or not): :class:`CompiledUplinks` does what :class:`~simsplit.engine.fastpath_cells.SharedUplinks` does in
Python, with the same events in the same order and the same floating-point operations as the channel's own
``finish_time`` and ``bits_between`` and :class:`~simsplit.model.channel.shared.ProcessorSharingLink` /
:class:`~simsplit.model.channel.shared.SharedFifoLink`, so each transfer's start and end equal the DES's.

Its state lives in arrays (so a radio round's snapshot is a copy): the payloads ready in order (they are known
a window ahead, so they are sorted as they come), the departures pending in a heap, both ordered by (time, when
set, kind, number); each processor-sharing cell's flows in order of arrival (bits left, size,
transfer, start); each first-come-first-served cell's queue as a ring. A loop that would overflow a cell's
room returns to Python, which doubles it and calls again.
"""
# ruff: noqa: FURB136, PLR1730, PLR0912, PLR0913, PLR0915, PLR0917, C901

from __future__ import annotations

import numpy as np

from simsplit.core.compiling import inlined
from simsplit.engine.fastpath_links import LinkArrays
from simsplit.engine.kernels import compiled, link_bits_between, link_finish

READY, DEPARTURE = 0.0, 1.0
"""An event's kind, which is also its order against the other kind at equal time and scheduling instant."""
TIME, SET_AT, KIND, NUMBER, CELL, VALUE, SIZE, START, END = range(9)
"""The columns of an event (one row of ``events``): time (s), when it was set (s), kind, number, cell, the
transfer (a payload's readiness, a first-come-first-served departure) or the cell's version (a processor-sharing
departure), bits, and a first-come-first-served transfer's start and end (s)."""
PENDING, NUMBERS, FREE, HEAD = range(4)
"""The slots of the integer counts: departures in the heap, events numbered so far, event rows free for reuse
(the first of ``free``), the first payload of ``ready`` not yet taken."""
DONE, GROW_FLOWS, GROW_QUEUE, GROW_EVENTS = range(4)
"""What :func:`run_cells` returns with: every event before the stop taken; a cell needs room for more flows;
or for a longer queue (the cell's index with it); a departure needs a free event row."""


@inlined
def _earlier(events, a, b):
    """Whether event row ``a`` is taken before row ``b``."""
    for column in (TIME, SET_AT, KIND):
        if events[a, column] != events[b, column]:
            return events[a, column] < events[b, column]
    return events[a, NUMBER] < events[b, NUMBER]


@inlined
def _sift_up(events, heap, k):
    while k > 0:
        parent = (k - 1) >> 1
        if not _earlier(events, heap[k], heap[parent]):
            break
        heap[k], heap[parent] = heap[parent], heap[k]
        k = parent


@inlined
def _sift_down(events, heap, size):
    k = 0
    while True:
        child = 2 * k + 1
        if child >= size:
            break
        if child + 1 < size and _earlier(events, heap[child + 1], heap[child]):
            child += 1
        if not _earlier(events, heap[child], heap[k]):
            break
        heap[k], heap[child] = heap[child], heap[k]
        k = child


@inlined
def _push(events, heap, counts, row):
    size = counts[PENDING]
    heap[size] = row
    counts[PENDING] = size + 1
    _sift_up(events, heap, size)


@inlined
def _least(flows, c, n):
    """The fewest bits left of cell ``c``'s ``n`` flows."""
    least = flows[c, 0, 0]
    for k in range(1, n):
        if flows[c, 0, k] < least:
            least = flows[c, 0, k]
    return least


@inlined
def _note(sent, sent_ids, noted, start, end, now, set_at, transfer):
    """Note a transfer whose last bit left; return the transfers noted."""
    sent[noted, 0], sent[noted, 1], sent[noted, 2], sent[noted, 3] = start, end, now, set_at
    sent_ids[noted] = transfer
    return noted + 1


@inlined
def _fifo_event(c, now, ready, value, bits, row, events, cells, queue, queue_ids, sent, sent_ids, noted):
    """A first-come-first-served cell's event: a payload ready (queued if the link is busy) or a departure (the
    next in the queue starts). Return (the next departure's end s, inf: none; its transfer; transfers noted)."""
    busy, queue_head, queue_length = cells[6], cells[7], cells[8]
    begin = -1
    if ready and busy[c]:
        slot = (queue_head[c] + queue_length[c]) % queue.shape[1]
        queue[c, slot] = bits
        queue_ids[c, slot] = value
        queue_length[c] += 1
    elif ready:
        begin = value
    else:
        busy[c] = False
        if queue_length[c]:
            head = queue_head[c]
            begin, bits = queue_ids[c, head], queue[c, head]
            queue_head[c] = (head + 1) % queue.shape[1]
            queue_length[c] -= 1
    end = np.inf
    if begin >= 0:
        end = link_finish(c, cells[1], cells[2], now, bits)
        busy[c] = True
    if not ready:
        noted = _note(sent, sent_ids, noted, events[row, START], events[row, END], now, events[row, SET_AT], value)
    return end, begin, noted


@inlined
def _ps_event(c, now, ready, value, bits, set_at, cells, flows, flow_ids, sent, sent_ids, noted):
    """A processor-sharing cell's event: a payload ready or a departure (stale if the cell's version moved on).
    Return (the next departure's end s, inf: none; the cell's version; transfers noted)."""
    n_flows, updated_at, version = cells[3], cells[4], cells[5]
    n = n_flows[c]
    if ready and bits <= 0:
        return np.inf, version[c], _note(sent, sent_ids, noted, now, now, now, set_at, value)
    if ready and n == 0:  # the link was idle: this transfer alone, at the whole capacity
        updated_at[c] = now
        flows[c, 0, 0], flows[c, 1, 0], flows[c, 2, 0] = bits, bits, now
        flow_ids[c, 0] = value
        n_flows[c] = 1
        version[c] += 1
        return link_finish(c, cells[1], cells[2], now, bits), version[c], noted
    if not ready and value != version[c]:  # superseded by a later arrival or departure
        return np.inf, version[c], noted
    if not ready and n == 1:  # the one transfer in progress is done: nothing to bring up to date
        n_flows[c] = 0
        updated_at[c] = now
        version[c] += 1
        return np.inf, version[c], _note(sent, sent_ids, noted, flows[c, 2, 0], now, now, set_at, flow_ids[c, 0])
    if now > updated_at[c]:  # bring every flow up to date
        share = link_bits_between(c, cells[1], cells[2], updated_at[c], now) / n
        for k in range(n):
            flows[c, 0, k] -= share
    updated_at[c] = now
    if ready:
        flows[c, 0, n], flows[c, 1, n], flows[c, 2, n] = bits, bits, now
        flow_ids[c, n] = value
        n += 1
    else:
        n, noted = _ps_finished(c, n, now, set_at, flows, flow_ids, sent, sent_ids, noted)
    n_flows[c] = n
    version[c] += 1
    if not n:
        return np.inf, version[c], noted
    least = _least(flows, c, n)
    if least < 0.0:
        least = 0.0
    return link_finish(c, cells[1], cells[2], now, least * n), version[c], noted


@inlined
def _ps_finished(c, n, now, set_at, flows, flow_ids, sent, sent_ids, noted):
    """Note every flow of cell ``c`` within rounding of the least left (done), keep the others in order.
    Return (flows kept, transfers noted)."""
    least = _least(flows, c, n)
    kept = 0
    for k in range(n):
        if flows[c, 0, k] <= least + 1e-9 * flows[c, 1, k]:
            noted = _note(sent, sent_ids, noted, flows[c, 2, k], now, now, set_at, flow_ids[c, k])
        else:
            flows[c, 0, kept], flows[c, 1, kept], flows[c, 2, kept] = flows[c, 0, k], flows[c, 1, k], flows[c, 2, k]
            flow_ids[c, kept] = flow_ids[c, k]
            kept += 1
    return kept, noted


@inlined
def _ready_first(ready, head, events, row):
    """Whether the payload ``ready[head]`` is taken before the departure in event row ``row``."""
    for column in (TIME, SET_AT, KIND):
        if ready[head, column] != events[row, column]:
            return ready[head, column] < events[row, column]
    return ready[head, NUMBER] < events[row, NUMBER]


@inlined
def _room(c, bits, cells, flows, queue, counts):
    """What cell ``c`` lacks to take a payload of ``bits``: room in its queue, for its flows, an event row for
    its departure; DONE: nothing."""
    fifo, n_flows, busy, queue_length = cells[0], cells[3], cells[6], cells[8]
    if fifo[c] and busy[c] and queue_length[c] == queue.shape[1]:
        return GROW_QUEUE
    if not fifo[c] and not bits <= 0 and n_flows[c] == flows.shape[2]:
        return GROW_FLOWS
    if counts[FREE] == 0:
        return GROW_EVENTS
    return DONE


@compiled
def run_cells(stop, ready, events, heap, counts, free, cells, flows, flow_ids, queue, queue_ids, sent, sent_ids):
    """Take the events before ``stop`` (s): the payloads ``ready`` (sorted, from ``counts[HEAD]``) and the
    departures in ``heap``; note each transfer whose last bit left in ``sent`` (start, end, departure's clock,
    when the departure was set; s) and ``sent_ids``, in the order the DES hands them on. ``cells`` is (fifo,
    the channels as :func:`~simsplit.engine.kernels.link_finish` reads them (their link arrays and steps), flows
    in progress, when they were brought up to date, version, busy, queue head, queue length). Return (what it
    stopped for, the cell that needs room, transfers noted)."""
    fifo = cells[0]
    noted = 0
    while True:
        head = counts[HEAD]
        if head < ready.shape[0] and (counts[PENDING] == 0 or _ready_first(ready, head, events, heap[0])):
            now, bits = ready[head, TIME], ready[head, SIZE]
            if not now < stop:
                break
            c = int(ready[head, CELL])
            short = _room(c, bits, cells, flows, queue, counts)
            if short != DONE:
                return short, c, noted
            counts[HEAD] = head + 1
            counts[FREE] -= 1
            row = free[counts[FREE]]
            is_ready, value, set_at = True, int(ready[head, VALUE]), ready[head, SET_AT]
        elif counts[PENDING] > 0:
            row = heap[0]
            now = events[row, TIME]
            if not now < stop:
                break
            c = int(events[row, CELL])
            size = counts[PENDING] - 1
            heap[0] = heap[size]
            counts[PENDING] = size
            _sift_down(events, heap, size)
            is_ready, value, set_at, bits = False, int(events[row, VALUE]), events[row, SET_AT], 0.0
        else:
            break
        if fifo[c]:
            end, value, noted = _fifo_event(c, now, is_ready, value, bits, row, events, cells, queue, queue_ids,
                                            sent, sent_ids, noted)
        else:
            end, value, noted = _ps_event(c, now, is_ready, value, bits, set_at, cells, flows, flow_ids, sent,
                                          sent_ids, noted)
        if end != np.inf:  # the departure at ``end``, set now (``call_after(env, end - now, ...)``), in ``row``
            events[row, TIME], events[row, SET_AT], events[row, KIND] = now + (end - now), now, DEPARTURE
            events[row, NUMBER] = counts[NUMBERS]
            counts[NUMBERS] += 1
            events[row, CELL], events[row, VALUE], events[row, START], events[row, END] = c, value, now, end
            _push(events, heap, counts, row)
        else:
            free[counts[FREE]] = row
            counts[FREE] += 1
    return DONE, -1, noted


class CompiledUplinks:
    """:class:`~simsplit.engine.fastpath_cells.SharedUplinks` for cells whose channels compile
    (:attr:`LinkArrays.compiles <simsplit.engine.fastpath_links.LinkArrays.compiles>`), its events taken by
    :func:`run_cells`: :meth:`submit` adds payloads ready at given instants, :meth:`run` takes every event
    before a horizon and returns the transfers that ended."""

    def __init__(self, arrays: LinkArrays) -> None:
        from simsplit.model.channel.shared import SharedFifoLink
        cells = len(arrays.links)
        self.channel = (arrays.channels(), arrays.steps)
        """Each cell's channel as :func:`~simsplit.engine.kernels.link_finish` reads it."""
        self.fifo = np.array([isinstance(link, SharedFifoLink) for link in arrays.links])
        self.n_flows = np.zeros(cells, dtype=np.int64)
        self.updated_at = np.zeros(cells)
        self.version = np.zeros(cells, dtype=np.int64)
        self.busy = np.zeros(cells, dtype=np.bool_)
        self.queue_head = np.zeros(cells, dtype=np.int64)
        self.queue_length = np.zeros(cells, dtype=np.int64)
        self.flows = np.empty((cells, 3, 16))
        """Each processor-sharing cell's flows in order of arrival: bits left, size, start (s)."""
        self.flow_ids = np.empty((cells, 16), dtype=np.int64)
        self.queue = np.empty((cells, 16))
        """Each first-come-first-served cell's waiting transfers' bits, a ring from ``queue_head``."""
        self.queue_ids = np.empty((cells, 16), dtype=np.int64)
        self.ready = np.empty((0, 9))
        """The payloads ready and not yet taken (from ``counts[HEAD]``), in the order they are taken."""
        self.events = np.empty((64, 9))
        """The departures (rows of the heap)."""
        self.heap = np.empty(64, dtype=np.int64)
        self.free = np.arange(63, -1, -1, dtype=np.int64)
        self.counts = np.array([0, 0, 64, 0], dtype=np.int64)
        self.waiting = 0
        """Transfers submitted and not yet sent."""

    def submit(self, cells: np.ndarray, transfers: np.ndarray, scheduled: np.ndarray, ready: np.ndarray,
               bits: np.ndarray) -> None:
        """Payloads ``transfers`` (ids, in the order their readiness was set) for ``cells``, ready at ``ready``
        (SimPy's clock, s), set at ``scheduled`` (s), of ``bits`` each."""
        n = transfers.size
        if not n:
            return
        counts = self.counts
        fresh = np.zeros((n, 9))
        fresh[:, TIME], fresh[:, SET_AT], fresh[:, KIND] = ready, scheduled, READY
        fresh[:, NUMBER] = counts[NUMBERS] + np.arange(n)
        fresh[:, CELL], fresh[:, VALUE], fresh[:, SIZE] = cells, transfers, bits
        counts[NUMBERS] += n
        merged = np.concatenate((self.ready[counts[HEAD]:], fresh))
        self.ready = merged[np.lexsort((merged[:, NUMBER], merged[:, SET_AT], merged[:, TIME]))]
        counts[HEAD] = 0
        self.waiting += n

    def _grow_events(self, more: int) -> None:
        old = self.events.shape[0]
        new = max(2 * old, old + more)
        self.events = np.concatenate((self.events, np.empty((new - old, 9))))
        self.heap = np.concatenate((self.heap, np.empty(new - old, dtype=np.int64)))
        free, kept = np.empty(new, dtype=np.int64), self.counts[FREE]
        free[:new - old] = np.arange(new - 1, old - 1, -1)
        free[new - old:new - old + kept] = self.free[:kept]
        self.free = free
        self.counts[FREE] += new - old

    def run(self, stop: float) -> tuple[np.ndarray, ...]:
        """Take the events before ``stop`` (s): (ids, start s, end s, departure's clock s, when the departure was
        set s) of the transfers whose last bit left, in the order the DES hands them on."""
        parts, ids = [], []
        while True:
            sent, sent_ids = np.empty((self.waiting, 4)), np.empty(self.waiting, dtype=np.int64)
            state = (self.fifo, *self.channel, self.n_flows, self.updated_at, self.version, self.busy,
                     self.queue_head, self.queue_length)
            status, cell, noted = run_cells(stop, self.ready, self.events, self.heap, self.counts, self.free, state,
                                            self.flows, self.flow_ids, self.queue, self.queue_ids, sent, sent_ids)
            self.waiting -= noted
            parts.append(sent[:noted])
            ids.append(sent_ids[:noted])
            if status == DONE:
                break
            if status == GROW_EVENTS:
                self._grow_events(1)
            elif status == GROW_FLOWS:
                self.flows = np.concatenate((self.flows, np.empty_like(self.flows)), axis=2)
                self.flow_ids = np.concatenate((self.flow_ids, np.empty_like(self.flow_ids)), axis=1)
            else:
                self._grow_queue()
        sent = np.concatenate(parts)
        return np.concatenate(ids), sent[:, 0], sent[:, 1], sent[:, 2], sent[:, 3]

    def _grow_queue(self) -> None:
        """Twice the room in every cell's ring, each ring's waiting transfers moved to its start."""
        room = self.queue.shape[1]
        order = (self.queue_head[:, None] + np.arange(room)[None, :]) % room
        self.queue = np.concatenate((np.take_along_axis(self.queue, order, axis=1), np.empty_like(self.queue)),
                                    axis=1)
        self.queue_ids = np.concatenate((np.take_along_axis(self.queue_ids, order, axis=1),
                                         np.empty_like(self.queue_ids)), axis=1)
        self.queue_head[:] = 0
