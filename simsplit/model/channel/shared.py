"""Links shared by the devices of one cell: first come first served, or processor sharing.

Unlike a dedicated link, a shared link's transfers depend on each other, so
they are simulated with events: ``send`` is called when a transfer is ready
(at ``env.now``) and ``on_sent(job, start_s, end_s)`` when its last bit has
left. Under processor sharing the n active transfers each get r(t)/n; at
every arrival and departure the remaining bits are brought up to date with
the exact integral of r(t) and the next departure is recomputed.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from heapq import heappush
from typing import Any

import simpy
from simpy.events import NORMAL

from simsplit.core.schedule import Call, call_after, event_queue
from simsplit.model.channel.base import Channel

Sent = Callable[[Any, float, float], None]


class _SharedLink:
    """What every shared link holds: the clock, the cell's capacity and the one-way delay (s)."""

    shared = True

    def __init__(self, env: simpy.Environment, channel: Channel, delay_s: float = 0.0):
        self.env = env
        self.channel = channel
        self.delay_s = float(delay_s)


class SharedFifoLink(_SharedLink):
    """One transfer at a time over ``channel``, in the order transfers become ready."""

    def __init__(self, env: simpy.Environment, channel: Channel, delay_s: float = 0.0):
        super().__init__(env, channel, delay_s)
        self._queue: deque = deque()
        self._busy = False

    def send(self, size_bits: float, job: Any, on_sent: Sent) -> None:
        """Queue a transfer of ``size_bits`` ready now."""
        if self._busy:
            self._queue.append((size_bits, job, on_sent))
        else:
            self._start(size_bits, job, on_sent)

    def _start(self, size_bits: float, job: Any, on_sent: Sent) -> None:
        now = self.env.now
        end = self.channel.finish_time(now, size_bits)
        self._busy = True
        if end == math.inf:
            return  # the link never delivers: this and every later transfer stay in flight
        call_after(self.env, end - now, (job, now, end, on_sent), self._finish)

    def _finish(self, event) -> None:
        job, start, end, on_sent = event._value
        self._busy = False
        if self._queue:
            self._start(*self._queue.popleft())
        on_sent(job, start, end)


class _Flow:
    __slots__ = ("remaining_bits", "size_bits", "job", "start_s", "on_sent")

    def __init__(self, size_bits, job, start_s, on_sent):
        self.remaining_bits = size_bits
        self.size_bits = size_bits
        self.job = job
        self.start_s = start_s
        self.on_sent = on_sent


class ProcessorSharingLink(_SharedLink):
    """All ready transfers send at once, each at an equal share r(t)/n of the capacity."""

    def __init__(self, env: simpy.Environment, channel: Channel, delay_s: float = 0.0):
        super().__init__(env, channel, delay_s)
        self._event_heap, self._event_numbers = event_queue(env)
        self._flows: list[_Flow] = []
        self._updated_at_s = 0.0
        self._version = 0

    @property
    def active(self) -> int:
        """Transfers in progress."""
        return len(self._flows)

    def send(self, size_bits: float, job: Any, on_sent: Sent) -> None:
        now = self.env._now
        if size_bits <= 0:
            on_sent(job, now, now)
            return
        if self._flows:
            self._advance(now)
            self._flows.append(_Flow(size_bits, job, now, on_sent))
            self._reschedule(now)
            return
        # the link was idle: this transfer alone, at the whole capacity (as _reschedule computes it for one)
        self._updated_at_s = now
        self._flows.append(_Flow(size_bits, job, now, on_sent))
        self._version += 1
        end = self.channel.finish_time(now, size_bits)
        if end != math.inf:  # as call_after(env, end - now, ...) schedules it
            heappush(self._event_heap,
                     (now + (end - now), NORMAL, next(self._event_numbers), Call(self._version, self._departure)))

    def _advance(self, now: float) -> None:
        if self._flows and now > self._updated_at_s:
            share = self.channel.bits_between(self._updated_at_s, now) / len(self._flows)
            for flow in self._flows:
                flow.remaining_bits -= share
        self._updated_at_s = now

    def _reschedule(self, now: float) -> None:
        self._version += 1
        if not self._flows:
            return
        least = min(flow.remaining_bits for flow in self._flows)
        end = self.channel.finish_time(now, max(least, 0.0) * len(self._flows))
        if end == math.inf:
            return
        call_after(self.env, end - now, self._version, self._departure)

    def _departure(self, event) -> None:
        if event._value != self._version:
            return  # superseded by a later arrival or departure
        now = self.env._now
        if len(self._flows) == 1:  # the one transfer in progress is done: nothing left to bring up to date
            flow = self._flows.pop()
            self._updated_at_s = now
            self._version += 1
            flow.on_sent(flow.job, flow.start_s, now)
            return
        self._advance(now)
        least = min(flow.remaining_bits for flow in self._flows)
        done = [f for f in self._flows if f.remaining_bits <= least + 1e-9 * f.size_bits]
        self._flows = [f for f in self._flows if f not in done]
        self._reschedule(now)
        for flow in done:
            flow.on_sent(flow.job, flow.start_s, now)
