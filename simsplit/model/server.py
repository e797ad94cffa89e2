"""The edge server: identical workers, one queue (a registered discipline: :mod:`simsplit.model.queues`), dynamic
batching.

A job is any object with these attributes: ``base_service_s`` (its service
time alone, s), ``batch_key`` (jobs batch only with the same key unless kinds
mix; ``None`` marks another tenant's job, which never mixes), ``deadline_at_s`` (instant, s; ``inf`` for none), and
``enqueued_at_s``, ``service_start_at_s``, ``service_end_at_s``, ``batch_size``,
which the server fills in. A batch of b jobs takes ``max(base_service_s) * factor(b) * X``
(s), X the server's random factor with mean 1 (1 without variability).

Dynamic batching: when a worker is idle, the job at the head of the queue and
up to ``max_batch - 1`` queued jobs of its kind start together, as soon as
the batch is full or the head job has waited ``max_wait_s``. With
``drop_expired``, a job whose deadline has passed when it would start is
removed and reported to ``on_expired``.
"""

from __future__ import annotations

import heapq
import math
from array import array
from collections.abc import Callable
from typing import Any

import numpy as np
import simpy
from simpy.events import NORMAL

from simsplit.core.schedule import Call, event_queue


class ServiceIntervals:
    """Busy periods of the workers: one (start, end, background) per batch; end NaN while serving (s).
    Compact arrays (8 + 8 + 1 bytes a batch), read with ``numpy.asarray``."""

    __slots__ = ("background", "ends", "starts")

    def __init__(self):
        self.starts = array("d")
        self.ends = array("d")
        self.background = array("b")


def busy_within(starts, ends, start_s: float, end_s: float) -> np.ndarray:
    """Each batch's busy time (s) inside [start_s, end_s], from its start and end instants (s; end NaN: still
    serving at the end)."""
    begin = np.asarray(starts, dtype=float)
    finish = np.asarray(ends, dtype=float)
    overlap = np.where(np.isnan(finish), end_s, finish)  # then in place: two arrays of a batch each at most
    np.minimum(overlap, end_s, out=overlap)
    np.subtract(overlap, np.maximum(begin, start_s), out=overlap)
    np.maximum(overlap, 0.0, out=overlap)
    return overlap


