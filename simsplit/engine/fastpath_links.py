"""The fast path's transfers (:mod:`simsplit.engine.fastpath`): rows grouped by device, each direction of every
device's dedicated link as arrays for the compiled loops (:class:`LinkArrays`), and the packet losses each
transfer draws.

Rows of many devices are grouped by device, each device's in its order (:func:`by_device`); a device's
rows form one run of equal owners (:func:`device_runs`), the layout the kernels take
(:func:`run_arrays`, :mod:`simsplit.engine.kernels`).
"""

from __future__ import annotations

import math

import numpy as np

from simsplit.engine import kernels
from simsplit.engine.transfers import counts_erasures


def by_device(device: np.ndarray) -> np.ndarray:
    """The stable order that groups rows by device (a radix sort where the indices fit 16 bits)."""
    if device.size and device.max() < 65536:
        device = device.astype(np.uint16)
    return np.argsort(device, kind="stable")


def device_runs(owner: np.ndarray) -> list[tuple[int, int, int]]:
    """(device, first, last) of each run of equal values in ``owner`` (rows grouped by device)."""
    if not owner.size:
        return []
    boundaries = np.flatnonzero(np.diff(owner)) + 1
    firsts = np.concatenate(([0], boundaries))
    lasts = np.concatenate((boundaries, [owner.size]))
    return list(zip(owner[firsts].tolist(), firsts.tolist(), lasts.tolist(), strict=True))


def run_arrays(owner: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, device of each run) of rows grouped by device, as the kernels take them."""
    runs = device_runs(owner)
    offsets = np.array([0] + [last for _, _, last in runs], dtype=np.int64)
    return offsets, np.array([d for d, _, _ in runs], dtype=np.int64)


class LinkArrays:
    """One direction of every device's dedicated link: per device, when it is free (``free`` s) and, for
    constant and piecewise-constant channels, what the compiled loops read of its channel (``kind``
    0 or 1); the link object itself for any other channel (``kind`` 2)."""

    def __init__(self, links: list):
        from simsplit.model.channel.constant import ConstantChannel
        from simsplit.model.channel.shifted import ShiftedChannel
        from simsplit.model.channel.steps import StepChannel
        self.links = links
        self.cellular = any(hasattr(link.channel, "handovers_between") for link in links)
        """Some link is cellular: transfers count handovers."""
        self.free = np.zeros(len(links))
        self.kind = np.zeros(len(links), dtype=np.int8)  # 0 constant, 1 steps, 2 other
        self.rate = np.ones(len(links))
        """Each constant channel's rate (bit/s)."""
        self.channel = np.zeros(len(links), dtype=np.int64)
        """Each piecewise-constant channel's index in :attr:`steps`."""
        self.shift = np.zeros(len(links))
        """Each piecewise-constant channel's shift (s) into its steps (:class:`ShiftedChannel`)."""
        index: dict[int, int] = {}
        steps: list[StepChannel] = []
        for d, link in enumerate(links):
            channel = link.channel
            inner, shift = (channel.inner, channel.offset_s) if type(channel) is ShiftedChannel else (channel, 0.0)
            if type(channel) is ConstantChannel:
                self.rate[d] = channel.rate_bps
            elif type(inner) is StepChannel:
                self.kind[d] = 1
                if id(inner) not in index:
                    index[id(inner)] = len(steps)
                    steps.append(inner)
                self.channel[d], self.shift[d] = index[id(inner)], shift
            else:
                self.kind[d] = 2
        self.steps = _step_channels(steps)

    @property
    def compiles(self) -> bool:
        """Whether every link's channel is constant or piecewise constant (kinds 0 and 1), which the compiled
        loops read."""
        return bool((self.kind < 2).all())

    def channels(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Every link's channel as :func:`~simsplit.engine.kernels.link_finish` reads it: (kind, rate, channel,
        shift), beside :attr:`steps`."""
        return self.kind.astype(np.int64), self.rate, self.channel, self.shift

    def send(self, owner: np.ndarray, ready: np.ndarray, bits: np.ndarray, extra: np.ndarray):
        """Transfers of devices ``owner`` (grouped by device, each device's in order): (start s, end s)."""
        kind = self.kind[owner]
        if owner.size and kind[0] < 2 and (kind == kind[0]).all():  # one compiled kind for all: no gathering
            return self._compiled(kind[0], owner, ready, bits, extra)
        start, end = np.empty(owner.size), np.empty(owner.size)
        for code in (0, 1):
            pick = np.flatnonzero(kind == code)
            if pick.size:
                start[pick], end[pick] = self._compiled(code, owner[pick], ready[pick], bits[pick], extra[pick])
        for j in np.flatnonzero(kind == 2):  # any other channel: its own finish_time, one transfer at a time
            start[j], end[j] = self.links[owner[j]].reserve(float(ready[j]), float(bits[j]), float(extra[j]))
        return start, end

    def _compiled(self, code: int, owner, ready, bits, extra):
        """Transfers on constant (``code`` 0) or piecewise-constant (1) channels: (start s, end s)."""
        offsets, run_device = run_arrays(owner)
        if code == 0:
            return kernels.constant_link(ready, bits, extra, offsets, run_device, self.free, self.rate)
        return kernels.step_link(ready, bits, extra, offsets, run_device, self.free, self.channel, self.shift,
                                 self.steps)


def _step_channels(channels: list) -> kernels.StepChannels:
    """The piecewise-constant ``channels`` one after the other (:class:`~simsplit.engine.kernels.StepChannels`)."""
    from simsplit.model.channel.steps import ROUNDING
    arrays = [c.arrays() for c in channels]
    times, rates, cumulative = (np.concatenate([np.asarray(a[k], dtype=float) for a in arrays]) if arrays
                                else np.zeros(0) for k in range(3))
    return kernels.StepChannels(bounds=np.concatenate(([0], np.cumsum([len(a[0]) for a in arrays]))).astype(np.int64),
                                times=times, rates=rates, cumulative=cumulative,
                                period_s=np.array([math.nan if c.period_s is None else c.period_s for c in channels]),
                                period_bits=np.array([a[3] for a in arrays]), rounding=ROUNDING)


def transfer_losses(owner: np.ndarray, bits: np.ndarray, losses: list, plans: list | None = None):
    """Each transfer's packet losses, drawn from its device's loss process in the order the link takes
    them: (bits sent, extra feedback delay s, lost, fraction erased or NaN). With ``plans`` (uploads), a
    payload sent once without retransmission whose plan has an erasure curve is delivered and its erased
    fraction kept (the curve sets its accuracy)."""
    sent, extra = bits.copy(), np.zeros(bits.size)
    lost, erased = np.zeros(bits.size, dtype=bool), np.full(bits.size, math.nan)
    if not any(losses):
        return sent, extra, lost, erased
    for d, first, last in device_runs(owner):
        loss = losses[d]
        if loss is None:
            continue
        if plans is not None and counts_erasures(loss, plans[d]):
            erased[first:last] = [loss.erased_fraction(float(b)) for b in bits[first:last]]
            continue
        sent[first:last], extra[first:last], lost[first:last] = loss.transmit_many(bits[first:last])
    return sent, extra, lost, erased
