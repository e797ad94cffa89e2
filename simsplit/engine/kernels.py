"""Compiled loops of the fast path (:mod:`simsplit.engine.fastpath`): the few recursions that arrays cannot express.

Each loop does, in the same order, the very floating-point operations the SimPy model does, so the fast
path's numbers equal the DES's bit for bit. They are compiled with numba when it is installed, and run as
plain Python (the same results, slower) when it is not. Arrays of many devices come one after the other,
device ``d`` owning rows ``offsets[d]:offsets[d + 1]`` (a CSR layout).

The comparisons are spelled out (``a if a > b else b``) instead of ``max``/``min`` on purpose: they copy
the Python source's tie and signed-zero behaviour exactly.
"""
# ruff: noqa: FURB136, PLR1730

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from simsplit.core.compiling import COMPILED, compiled, inlined  # noqa: F401 (COMPILED re-exported)


@compiled
def event_times(target_s, now_s):
    """SimPy's clock at each of one device's arrivals: each is scheduled from the previous one's event (the
    first from ``now_s``, the clock of the one before it; 0 at the start) as ``now + (target - now)``,
    which can differ from ``target`` by an ulp (s)."""
    out = np.empty_like(target_s)
    now = now_s
    for i in range(target_s.size):
        delay = target_s[i] - now
        now = now + (delay if delay > 0.0 else 0.0)
        out[i] = now
    return out


@compiled
def after(now_s, target_s):
    """The clock of events scheduled at ``now_s`` for ``target_s`` (s), elementwise, as the engine does."""
    out = np.empty_like(target_s)
    for i in range(target_s.size):
        delay = target_s[i] - now_s[i]
        out[i] = now_s[i] + (delay if delay > 0.0 else 0.0)
    return out


@compiled
def processing_order(times_s, offsets, first_number, rank_base):
    """Rank of each arrival (device ``d``'s at rows ``offsets[d]:offsets[d + 1]``, in its order) in SimPy's
    order of processing: by event time, ties by event number. An arrival processed at overall rank ``r``
    schedules its device's next one with number ``r``; device ``d``'s first arrival here has number
    ``first_number[d]`` (negative, in device order, for those scheduled before the run starts), and the
    ranks given here start at ``rank_base``. A heap of one pending arrival per device replays the event
    queue exactly."""
    devices = offsets.size - 1
    heap_t = np.empty(devices)
    heap_id = np.empty(devices, dtype=np.int64)
    heap_d = np.empty(devices, dtype=np.int64)
    position = offsets[:-1].copy()
    rank = np.empty(times_s.size, dtype=np.int64)
    size, done = 0, 0
    for d in range(devices):
        if position[d] < offsets[d + 1]:
            size = _push(heap_t, heap_id, heap_d, size, times_s[position[d]], first_number[d], d)
    while size:
        d = heap_d[0]
        size = _pop(heap_t, heap_id, heap_d, size)
        rank[position[d]] = done
        position[d] += 1
        if position[d] < offsets[d + 1]:
            size = _push(heap_t, heap_id, heap_d, size, times_s[position[d]], rank_base + done, d)
        done += 1
    return rank


@inlined
def _before(heap_t, heap_id, a, b):
    return heap_t[a] < heap_t[b] or (heap_t[a] == heap_t[b] and heap_id[a] < heap_id[b])


@inlined
def _swap(heap_t, heap_id, heap_d, a, b):
    heap_t[a], heap_t[b] = heap_t[b], heap_t[a]
    heap_id[a], heap_id[b] = heap_id[b], heap_id[a]
    heap_d[a], heap_d[b] = heap_d[b], heap_d[a]


@inlined
def _push(heap_t, heap_id, heap_d, size, t, number, d):
    heap_t[size], heap_id[size], heap_d[size] = t, number, d
    child = size
    while child:
        parent = (child - 1) // 2
        if not _before(heap_t, heap_id, child, parent):
            break
        _swap(heap_t, heap_id, heap_d, child, parent)
        child = parent
    return size + 1


