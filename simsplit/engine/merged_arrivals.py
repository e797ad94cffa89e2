"""Every device's arrivals in the order the DES processes them, handed out a slab of simulated time at a
time, so that the fast path (:mod:`simsplit.engine.fastpath`) holds a slab of arrivals in memory, not the run.

Each device's instants are drawn ahead in growing blocks from its own arrivals process (the same numbers
its ``next_at`` would give one by one), with SimPy's clock at each: an arrival is scheduled while the
previous one is processed, at ``now + (at - now)``, which can differ from ``at`` by an ulp. The DES
processes events by (clock, event number); an arrival's number is set when it is scheduled, so a tie is
broken by when its predecessor was processed (:func:`simsplit.engine.kernels.processing_order`), and that state
carries from one slab to the next.
"""

from __future__ import annotations

import numpy as np

COMPILED_ABOVE = 256
"""A block with more instants than this whose clocks must be followed one by one (not sorted, or not
exactly representable steps) gets them from the compiled loop (numba loads only then)."""
ARRIVALS_PER_DEVICE = 16
"""Arrivals per device a slab should hold at least: handing out a slab visits every device."""
FIRST_BLOCK = 16
"""Instants a device draws ahead beyond what its last slab's rate predicts; a draw that falls short is
followed by one twice its size."""
ROWS_TOGETHER = 8
"""Devices whose processes draw a block of instants together (``ahead_rows``), rather than one by one, when
at least this many of one kind need about the same number."""


