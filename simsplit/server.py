"""The edge server: identical workers sharing one first-come-first-served queue."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import simpy


class EdgeServer:
    """``workers`` workers and a FIFO queue of at most ``queue_capacity`` waiting jobs (None: unbounded).

    A job is any object with a ``service_s`` attribute (its service time, s)
    and ``service_start_at_s``/``service_end_at_s`` attributes the server
    fills in. ``on_done(job)`` is called when a job's service ends. Raise a
    ValueError if ``workers < 1`` or ``queue_capacity < 0``.
    """

    def __init__(self, env: simpy.Environment, workers: int, queue_capacity: int | None,
                 on_done: Callable[[Any], None]):
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        if queue_capacity is not None and queue_capacity < 0:
            raise ValueError(f"queue_capacity must be >= 0, got {queue_capacity}")
        self._env = env
        self._workers = workers
        self._idle = workers
        self._capacity = queue_capacity
        self._queue: deque = deque()
        self._on_done = on_done

    @property
    def workers(self) -> int:
        return self._workers

    @property
    def queue_length(self) -> int:
        """Jobs waiting (not in service)."""
        return len(self._queue)

    @property
    def busy(self) -> int:
        """Workers serving a job."""
        return self._workers - self._idle

    def submit(self, job: Any) -> bool:
        """Offer ``job`` now; start it if a worker is idle, else queue it. Return False if the queue is full."""
        if self._idle:
            self._start(job)
            return True
        if self._capacity is not None and len(self._queue) >= self._capacity:
            return False
        self._queue.append(job)
        return True

    def _start(self, job: Any) -> None:
        self._idle -= 1
        job.service_start_at_s = self._env.now
        event = self._env.timeout(job.service_s, job)
        event.callbacks.append(self._finish)

    def _finish(self, event: simpy.Event) -> None:
        job = event._value
        job.service_end_at_s = self._env.now
        self._idle += 1
        if self._queue:
            self._start(self._queue.popleft())
        self._on_done(job)
