"""Server queue disciplines: the order in which waiting jobs start (first in first out, earliest deadline first).

A queue holds jobs (see :mod:`simsplit.model.server`) and offers ``push(job)``, ``pop() -> job`` (the next to
start), ``jobs()`` (every waiting job in service order), ``remove(jobs)`` and ``len()``. A discipline is
registered by name (:func:`register_discipline`) and chosen by ``server.discipline``.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable
from itertools import count

from simsplit.core.registry import Registry

disciplines = Registry("disciplines", configured=False)
"""The server queue disciplines, by name (:func:`register_discipline`)."""


def register_discipline(name: str, queue: Callable | None = None):
    """A server queue discipline, chosen by name in ``server.discipline``. ``queue()`` returns an empty queue
    with ``push(job)``, ``pop() -> job``, ``jobs() -> list`` (in service order), ``remove(jobs)`` and
    ``__len__``."""
    return disciplines.register(name, None, queue)


class FifoQueue(deque):
    """First come, first served (a deque: its length and truth test cost no Python call)."""

    push = deque.append
    pop = deque.popleft

    def jobs(self) -> list:
        return list(self)

    def remove(self, jobs: list) -> None:
        chosen = set(map(id, jobs))
        kept = [job for job in self if id(job) not in chosen]
        self.clear()
        self.extend(kept)


class EdfQueue:
    """Earliest deadline (``deadline_at_s``) first; equal deadlines in arrival order."""

    __slots__ = ("_heap", "_order")

    def __init__(self):
        self._heap: list = []
        self._order = count()

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, job) -> None:
        heapq.heappush(self._heap, (job.deadline_at_s, next(self._order), job))

    def pop(self):
        return heapq.heappop(self._heap)[2]

    def jobs(self) -> list:
        return [entry[2] for entry in sorted(self._heap)]

    def remove(self, jobs: list) -> None:
        chosen = set(map(id, jobs))
        self._heap = [entry for entry in self._heap if id(entry[2]) not in chosen]
        heapq.heapify(self._heap)


register_discipline("fifo", FifoQueue)
register_discipline("edf", EdfQueue)