class EdgeServer:
    """One server. Raise a ValueError if ``workers < 1``, ``queue_capacity < 0`` or ``max_batch < 1``."""

    def __init__(self, env: simpy.Environment, *, workers: int, on_done: Callable[[Any], None], name: str = "edge",
                 queue_capacity: int | None = None, discipline: str = "fifo", max_batch: int = 1,
                 max_wait_s: float = 0.0, mix_kinds: bool = False,
                 batch_factor: Callable[[int], float] = lambda b: 1.0,
                 service_factor: Callable[[], float] | None = None, drop_expired: bool = False,
                 on_expired: Callable[[Any], None] | None = None):
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        if queue_capacity is not None and queue_capacity < 0:
            raise ValueError(f"queue_capacity must be >= 0, got {queue_capacity}")
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        from simsplit.model.queues import disciplines
        if discipline not in disciplines:
            raise ValueError(f"discipline must be one of {disciplines.expected()}, got {discipline!r}")
        self.name = name
        self.background_streams: list = []
        """Other tenants' job streams feeding this server (see :mod:`simsplit.model.background`)."""
        self._env = env
        self._event_heap, self._event_numbers = event_queue(env)
        self._workers = workers
        self._idle = workers
        self._capacity = queue_capacity
        self._queue = disciplines[discipline].build()
        self._max_batch = max_batch
        self._max_wait_s = max_wait_s
        self._mix = mix_kinds
        self._batch_factor = batch_factor
        self._service_factor = service_factor
        self._drop_expired = drop_expired
        self._on_done = on_done
        self._on_expired = on_expired
        self._timer_at_s = math.inf
        self.intervals = ServiceIntervals()
        self._recent_wait_s = 0.0
        self._busy_until: list[float] = []

    @property
    def workers(self) -> int:
        return self._workers

    @property
    def queue_length(self) -> int:
        """Jobs waiting (not in service)."""
        return len(self._queue)

    @property
    def busy(self) -> int:
        """Workers serving a batch."""
        return self._workers - self._idle

    @property
    def recent_wait_s(self) -> float:
        """Exponentially weighted mean (weight 0.1 on the newest) of the waits of jobs that started (s)."""
        return self._recent_wait_s

    def predicted_start(self, arrival_at_s: float) -> float:
        """When a job arriving at ``arrival_at_s`` would start if no one else arrived first and every queued
        job took its base service time: the true state, for the oracle (FIFO order, batching ignored)."""
        now = self._env.now
        free = sorted(self._busy_until) + [now] * self._idle
        heapq.heapify(free)
        for job in self._queue.jobs():
            heapq.heappush(free, max(heapq.heappop(free), now) + job.base_service_s)
        return max(heapq.heappop(free), arrival_at_s)

    # ------------------------------------------------------------ queue
    def submit(self, job: Any) -> bool:
        """Offer ``job`` now. Return False, and keep nothing, if the queue is full."""
        if self._idle and not self._queue and self._max_batch == 1:
            job.enqueued_at_s = self._env._now
            self._start([job])
            return True
        if self._capacity is not None and len(self._queue) >= self._capacity:
            return False
        job.enqueued_at_s = self._env.now
        self._queue.push(job)
        self._dispatch()
        return True

    def _expire(self) -> None:
        now = self._env.now
        expired = [job for job in self._queue.jobs() if job.deadline_at_s < now]
        if expired:
            assert self._on_expired is not None  # drop_expired comes with on_expired (the engine passes both)
            self._queue.remove(expired)
            for job in expired:
                self._on_expired(job)

    def _dispatch(self) -> None:
        if self._drop_expired and self._queue:
            self._expire()
        while self._idle and self._queue:
            if self._max_batch == 1:
                self._start([self._queue.pop()])
                continue
            ordered = self._queue.jobs()
            head = ordered[0]
            key = head.batch_key
            mixes = self._mix and key is not None  # background jobs (key None) never mix with project jobs
            batch = [job for job in ordered
                     if job.batch_key == key or (mixes and job.batch_key is not None)][: self._max_batch]
            ready_at = head.enqueued_at_s + self._max_wait_s
            if len(batch) < self._max_batch and self._env.now < ready_at:
                self._set_timer(ready_at)
                return
            self._queue.remove(batch)
            self._start(batch)

    def _set_timer(self, at_s: float) -> None:
        if at_s >= self._timer_at_s > self._env.now:
            return  # an earlier timer is pending; it will dispatch
        self._timer_at_s = at_s
        event = self._env.timeout(at_s - self._env.now, at_s)
        event.callbacks.append(self._on_timer)

    def _on_timer(self, event) -> None:
        if event._value == self._timer_at_s:
            self._timer_at_s = math.inf
        self._dispatch()

    # ------------------------------------------------------------ service
    def _start(self, batch: list) -> None:
        self._idle -= 1
        now = self._env._now
        size = len(batch)
        if size == 1:
            job = batch[0]
            duration = job.base_service_s
            job.service_start_at_s = now
            job.batch_size = 1
            self._recent_wait_s += 0.1 * ((now - job.enqueued_at_s) - self._recent_wait_s)
        else:
            duration = max(job.base_service_s for job in batch) * self._batch_factor(size)
            for job in batch:
                job.service_start_at_s = now
                job.batch_size = size
                self._recent_wait_s += 0.1 * ((now - job.enqueued_at_s) - self._recent_wait_s)
        if self._service_factor is not None:
            duration *= self._service_factor()
        intervals = self.intervals
        index = len(intervals.starts)
        intervals.starts.append(now)
        intervals.ends.append(math.nan)
        intervals.background.append(batch[0].batch_key is None)
        heapq.heappush(self._busy_until, now + duration)
        heapq.heappush(self._event_heap,
                       (now + duration, NORMAL, next(self._event_numbers), Call((batch, index), self._finish)))

    def _finish(self, event) -> None:
        batch, index = event._value
        now = self._env._now
        self.intervals.ends[index] = now
        heapq.heappop(self._busy_until)  # the earliest end is this one (SimPy fires in time order): O(log k)
        self._idle += 1
        for job in batch:
            job.service_end_at_s = now
        if self._queue:
            self._dispatch()
        for job in batch:
            self._on_done(job)
