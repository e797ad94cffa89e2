"""A request's payload up and its result down: losses, the channel's effect on accuracy, and the link.

A dedicated link fixes a transfer's start and end when it is handed over (its channel is a known function
of time and it serves in order); a cell shared by several devices starts the transfer at its ready time
and reports its end, with SimPy events at every step.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TypeGuard

import numpy as np

from simsplit.engine.records import Request
from simsplit.model.channel.loss import PacketLoss


class Transfer:
    """One payload on its way over a link: up (the request's payload) or down (its result)."""

    __slots__ = ("request", "up", "ready_at_s", "bits", "extra_s", "lost", "resent_bits")

    def __init__(self, request: Request, up: bool, ready_at_s: float, bits: float, extra_s: float, lost: bool):
        self.request = request
        self.up = up
        self.ready_at_s = ready_at_s
        """When it may start sending (s): after its compute or service, and any radio promotion."""
        self.bits = bits
        """Bits sent, retransmissions included."""
        self.extra_s = extra_s
        """Retransmission feedback delay after the last bit (s)."""
        self.lost = lost
        self.resent_bits = 0.0
        """Bits a shared cell made it send again after a handover cut it (sent, and lost)."""


def transmission(loss: PacketLoss | None, size_bits: float) -> tuple[float, float, bool]:
    """(bits sent, extra feedback delay s, lost) of one payload over a link with ``loss``."""
    return (size_bits, 0.0, False) if loss is None else loss.transmit(size_bits)


def counts_erasures(loss: PacketLoss | None, plan) -> TypeGuard[PacketLoss]:
    """Whether an upload is sent once and delivered whatever it loses, its erased fraction setting its
    accuracy (no retransmission, and the plan's payload row has an erasure curve)."""
    return loss is not None and not loss.retransmit and plan.accuracy_vs_erasure is not None


def snr_accuracy(plan, channel, start_s: float) -> float:
    """Accuracy on a fading uplink by the SNR at ``start_s`` where the plan has an SNR curve, else NaN."""
    if plan.accuracy_vs_snr is not None and hasattr(channel, "snr_db_at"):
        return float(np.interp(channel.snr_db_at(start_s), *plan.accuracy_vs_snr))
    return math.nan


def erasure_accuracy(plan, erased: float, accuracy: float) -> float:
    """The accuracy of a payload that lost the fraction ``erased`` of its packets: its erasure curve's, or
    ``accuracy`` (from the SNR; NaN: none) if lower."""
    return min(float(np.interp(erased, *plan.accuracy_vs_erasure)), 1.0 if math.isnan(accuracy) else accuracy)


def upload(request: Request, loss: PacketLoss | None, channel, start_s: float) -> tuple[float, float, bool]:
    """Send ``request``'s payload up: (bits sent, extra delay s, lost). Where its payload row gives an
    accuracy curve, the channel sets the request's accuracy: without retransmission, by the fraction of its
    packets erased (the request is delivered, not lost); on a fading uplink, by the SNR at ``start_s``.
    A device that :attr:`~simsplit.engine.wiring.Device.sends_as_planned` sends ``(payload_bits, 0.0, False)``
    without this call."""
    plan, bits = request.plan, request.payload_bits
    if plan.accuracy_vs_snr is not None and hasattr(channel, "snr_db_at"):
        request.accuracy = snr_accuracy(plan, channel, start_s)
    if counts_erasures(loss, plan):
        request.accuracy = erasure_accuracy(plan, loss.erased_fraction(bits), request.accuracy)
        return bits, 0.0, False
    return transmission(loss, bits)


class Transfers:
    """Sends transfers over the devices' links; calls ``uplink_done`` or ``downlink_done(request, ready_at,
    start, end, lost)`` (s) when one is over. ``schedule(at_s, value, callback)`` is the engine's."""

    def __init__(self, env, devices, schedule: Callable, uplink_done: Callable, downlink_done: Callable,
                 open_shared):
        self._env, self._devices, self._schedule = env, devices, schedule
        self._uplink_done, self._downlink_done = uplink_done, downlink_done
        self._open_shared = open_shared
        """Shared transfers not yet done (:class:`~simsplit.engine.tails.OpenShared`), for the radio tails."""

    def upload_ready(self, request: Request) -> None:
        """A payload for a shared uplink is ready (``request`` is the event): its upload (and loss) is
        decided when it starts."""
        device = self._devices[request.device]
        now = self._env._now
        send_at = now if device.always_connected else device.radio.wake(now)
        request.promotion_s = send_at - now
        loss = device.uplink_loss
        if device.sends_as_planned:
            transfer = Transfer(request, True, send_at, request.payload_bits, 0.0, False)
        elif loss is not None and request.plan.accuracy_vs_snr is None and not counts_erasures(loss, request.plan):
            transfer = Transfer(request, True, send_at, *loss.transmit(request.payload_bits))
        else:
            transfer = Transfer(request, True, send_at, *upload(request, loss, device.uplink.channel, send_at))
        self._send_shared(device, device.uplink, transfer, now)

    def send(self, device, transfer: Transfer) -> None:
        """Send ``transfer`` over the device's uplink (``up``) or downlink."""
        link = device.uplink if transfer.up else device.downlink
        if link.shared:
            self._send_shared(device, link, transfer, self._env._now)
            return
        self.dedicated(device, transfer.request, transfer.up, transfer.ready_at_s, transfer.bits,
                       transfer.extra_s, transfer.lost)

    def _send_shared(self, device, link, transfer: Transfer, now: float) -> None:
        """Send ``transfer`` over the shared ``link`` of ``device``: now, or when its radio is awake."""
        device.radio.begin()
        self._open_shared.open(transfer, device.index, transfer.ready_at_s)
        if transfer.ready_at_s == now:
            _note_bits(transfer)
            link.send(transfer.bits, transfer, self._shared_sent)
        else:
            self._schedule(transfer.ready_at_s, transfer, self._on_ready)

    def dedicated(self, device, request: Request, up: bool, ready_at_s: float, bits: float, extra_s: float,
                  lost: bool) -> None:
        """A transfer over the device's dedicated link (up, or down): its start and end are known now."""
        if up:
            request.bits_up = bits
        else:
            request.bits_down = bits
        start, end = (device.uplink if up else device.downlink).reserve(ready_at_s, bits, extra_s)
        device.radio.note(end)
        (self._uplink_done if up else self._downlink_done)(request, ready_at_s, start, end, lost)

    def _on_ready(self, event) -> None:
        transfer = event._value
        device = self._devices[transfer.request.device]
        _note_bits(transfer)
        (device.uplink if transfer.up else device.downlink).send(transfer.bits, transfer, self._shared_sent)

    def _shared_sent(self, transfer: Transfer, start: float, end: float) -> None:
        end += transfer.extra_s  # retransmission feedback after the last bit
        request = transfer.request
        if transfer.resent_bits:
            if transfer.up:
                request.bits_up += transfer.resent_bits
            else:
                request.bits_down += transfer.resent_bits
        self._open_shared.close(transfer)
        self._devices[request.device].radio.finish(end)
        (self._uplink_done if transfer.up else self._downlink_done)(request, transfer.ready_at_s, start, end,
                                                                    transfer.lost)


def _note_bits(transfer: Transfer) -> None:
    """Record the bits a transfer sends, as it starts."""
    if transfer.up:
        transfer.request.bits_up = transfer.bits
    else:
        transfer.request.bits_down = transfer.bits