@inlined
def _pop(heap_t, heap_id, heap_d, size):
    size -= 1
    _swap(heap_t, heap_id, heap_d, 0, size)
    parent = 0
    while True:
        child = 2 * parent + 1
        if child >= size:
            break
        if child + 1 < size and _before(heap_t, heap_id, child + 1, child):
            child += 1
        if not _before(heap_t, heap_id, child, parent):
            break
        _swap(heap_t, heap_id, heap_d, child, parent)
        parent = child
    return size


@compiled
def device_compute(arrival_s, head_s, offsets, run_device, free):
    """Each device computes one head at a time, in arrival order: (wait before its head s, head end s).
    Rows ``offsets[j]:offsets[j + 1]`` are device ``run_device[j]``'s; ``free[d]`` (s), when device ``d``'s
    processor is free, is read and updated."""
    wait = np.empty_like(arrival_s)
    head_end = np.empty_like(arrival_s)
    for j in range(offsets.size - 1):
        d = run_device[j]
        at_free = free[d]
        for i in range(offsets[j], offsets[j + 1]):
            at = arrival_s[i]
            start = at if at > at_free else at_free
            at_free = start + head_s[i]
            wait[i] = start - 0.0 - at
            head_end[i] = at_free
        free[d] = at_free
    return wait, head_end


@compiled
def constant_link(ready_s, size_bits, extra_s, offsets, run_device, free, rate_bps):
    """Each device's dedicated link of constant ``rate_bps[d]`` serving in order, each transfer holding it
    ``extra_s`` more (retransmission feedback): (start s, end s). Rows and ``free`` as in
    :func:`device_compute`."""
    start = np.empty_like(ready_s)
    end = np.empty_like(ready_s)
    for j in range(offsets.size - 1):
        d = run_device[j]
        link_free = free[d]
        rate = rate_bps[d]
        for i in range(offsets[j], offsets[j + 1]):
            ready = ready_s[i]
            begin = ready if ready > link_free else link_free
            finish = begin + size_bits[i] / rate
            link_free = finish + extra_s[i]
            start[i] = begin
            end[i] = link_free
        free[d] = link_free
    return start, end


@compiled
def fifo_servers(arrival_s, service_s, factor, free, end_s):
    """A FIFO server of identical workers, jobs in order of arrival (Kiefer-Wolfowitz): each job starts when
    it has arrived and a worker is free. ``free`` is a heap of the workers' free instants (s), read and
    updated. ``factor[i]`` multiplies the i-th started job's service (NaN: none). Jobs that would start at
    or after ``end_s`` never start (NaN), nor does any after them; return (start s, end s)."""
    workers = free.size
    start = np.full(arrival_s.size, np.nan)
    end = np.full(arrival_s.size, np.nan)
    for i in range(arrival_s.size):
        earliest = free[0]
        begin = arrival_s[i] if arrival_s[i] > earliest else earliest
        if not begin < end_s:
            break
        duration = service_s[i]
        if not np.isnan(factor[i]):
            duration *= factor[i]
        finish = begin + duration
        start[i] = begin
        end[i] = finish
        # replace the heap's root by the new free instant and sift it down
        free[0] = finish
        parent = 0
        while True:
            child = 2 * parent + 1
            if child >= workers:
                break
            if child + 1 < workers and free[child + 1] < free[child]:
                child += 1
            if free[child] < free[parent]:
                free[child], free[parent] = free[parent], free[child]
                parent = child
            else:
                break
    return start, end


@inlined
def _python_divmod(x, y):
    """Python's ``divmod`` of two floats (CPython's float_divmod, step for step)."""
    mod = np.fmod(x, y)
    div = (x - mod) / y
    if mod:
        if (y < 0) != (mod < 0):
            mod += y
            div -= 1.0
    else:
        mod = np.copysign(0.0, y)
    if div:
        floor = np.floor(div)
        if div - floor > 0.5:
            floor += 1.0
    else:
        floor = np.copysign(0.0, x / y)
    return floor, mod


