"""The compiled event loop of one server whose jobs interact beyond their order of arrival — dynamic batching
(``max_batch``, ``max_wait``), a queue capacity, ``drop_expired``, earliest deadline first — for the fast path
(:mod:`simsplit.engine.server_events` keeps its state between windows).

:func:`serve` takes the steps of :class:`simsplit.model.server.EdgeServer` one event at a time in SimPy's order
— by time, then by when each event was scheduled (an arrival when its request arrived at its device, another
tenant's at its stream's previous arrival, a service's end or a batching timer at the server event that set
it, in the order they were set) — with the same floating-point operations, so each job's start, end, batch,
drop and expiry equal the DES's. Two events of one instant that were also scheduled at one instant, one by a
device and one by the server, are taken request first, then the server's own, then another tenant's (the DES
orders them by their scheduling events' numbers; with a random service or arrival such a tie has
probability zero).
"""
# ruff: noqa: FURB136, PLR1730, PLR0912, PLR0913, PLR0915, PLR0917, C901

from __future__ import annotations

import numpy as np

from simsplit.core.compiling import inlined
from simsplit.engine.kernels import compiled

WAITING, FINISHED, REJECTED, EXPIRED = 0, 1, 2, 3
"""A job's fate in :func:`serve`: still queued or in service, its service ended, refused by a full queue,
removed by ``drop_expired``."""

REQUEST_TIE, SERVER_TIE, TENANT_TIE = 0, 1, 2
"""The order of an arrival against the server's own events of its instant scheduled at the same instant."""

IDLE, SEQUENCE, QUEUE_HEAD, QUEUE_LENGTH, PUSHED, FACTORS_USED, DONE, STARTED, ENDED, EVENTS, SERIAL = range(11)
"""The slots of :func:`serve`'s integer state: idle workers, events scheduled, the queue's first place and
length, jobs queued so far, service factors used; this call's counts of rows done, batches started and batches
ended; the events pending, and batches started in the run (each batch's serial number)."""

TIMER_AT, EARLIEST_DEADLINE = 0, 1
"""The slots of the float state: the batching timer's instant (``EdgeServer._timer_at_s``; inf: none); a lower
bound on the queued jobs' deadlines (s): while it is not before now, no queued job has expired, and the queue is
not scanned (an expiry scan sets it to the exact earliest)."""


@inlined
def _first(t1, s1, u1, c1, n1, t2, s2, u2, c2, n2):
    """Whether event 1 (time, set at, when the event that set it was set, tie class, number) is taken before
    event 2."""
    if t1 != t2:
        return t1 < t2
    if s1 != s2:
        return s1 < s2
    if u1 != u2:
        return u1 < u2
    if c1 != c2:
        return c1 < c2
    return n1 < n2


@inlined
def _push(job, queue, state, deadline, edf):
    """Queue ``job``: FIFO at the back; EDF after every job of an earlier or equal deadline."""
    head, length = state[QUEUE_HEAD], state[QUEUE_LENGTH]
    if head + length == queue.size:  # slide the queue to the front of its array (room: the table's size)
        queue[:length] = queue[head:head + length].copy()
        head = 0
        state[QUEUE_HEAD] = 0
    place = head + length
    state[PUSHED] += 1
    if edf:
        while place > head and deadline[queue[place - 1]] > deadline[job]:
            queue[place] = queue[place - 1]
            place -= 1
    queue[place] = job
    state[QUEUE_LENGTH] = length + 1


@inlined
def _remove(queue, state, chosen):
    """Take the queued jobs marked in ``chosen`` out of the queue, the others keeping their order; unmark them."""
    head, length = state[QUEUE_HEAD], state[QUEUE_LENGTH]
    kept = head
    for place in range(head, head + length):
        job = queue[place]
        if chosen[job]:
            chosen[job] = False
        else:
            queue[kept] = job
            kept += 1
    state[QUEUE_LENGTH] = kept - head


@inlined
def _room(events, state):
    """``events`` (time, scheduled at, number, worker or -1, timer value: one row each) with room for one more."""
    if state[EVENTS] < events.shape[0]:
        return events
    bigger = np.empty((2 * events.shape[0], events.shape[1]))
    bigger[:state[EVENTS]] = events[:state[EVENTS]]
    return bigger


@inlined
def _schedule(events, state, at, now, set_now, worker, value):
    """A server event at ``at`` (s), set now by an event set at ``set_now`` (s): a service's end on ``worker`` or
    a timer (-1) of ``value``. A row of ``events``: time, set at, number, worker, value, set_now."""
    events = _room(events, state)
    row = state[EVENTS]
    events[row, 0] = at
    events[row, 1] = now
    events[row, 2] = state[SEQUENCE]
    events[row, 3] = worker
    events[row, 4] = value
    events[row, 5] = set_now
    state[SEQUENCE] += 1
    state[EVENTS] = row + 1
    return events


