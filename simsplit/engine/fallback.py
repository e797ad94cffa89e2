"""The late-upload fallback: a device gives up an upload that has made no progress for ``stall_s`` and finishes
the request on its own processor (the whole network, from the input it kept).

On a dedicated link the channel is a known function of time, so when an upload is handed to the link the
instant its stall would be noticed is known (:func:`~simsplit.model.channel.stalls.first_stall`): the link
is held until then and freed, the bits sent so far are charged (radio energy and tail as for any upload), and
an event at that instant queues the local run behind whatever the processor holds by then. An upload queued
straight behind one given up finds the link's last progress ``stall_s`` back, so it is given up at once: the
device has already seen the link stall. The request's ``fallback_wait_s`` is its wait for the processor and
``fallback_s`` the local run; its accuracy is the local model's.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import simpy

from simsplit.core.schedule import DirectScheduling
from simsplit.engine.records import Request
from simsplit.engine.setup import Plan
from simsplit.engine.tails import TailLedger
from simsplit.engine.transfers import upload
from simsplit.model.channel.stalls import first_stall


class StallWatch:
    """One device's fallback: how long a stall it tolerates, its local plan, and its link's last give-up."""

    __slots__ = ("stall_s", "local_plan", "given_up_at_s", "last_progress_s")

    def __init__(self, stall_s: float, local_plan: Plan):
        self.stall_s = stall_s
        self.local_plan = local_plan
        self.given_up_at_s = -math.inf
        """When the link last had an upload given up (s)."""
        self.last_progress_s = -math.inf
        """The link's last progress before that instant, as the device may assume it (s)."""


class LateUploads(DirectScheduling):
    """The engine's handlers for uploads with a fallback (a part of
    :class:`~simsplit.engine.request_steps.RequestSteps`, which sets the attributes below)."""

    env: simpy.Environment
    devices: list
    tails: TailLedger
    _uplink_done: Callable[[Request, float, float, float, bool], None]
    _on_result: Callable[[Request], None]

    def _send_or_give_up(self, device, request: Request, send_at: float) -> None:
        """Hand ``request``'s upload, ready at ``send_at``, to the device's dedicated link; give it up where it
        would stall."""
        watch, link = device.fallback, device.uplink
        bits, extra_s, lost = upload(request, device.uplink_loss, link.channel, max(send_at, link.free_at_s))
        start, end = link.reserve(send_at, bits, extra_s)
        clock = watch.last_progress_s if start == watch.given_up_at_s else start
        stall_at = first_stall(link.channel, clock, start, end, watch.stall_s)
        if stall_at == math.inf:
            request.bits_up = bits
            device.radio.note(end)
            self._uplink_done(request, send_at, start, end, lost)
            return
        link.cut(stall_at)
        watch.given_up_at_s, watch.last_progress_s = stall_at, stall_at - watch.stall_s
        sent = min(link.channel.bits_between(start, stall_at), bits) if stall_at > start else 0.0
        request.bits_up = sent
        request.uplink_wait_s = start - send_at
        request.uplink_start_at_s = start
        request.uplink_s = stall_at - start
        device.radio.note(stall_at)
        if self.tails.metered and stall_at > start:
            self.tails.note(request.device, start, request.uplink_s, (0, request.sequence), request.sequence)
        if device.uplink_ledger is not None:
            device.uplink_ledger.handed(request.sequence, send_at, bits, 0.0, start, stall_at, sent_bits=sent)
        self._step(stall_at, request, self._on_given_up)

    def _on_given_up(self, request: Request) -> None:
        """The device gave the upload up: run the whole network on its processor, after what it holds."""
        device = self.devices[request.device]
        now = self.env._now
        local = device.fallback.local_plan
        begin = now if now > device.compute_free_at_s else device.compute_free_at_s
        device.compute_free_at_s = begin + local.head_s
        request.fallback_wait_s = begin - now
        request.fallback_s = local.head_s
        request.accuracy = local.accuracy
        request.propagation_s = 0.0
        request.finish_at_s = device.compute_free_at_s
        self._step(request.finish_at_s, request, self._on_result)