@inlined
def _bits_within(times, rates, cumulative, tau):
    k = np.searchsorted(times, tau, side="right") - 1
    if k < 0:
        k = 0
    return cumulative[k] + rates[k] * (tau - times[k])


@inlined
def _time_within(times, rates, cumulative, bits, tolerance):
    i = np.searchsorted(cumulative, bits - tolerance, side="left")
    if i < cumulative.size and cumulative[i] <= bits + tolerance:
        return times[i]
    k = i - 1
    rate = rates[k]
    if rate == 0.0:
        return np.inf
    tau = times[k] + (bits - cumulative[k]) / rate
    if k + 1 < times.size:
        return times[k + 1] if times[k + 1] < tau else tau
    return tau


@compiled
def step_finish(times, rates, cumulative, period_s, period_bits, rounding, start, size_bits):
    """:meth:`simsplit.model.channel.steps.StepChannel.finish_time`, operation for operation (``period_s`` NaN:
    the last rate holds)."""
    if size_bits <= 0:
        return start
    if np.isnan(period_s):
        target = _bits_within(times, rates, cumulative, start) + size_bits
        tolerance = rounding * target
        finish = _time_within(times, rates, cumulative, target, tolerance)
        return start if start > finish else finish
    periods, tau = _python_divmod(start, period_s)
    target = (periods * period_bits + _bits_within(times, rates, cumulative, tau)) + size_bits
    tolerance = rounding * target
    passes = target / period_bits if period_bits > 0 else np.inf
    if not np.isfinite(passes):
        return np.inf
    whole = float(np.ceil(passes)) - 1.0
    within = target - whole * period_bits
    if within <= tolerance:
        whole -= 1.0
        within += period_bits
    within = period_bits if period_bits < within else within
    finish = whole * period_s + _time_within(times, rates, cumulative, within, tolerance)
    return start if start > finish else finish


@compiled
def tenant_arrivals(at, gaps, stop, rate, times, rates, cumulative, period_s, period_bits, rounding):
    """Arrival instants (s) of a background stream from ``at`` while before ``stop``, each next one the finish
    of its gap (``gaps``, in intensity-seconds) on the intensity from the previous: constant ``rate`` (jobs/s;
    NaN: the step path ``times, rates, cumulative`` of :func:`step_finish`). Return (arrivals, the instant
    after the last of them, gaps used)."""
    out = np.empty(gaps.size)
    n = 0
    while at < stop and n < gaps.size:
        out[n] = at
        if np.isnan(rate):
            at = step_finish(times, rates, cumulative, period_s, period_bits, rounding, at, gaps[n])
        else:
            at = at + gaps[n] / rate
        n += 1
    return out[:n], at, n


@inlined
def shifted_step_finish(times, rates, cumulative, period_s, period_bits, rounding, shift, start, size_bits):
    """:func:`step_finish` read from ``shift`` seconds in (0: unshifted), as
    :meth:`simsplit.model.channel.shifted.ShiftedChannel.finish_time` reads its inner channel: the inner finish
    less the shift, rounded up so that adding the shift back never falls short of it."""
    if shift == 0.0 or size_bits <= 0:
        return step_finish(times, rates, cumulative, period_s, period_bits, rounding, start, size_bits)
    inner_end = step_finish(times, rates, cumulative, period_s, period_bits, rounding, start + shift, size_bits)
    end = inner_end - shift
    while end + shift < inner_end:
        end = np.nextafter(end, np.inf)
    return start if start > end else end


@inlined
def _cumulative_bits(times, rates, cumulative, period_s, period_bits, at):
    """:meth:`~simsplit.model.channel.steps.StepChannel._cumulative_bits` (``period_s`` NaN: no period)."""
    if np.isnan(period_s):
        return _bits_within(times, rates, cumulative, at)
    periods, tau = _python_divmod(at, period_s)
    return periods * period_bits + _bits_within(times, rates, cumulative, tau)