@compiled
def serve(jobs, tie, key, first_new, stop, params, factor, batch_factor, queue, state, floats, slots, slot_jobs,
          events, out, fate, size, done, started, ended):
    """Run the server's events before ``stop`` (s); return the pending events' array (grown if needed).

    ``jobs`` holds a row per job: arrival (SimPy's clock of its event, s), scheduled (when that event was
    scheduled, s), base service (alone, s), deadline (instant, s), and when the event that scheduled it was
    itself scheduled (s; -inf: before the run); ``tie`` its class (:data:`REQUEST_TIE`,
    :data:`TENANT_TIE`), ``key`` its batching kind (-1: another tenant's, which never mixes). Rows before
    ``first_new`` are queued or in service; the others arrive in this call, in order. ``params`` = (workers,
    max_batch, capacity or -1, drop_expired, mix_kinds, edf); ``batch_factor[b]`` = t(b)/t(1) for b >= 1 and
    ``batch_factor[0]`` the batching timeout (s); ``factor`` the service factors in order of use (empty: none).

    State, read and updated: ``queue`` (rows, from ``state[QUEUE_HEAD]``), ``state`` (:data:`IDLE` ...),
    ``floats`` (:data:`TIMER_AT`), each worker's batch (``slots[w]`` = (size, start s, serial number); size 0:
    idle; ``slot_jobs[w]`` its rows) and ``events`` (see :func:`_schedule`). Per row it fills ``out`` (enqueued,
    start, end, fate's instant, when the event it left the queue by was set; s), ``fate`` (:data:`WAITING` ...)
    and ``size`` (its batch's); ``done`` lists the rows whose service ended in the order the DES hands them on,
    ``started`` each batch started (start s, another tenant's 1.0 or 0.0, when the event that started it was set
    s; serial numbers on from the state's), ``ended`` each batch ended (serial, end s).
    """
    drop_expired = params[3]
    chosen = np.zeros(jobs.shape[0], np.bool_)
    batch = np.empty(params[1], np.int64)
    state[DONE] = 0
    state[STARTED] = 0
    state[ENDED] = 0
    arriving = first_new
    seen = -1  # the events scheduled when ``best`` was found (-1: find it again)
    best = -1
    while True:
        if seen != state[SEQUENCE]:  # the pending events changed: a scan of the few (workers + timer) again
            best = _earliest(events, state)
            seen = state[SEQUENCE]
        take_arrival = arriving < jobs.shape[0] and (
            best < 0 or _first(jobs[arriving, 0], jobs[arriving, 1], jobs[arriving, 4], tie[arriving], arriving,
                               events[best, 0], events[best, 1], events[best, 5], SERVER_TIE, events[best, 2]))
        if take_arrival:
            now, set_now = jobs[arriving, 0], jobs[arriving, 1]
        elif best >= 0:
            now, set_now = events[best, 0], events[best, 1]
        else:
            break
        if not now < stop:
            break
        if take_arrival:
            events, dispatch = _submit(arriving, now, set_now, params, jobs, key, factor, batch_factor, queue, state,
                                       floats, slots, slot_jobs, events, out, size, started, fate, batch)
            arriving += 1
        else:
            worker = int(events[best, 3])
            value = events[best, 4]
            last = state[EVENTS] - 1  # the event leaves the pending list (its last row takes its place)
            events[best] = events[last]
            state[EVENTS] = last
            seen = -1
            if worker < 0:  # EdgeServer._on_timer
                if value == floats[TIMER_AT]:
                    floats[TIMER_AT] = np.inf
                dispatch = True
            else:
                _finish(worker, now, slots, slot_jobs, state, out, fate, done, ended)
                dispatch = state[QUEUE_LENGTH] > 0
        if dispatch:
            if drop_expired and state[QUEUE_LENGTH] > 0 and floats[EARLIEST_DEADLINE] < now:
                _expire(now, set_now, queue, state, floats, jobs, chosen, fate, out)
            events = _dispatch(now, set_now, params, jobs, key, factor, batch_factor, queue, state, floats, slots,
                               slot_jobs, events, out, size, started, chosen, batch)
    return events


@inlined
def _submit(job, now, set_now, params, jobs, key, factor, batch_factor, queue, state, floats, slots, slot_jobs, events,
            out, size, started, fate, batch):
    """EdgeServer.submit: ``job`` arrives now: starts at once, is refused by a full queue, or is queued (then the
    server dispatches: the second value returned)."""
    max_batch, capacity, edf = params[1], params[2], params[5]
    if state[IDLE] > 0 and state[QUEUE_LENGTH] == 0 and max_batch == 1:
        out[job, 0] = now
        batch[0] = job
        events = _start(batch, 1, now, jobs, key, factor, batch_factor, state, slots, slot_jobs, events, out, size,
                        started, set_now)
        return events, False
    if capacity >= 0 and state[QUEUE_LENGTH] >= capacity:
        fate[job] = REJECTED
        out[job, 3] = now
        return events, False
    out[job, 0] = now
    _push(job, queue, state, jobs[:, 3], edf)
    if jobs[job, 3] < floats[EARLIEST_DEADLINE]:
        floats[EARLIEST_DEADLINE] = jobs[job, 3]
    return events, True


