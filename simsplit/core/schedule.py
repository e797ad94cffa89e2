"""Scheduling callbacks on a SimPy environment without building a Timeout: the one module that knows SimPy's
internals.

What the simulator relies on, beyond SimPy's public API (SimPy 4):

- ``env._queue``, the event heap of ``(time s, priority, event number, event)`` entries that
  ``Environment.step`` pops, and ``env._eid``, the counter that numbers scheduled events (ties in time and
  priority run in the order of their numbers). :func:`event_queue` hands both out; a class that schedules
  per event binds them once per run and pushes ``(t, NORMAL, next(numbers), event)`` itself, as
  ``Environment.schedule`` would, with no call in between.
- ``env._now``, the clock, read directly where the ``env.now`` property would cost a call per event.
- what ``Environment.step`` reads from an event: ``callbacks`` (a list of callables, each called with the
  event; SimPy sets it to None once they ran) and ``_ok`` (True: nothing failed). :class:`Call` carries
  these and the ``_value`` its callback reads; the engine's requests
  (:class:`~simsplit.engine.records.Request`) carry them too, each being the event of its own next step.

:func:`call_after` puts a :class:`Call` into the heap with the time, priority and event number that
``env.timeout(delay)`` would give it, so the order of events — and every result — is the same, at less
cost per event; :class:`DirectScheduling` does the same for a class that schedules per event.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from heapq import heappush
from typing import Any

import simpy
from simpy.events import NORMAL

EventHeap = list[Any]
"""SimPy's event heap: ``(time s, priority, event number, event)`` entries, the event anything that carries
``callbacks``, ``_value`` and ``_ok`` (SimPy's own annotation admits only its Event class)."""


class Call:
    """A scheduled callback: ``callback(call)`` runs at its time with ``call._value`` set."""

    __slots__ = ("callbacks", "_value", "_ok")

    def __init__(self, value: Any, callback: Callable[[Any], None]):
        self.callbacks = [callback]
        self._value = value
        self._ok = True


def event_queue(env: simpy.Environment) -> tuple[EventHeap, Iterator[int]]:
    """``env``'s event heap and its event-number counter, to push events into directly: an entry
    ``(at_s, NORMAL, next(numbers), event)`` runs at ``at_s`` (s, not before ``env.now``) exactly as if
    ``env.schedule`` had put it there. SimPy keeps both objects for the environment's life."""
    return env._queue, env._eid


def call_after(env: simpy.Environment, delay_s: float, value: Any, callback: Callable[[Any], None]) -> None:
    """Run ``callback(call)`` after ``delay_s`` (s, >= 0), as ``env.timeout(delay_s, value)`` would."""
    queue: EventHeap = env._queue
    heappush(queue, (env._now + delay_s, NORMAL, next(env._eid), Call(value, callback)))


class DirectScheduling:
    """Scheduling straight into SimPy's event heap, for a class that schedules per event: it sets ``env``
    and, once per run, ``_event_heap, _event_numbers = event_queue(env)``. The times are computed as
    :func:`call_after` is given them (``now + max(at_s - now, 0)``), so the events run when and in the order
    ``env.timeout`` would have run them."""

    env: simpy.Environment
    _event_heap: EventHeap
    _event_numbers: Iterator[int]

    def _schedule(self, at_s: float, value: Any, callback: Callable[[Any], None]) -> None:
        """Call ``callback(call)`` at ``at_s`` (s) with ``call._value = value``; never if ``at_s`` is infinite."""
        if at_s == math.inf:  # it never happens (e.g. a link that never delivers: the request stays in flight)
            return
        now = self.env._now
        delay = at_s - now  # may be an ulp below 0 when at_s was computed, not taken from the clock
        delay = delay if delay > 0.0 else 0.0  # noqa: FURB136 (as call_after is given it)
        heappush(self._event_heap, (now + delay, NORMAL, next(self._event_numbers), Call(value, callback)))

    def _step(self, at_s: float, event: Any, callback: Callable[[Any], None]) -> None:
        """Call ``callback(event)`` at ``at_s`` (s), as :meth:`_schedule` would, ``event`` itself (with
        ``callbacks`` and ``_ok``, such as a request with one step pending at a time) being the event; never
        if ``at_s`` is infinite."""
        if at_s == math.inf:
            return
        now = self.env._now
        delay = at_s - now
        delay = delay if delay > 0.0 else 0.0  # noqa: FURB136 (as call_after is given it)
        event.callbacks = [callback]
        heappush(self._event_heap, (now + delay, NORMAL, next(self._event_numbers), event))