@inlined
def link_finish(d, link, steps, start, size_bits):
    """``finish_time(start, size_bits)`` of link ``d``'s channel, of kind 0 (constant) or 1 (piecewise constant,
    shifted or not), as :class:`~simsplit.engine.fastpath_links.LinkArrays` describes it: ``link`` = its
    (kind, rate, channel, shift) arrays, ``steps`` its :class:`StepChannels`."""
    kind, rate, channel, shift = link
    if kind[d] == 0:
        return start + size_bits / rate[d]
    c = channel[d]
    low, high = steps.bounds[c], steps.bounds[c + 1]
    return shifted_step_finish(steps.times[low:high], steps.rates[low:high], steps.cumulative[low:high],
                               steps.period_s[c], steps.period_bits[c], steps.rounding, shift[d], start, size_bits)


@inlined
def link_bits_between(d, link, steps, start, end):
    """``bits_between(start, end)`` of link ``d``'s channel (kinds and arguments as :func:`link_finish`)."""
    kind, rate, channel, shift = link
    if kind[d] == 0:
        return rate[d] * (end - start)
    c = channel[d]
    low, high = steps.bounds[c], steps.bounds[c + 1]
    t, r, cum = steps.times[low:high], steps.rates[low:high], steps.cumulative[low:high]
    if shift[d] != 0.0:
        start, end = start + shift[d], end + shift[d]
    return (_cumulative_bits(t, r, cum, steps.period_s[c], steps.period_bits[c], end)
            - _cumulative_bits(t, r, cum, steps.period_s[c], steps.period_bits[c], start))


class StepChannels(NamedTuple):
    """Piecewise-constant channels one after the other, as :func:`step_link` reads them: channel ``c``'s
    breakpoints, rates and cumulative bits (:meth:`~simsplit.model.channel.steps.StepChannel.arrays`) at
    ``bounds[c]:bounds[c + 1]``."""

    bounds: np.ndarray
    """int64, one more than the channels."""
    times: np.ndarray
    """Breakpoints (s)."""
    rates: np.ndarray
    """Rate on each step (bit/s)."""
    cumulative: np.ndarray
    """Bits delivered by each breakpoint."""
    period_s: np.ndarray
    """Each channel's period (s); NaN: its last rate holds for ever."""
    period_bits: np.ndarray
    """Bits each channel delivers per period."""
    rounding: float
    """Relative tolerance of :meth:`~simsplit.model.channel.steps.StepChannel.finish_time` (its ``ROUNDING``)."""


@compiled
def step_link(ready_s, size_bits, extra_s, offsets, run_device, free, channel, shift_s, steps):
    """Each device's dedicated link over a piecewise-constant channel serving in order: (start s, end s).
    Device ``d`` uses channel ``channel[d]`` of ``steps`` (:class:`StepChannels`) read from ``shift_s[d]``
    seconds in (0: unshifted), as :class:`~simsplit.model.channel.shifted.ShiftedChannel` does. Rows and
    ``free`` as in :func:`device_compute`."""
    bounds, times, rates, cumulative = steps.bounds, steps.times, steps.rates, steps.cumulative
    period_s, period_bits, rounding = steps.period_s, steps.period_bits, steps.rounding
    start = np.empty_like(ready_s)
    end = np.empty_like(ready_s)
    for j in range(offsets.size - 1):
        d = run_device[j]
        c = channel[d]
        t, r, cum = times[bounds[c]:bounds[c + 1]], rates[bounds[c]:bounds[c + 1]], cumulative[bounds[c]:bounds[c + 1]]
        shift = shift_s[d]
        link_free = free[d]
        for i in range(offsets[j], offsets[j + 1]):
            ready = ready_s[i]
            begin = ready if ready > link_free else link_free
            bits = size_bits[i]
            finish = shifted_step_finish(t, r, cum, period_s[c], period_bits[c], rounding, shift, begin, bits)
            link_free = finish + extra_s[i]
            start[i] = begin
            end[i] = link_free
        free[d] = link_free
    return start, end