@inlined
def _earliest(events, state):
    """The pending server event taken first (-1: none)."""
    best = -1
    for e in range(state[EVENTS]):
        if best < 0 or _first(events[e, 0], events[e, 1], events[e, 5], SERVER_TIE, events[e, 2],
                              events[best, 0], events[best, 1], events[best, 5], SERVER_TIE, events[best, 2]):
            best = e
    return best


@inlined
def _finish(worker, now, slots, slot_jobs, state, out, fate, done, ended):
    """EdgeServer._finish: ``worker``'s batch ends now; its rows are done, in batch order."""
    count = int(slots[worker, 0])
    row = state[ENDED]
    ended[row, 0] = slots[worker, 2]
    ended[row, 1] = now
    state[ENDED] = row + 1
    state[IDLE] += 1
    slots[worker, 0] = 0.0
    for b in range(count):
        job = slot_jobs[worker, b]
        out[job, 2] = now
        fate[job] = FINISHED
        done[state[DONE]] = job
        state[DONE] += 1


@inlined
def _expire(now, set_now, queue, state, floats, jobs, chosen, fate, out):
    """EdgeServer._expire: the queued jobs whose deadline has passed leave, in queue order; the earliest deadline
    of those that stay is noted."""
    head = state[QUEUE_HEAD]
    expired = False
    earliest = np.inf
    for place in range(head, head + state[QUEUE_LENGTH]):
        job = queue[place]
        if jobs[job, 3] < now:
            chosen[job] = True
            fate[job] = EXPIRED
            out[job, 3] = now
            out[job, 4] = set_now
            expired = True
        elif jobs[job, 3] < earliest:
            earliest = jobs[job, 3]
    floats[EARLIEST_DEADLINE] = earliest
    if expired:
        _remove(queue, state, chosen)


@inlined
def _dispatch(now, set_now, params, jobs, key, factor, batch_factor, queue, state, floats, slots, slot_jobs, events,
              out, size, started, chosen, batch):
    """EdgeServer._dispatch after its expiry: start what the idle workers can (alone, or the head's batch once
    full or timed out; else set the batching timer); return the events' array."""
    max_batch, mix, max_wait = params[1], params[4], batch_factor[0]
    while state[IDLE] > 0 and state[QUEUE_LENGTH] > 0:
        head = state[QUEUE_HEAD]
        if max_batch == 1:
            batch[0] = queue[head]
            state[QUEUE_HEAD] = head + 1
            state[QUEUE_LENGTH] -= 1
            events = _start(batch, 1, now, jobs, key, factor, batch_factor, state, slots, slot_jobs, events, out, size,
                            started, set_now)
            continue
        first = queue[head]
        kind = key[first]
        mixes = mix and kind >= 0
        count = 0
        for place in range(head, head + state[QUEUE_LENGTH]):
            job = queue[place]
            if key[job] == kind or (mixes and key[job] >= 0):
                batch[count] = job
                count += 1
                if count == max_batch:  # the batch is full: the rest of the queue waits
                    break
        ready_at = out[first, 0] + max_wait
        if count < max_batch and now < ready_at:  # EdgeServer._set_timer
            if not (ready_at >= floats[TIMER_AT] and floats[TIMER_AT] > now):
                floats[TIMER_AT] = ready_at
                events = _schedule(events, state, now + (ready_at - now), now, set_now, -1, ready_at)
            break
        for b in range(count):
            chosen[batch[b]] = True
        _remove(queue, state, chosen)
        events = _start(batch, count, now, jobs, key, factor, batch_factor, state, slots, slot_jobs, events, out, size,
                        started, set_now)
    return events


@inlined
def _start(batch, count, now, jobs, key, factor, batch_factor, state, slots, slot_jobs, events, out, size, started,
           set_now):
    """EdgeServer._start: ``batch[:count]`` starts now on an idle worker; its end is scheduled."""
    state[IDLE] -= 1
    if count == 1:
        duration = jobs[batch[0], 2]
    else:
        longest = jobs[batch[0], 2]
        for b in range(1, count):
            if jobs[batch[b], 2] > longest:
                longest = jobs[batch[b], 2]
        duration = longest * batch_factor[count]
    if factor.size > 0:
        duration *= factor[state[FACTORS_USED]]
        state[FACTORS_USED] += 1
    worker = 0
    while slots[worker, 0] > 0.0:
        worker += 1
    slots[worker, 0] = count
    slots[worker, 1] = now
    slots[worker, 2] = state[SERIAL]
    state[SERIAL] += 1
    row = state[STARTED]
    started[row, 0] = now
    started[row, 1] = 1.0 if key[batch[0]] < 0 else 0.0
    started[row, 2] = set_now
    state[STARTED] = row + 1
    for b in range(count):
        job = batch[b]
        slot_jobs[worker, b] = job
        out[job, 1] = now
        out[job, 4] = set_now
        size[job] = count
    return _schedule(events, state, now + duration, now, set_now, worker, 0.0)