class MergedArrivals:
    """The arrivals of ``arrivals`` (one process per device, in device order) before ``end_s`` (s)."""

    def __init__(self, arrivals: list, end_s: float):
        self._sources = arrivals
        self.end_s = end_s
        devices = len(arrivals)
        self._pending = (np.empty(0, dtype=np.int64), np.empty(0), np.empty(0))
        """The instants drawn and not yet handed out: (device, instant s, SimPy's clock at it s), grouped by
        device in device order, each device's in time order."""
        self._pending_count = np.zeros(devices, dtype=np.int64)
        self._ended = np.zeros(devices, dtype=bool)
        """The device's draws reached the end of the run: none comes after those held."""
        self._now = np.zeros(devices)
        """SimPy's clock at each device's last drawn arrival (s)."""
        self._last_at = np.zeros(devices)
        self._rate_hz = np.zeros(devices)
        """Each device's arrivals per second in the last slab (sizes its next draw)."""
        self._until_s = 0.0
        """End of the last slab handed out (s)."""
        self._number = np.arange(devices, dtype=np.int64) - devices
        """Event number of each device's next arrival: its predecessor's overall rank (negative, in device
        order, for the first ones, scheduled before the run starts)."""
        self._next_id = np.zeros(devices, dtype=np.int64)
        self._handed_out = 0

    def _draw(self, d: int, until_s: float) -> tuple[list, list]:
        """Draw device ``d``'s instants ahead until one's clock reaches ``until_s`` (or the run ends): at
        first as many as its last slab's rate says (and a few), then doubling. Returns the blocks drawn
        (instants, clocks)."""
        block = int(float(self._rate_hz[d]) * (until_s - self._until_s) * 1.05) + FIRST_BLOCK
        now, end, ended = float(self._now[d]), self.end_s, bool(self._ended[d])
        at_parts, clock_parts = [], []
        while not ended and now < until_s:
            at = self._ahead(d, block)
            clock = _clocks(at, now)
            # the DES schedules no arrival at or after the end, and processes no event at or after it: a
            # device's arrivals stop at the first such one (clocks never decrease; instants may)
            if not at.size or clock[-1] >= end or at.max() >= end:
                ended = True
                late = np.flatnonzero((at >= end) | (clock >= end))
                at, clock = (at[: late[0]], clock[: late[0]]) if late.size else (at, clock)
            if at.size:
                now, self._last_at[d] = float(clock[-1]), at[-1]
                at_parts.append(at)
                clock_parts.append(clock)
            block *= 2
        self._now[d], self._ended[d] = now, ended
        return at_parts, clock_parts

    def _draw_groups(self, drawing: np.ndarray, until_s: float):
        """The devices ``drawing`` grouped for drawing together: ``(ahead_rows of their process's class or
        None, block, devices)``, a group's devices of one class and a first block (instants) within a factor
        of two of what each one's rate predicts."""
        predicted = (self._rate_hz[drawing] * (until_s - self._until_s) * 1.05).astype(np.int64) + FIRST_BLOCK
        block = 1 << np.ceil(np.log2(predicted)).astype(np.int64)  # the power of two at or above
        kinds = [getattr(type(self._sources[d]), "ahead_rows", None) for d in drawing.tolist()]
        groups: dict[tuple, list[int]] = {}
        for d, kind, size in zip(drawing.tolist(), kinds, block.tolist(), strict=True):
            groups.setdefault((kind, size), []).append(d)
        for (kind, size), rows in groups.items():
            yield kind, size, np.array(rows, dtype=np.int64)

    def _draw_rows(self, ahead_rows, rows: np.ndarray, block: int, until_s: float) -> tuple[list, list, list]:
        """What :meth:`_draw` does for each device of ``rows`` (whose processes share ``ahead_rows``), all
        at once: blocks of ``block`` instants, then doubling, until each one's clock reaches ``until_s`` or
        the run ends. Returns the parts drawn (devices, instants, clocks), a device's in time order."""
        end = self.end_s
        device_parts, at_parts, clock_parts = [], [], []
        while rows.size:
            at = ahead_rows([self._sources[d] for d in rows.tolist()], block)
            clock = _clock_rows(at, self._now[rows])
            late = (at >= end) | (clock >= end)  # as in _draw: a device's arrivals stop at the first such one
            ended = late.any(axis=1)
            kept = np.where(ended, late.argmax(axis=1), block)
            keep = np.arange(block) < kept[:, None]
            device_parts.append(np.repeat(rows, kept))
            at_parts.append(at[keep])
            clock_parts.append(clock[keep])
            some = kept > 0
            last = kept[some] - 1
            self._now[rows[some]] = clock[some, last]
            self._last_at[rows[some]] = at[some, last]
            self._ended[rows[ended]] = True
            rows = rows[~ended & (self._now[rows] < until_s)]
            block *= 2
        return device_parts, at_parts, clock_parts

    def more(self, d: int) -> bool:
        """Whether device ``d`` may have an arrival not yet handed out (False once its last one is out)."""
        return bool(self._pending_count[d]) or not self._ended[d]

    def _ahead(self, d: int, n: int) -> np.ndarray:
        """Device ``d``'s next ``n`` instants (s): at once where its process can, else one by one."""
        source = self._sources[d]
        if hasattr(source, "ahead"):
            return source.ahead(n)
        out = []
        at = float(self._last_at[d])
        for _ in range(n):
            at = source.next_at(at)
            out.append(at)
            if at >= self.end_s:
                break
        return np.array(out, dtype=float)

    def slabs(self, target: int, first_span_s: float):
        """The run's arrivals slab after slab: ``(until_s, device, at, clock, request_id)`` as :meth:`slab`
        gives them, each slab aimed at ``target`` arrivals (its length from the previous one's count), the
        first ``first_span_s`` long; empty slabs are skipped, except the last, which ends at ``end_s``."""
        until, span = 0.0, first_span_s
        while until < self.end_s:
            until = min(until + span, self.end_s)
            arrays = self.slab(until)
            span = _next_span(span, arrays[0].size, target)
            if arrays[0].size or until >= self.end_s:
                yield (until, *arrays)

    def slab(self, until_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The arrivals not yet handed out whose clock is before ``until_s`` (s), in the DES's order of
        processing: (device, instant s, clock s, the device's request number)."""
        devices = len(self._sources)
        device, at, clock = self._pending
        drawing = np.flatnonzero(~self._ended & (self._now < until_s))
        if drawing.size:  # only these devices may have an arrival before until_s not drawn yet
            device_parts, at_parts, clock_parts = [device], [at], [clock]
            one_by_one = []
            for kind, block, rows in self._draw_groups(drawing, until_s):
                if kind is None or rows.size < ROWS_TOGETHER:
                    one_by_one += rows.tolist()
                    continue
                drawn = self._draw_rows(kind, rows, block, until_s)
                device_parts += drawn[0]
                at_parts += drawn[1]
                clock_parts += drawn[2]
            for d in one_by_one:
                drawn_at, drawn_clock = self._draw(d, until_s)
                device_parts.append(np.full(sum(part.size for part in drawn_at), d, dtype=np.int64))
                at_parts += drawn_at
                clock_parts += drawn_clock
            device = np.concatenate(device_parts)
            at, clock = np.concatenate(at_parts), np.concatenate(clock_parts)
            grouped = np.argsort(device, kind="stable")  # the new draws after each device's held ones
            device, at, clock = device[grouped], at[grouped], clock[grouped]
        due = clock < until_s  # a prefix of each device's instants
        self._pending = (device[~due], at[~due], clock[~due])
        device, at, clock = device[due], at[due], clock[due]
        counts = np.bincount(device, minlength=devices)
        self._pending_count = np.bincount(self._pending[0], minlength=devices)
        offsets = np.zeros(devices + 1, dtype=np.int64)
        offsets[1:] = np.cumsum(counts)
        request_id = np.arange(at.size, dtype=np.int64) - offsets[:-1][device] + self._next_id[device]
        self._next_id += counts
        order = np.argsort(clock, kind="stable")  # merges the devices' sorted runs
        if (np.diff(clock[order]) == 0.0).any():  # simultaneous arrivals: SimPy's event order decides
            from simsplit.engine import kernels
            order = np.argsort(kernels.processing_order(clock, offsets, self._number, self._handed_out),
                               kind="stable")
        rank = np.empty(at.size, dtype=np.int64)
        rank[order] = np.arange(at.size, dtype=np.int64)
        active = counts > 0
        self._number[active] = self._handed_out + rank[offsets[1:][active] - 1]  # each device's last one here
        self._handed_out += at.size
        self._rate_hz = counts / (until_s - self._until_s) if until_s > self._until_s else self._rate_hz
        self._until_s = until_s
        return device[order], at[order], clock[order], request_id[order]


def _exact(at: np.ndarray, before: np.ndarray) -> np.ndarray:
    """Where the clock at instant ``at`` is ``at`` itself, given the clock at the previous arrival equals
    ``before`` (its instant): ``before + (at - before)`` is ``at`` when the difference is exact (Sterbenz:
    ``before <= at <= 2 before``, both positive) or ``before`` is zero and ``at`` positive."""
    return ((before <= at) & (at <= 2.0 * before) & (before > 0.0)) | ((before == 0.0) & (at > 0.0))


def _clocks(at: np.ndarray, now_s: float) -> np.ndarray:
    """:func:`simsplit.engine.kernels.event_times` of one device's instants ``at`` after clock ``now_s`` (s), bit
    for bit: each clock is the instant itself wherever :func:`_exact` says so (nearly every one of a
    sorted block), and the rest follow SimPy's float operations one by one, in Python (a compiled loop where
    more than :data:`COMPILED_ABOVE` do: only then does numba load)."""
    out = at.copy()
    if not at.size:
        return out
    before = np.empty_like(at)
    before[0] = now_s
    before[1:] = at[:-1]
    exact = _exact(at, before)
    slow = np.flatnonzero(~exact)
    if slow.size > COMPILED_ABOVE:
        from simsplit.engine import kernels
        return kernels.event_times(at, now_s)
    n, k, targets = at.size, 0, None
    for i in slow.tolist():
        if i < k:
            continue  # already followed one by one
        targets = at.tolist() if targets is None else targets
        now = float(out[i - 1]) if i else now_s
        k = i
        while True:  # one by one until a clock equals its instant again and the next one is exact
            target = targets[k]
            delay = target - now
            now = now + (delay if delay > 0.0 else 0.0)  # noqa: FURB136 (max() would differ on signed zeros)
            out[k] = now
            k += 1
            if k == n or (now == target and exact[k]):
                break
    return out


def _clock_rows(at: np.ndarray, now_s: np.ndarray) -> np.ndarray:
    """:func:`_clocks` of many devices at once: row ``r`` holds the clocks at the instants ``at[r]`` after
    clock ``now_s[r]`` (s). Columns before the first where some clock may not be its instant
    (:func:`_exact`) are the instants; from there SimPy's operations go a column at a time, for every row,
    until every row's clock is its instant again past the last such column."""
    before = np.empty_like(at)
    before[:, 0] = now_s
    before[:, 1:] = at[:, :-1]
    out = at.copy()
    inexact = np.flatnonzero(~_exact(at, before).all(axis=0))
    if not inexact.size:
        return out
    j, last, columns = int(inexact[0]), int(inexact[-1]), at.shape[1]
    now = now_s.copy() if j == 0 else at[:, j - 1].copy()
    while j < columns:
        delay = at[:, j] - now
        now = now + np.where(delay > 0.0, delay, 0.0)
        out[:, j] = now
        j += 1
        if j > last and (now == at[:, j - 1]).all():
            break
    return out


def _next_span(span_s: float, count: int, target: int) -> float:
    """The length (s) of the next slab, from the last one's (``span_s``, holding ``count`` arrivals), aimed
    at ``target`` arrivals: at most 16 times longer (a first slab may be nearly empty), at least a quarter;
    after an empty slab, 16 times longer whatever the target (bursts of tied arrivals shrink the span a
    quarter each; without this, a target of one arrival kept it shrinking below the clock's resolution)."""
    if count == 0:
        return span_s * 16.0
    return span_s * min(max(target / count, 0.25), 16.0)
