"""The compiled radio round of the fast path (:meth:`simsplit.engine.fastpath_radio.RadioStages._radio_round`)
for devices whose own links are constant or piecewise constant and whose downlink loses nothing: each device's
radio events in time order with the arithmetic of :class:`~simsplit.model.radio.RadioState` (``wake``,
``note``, ``begin``, ``finish``) and :meth:`~simsplit.model.channel.link.Link.reserve`, so promotions, starts
and ends equal the Python round's (and the DES's) bit for bit.

The state it reads and leaves is each device's radio (promotion s, tail s, active until s, transfers in
progress; promotion 0: always connected) and its two links (free at s), gathered from and put back into the
device objects by :class:`RadioArrays`.
"""
# ruff: noqa: PLR0913, PLR0917

from __future__ import annotations

import math

import numpy as np

from simsplit.core.compiling import inlined
from simsplit.engine.kernels import compiled, link_finish

UPLOAD, DEPARTURE, DOWNLOAD = 0, 1, 2
"""A radio event's kind (as :mod:`simsplit.engine.fastpath_radio` numbers them)."""


@inlined
def _reserve(d, free, link, steps, ready, bits, extra):
    """``Link.reserve`` of device ``d``'s link (kinds 0 constant, 1 steps, from ``link`` = (kind, rate, channel,
    shift)) with no spare bits (these channels leave none): (start s, end s)."""
    start = ready if ready > free[d] else free[d]
    end = start if bits <= 0.0 else link_finish(d, link, steps, start, bits)
    if extra:
        end += extra
    free[d] = end
    return start, end


@inlined
def _wake(radio, d, ready):
    promotion, tail, active, progress = radio
    if promotion[d] and not progress[d] and ready >= active[d] + tail[d]:
        return ready + promotion[d]
    return ready


@inlined
def _note(radio, d, end):
    active = radio[2]
    if radio[0][d] and end > active[d]:
        active[d] = end


@compiled
def radio_round(order, device, at, kind, index, stop, moment, shared, head_end, bits, extra, gone_end, down_at,
                bits_down, first_round, radio, up, up_free, down, down_free, steps_up, steps_down, plan, down_plan,
                down_end):
    """Every radio event ``order`` (events: ``device``, ``at`` s, ``kind``, ``index`` into its kind's arrays)
    before ``stop`` (s): fill ``plan`` (per upload: promotion, send at, start, end; s) and ``down_plan`` (per
    download: promotion, send at, bits sent, feedback, lost, start) and ``down_end`` (s)."""
    progress = radio[3]
    for k in order:
        if not at[k] < stop:
            continue
        d, j = device[k], index[k]
        connected = radio[0][d] == 0.0
        if kind[k] == UPLOAD:
            ready = moment[j] if shared[j] else head_end[j]
            send_at = ready if connected else _wake(radio, d, ready)
            plan[j, 0], plan[j, 1] = send_at - ready, send_at
            if shared[j]:
                if not connected:
                    progress[d] += 1
                    if first_round:  # no departures known yet: as if it left its cell as it is sent
                        progress[d] -= 1
                        _note(radio, d, send_at)
                continue
            start, end = _reserve(d, up_free, up, steps_up, send_at, bits[j], extra[j])
            _note(radio, d, end)
            plan[j, 2], plan[j, 3] = start, end
        elif kind[k] == DEPARTURE:
            if not connected:
                progress[d] -= 1
                _note(radio, d, gone_end[j])
        else:
            ready = down_at[j]
            send_at = ready if connected else _wake(radio, d, ready)
            start, end = _reserve(d, down_free, down, steps_down, send_at, bits_down[d], 0.0)
            _note(radio, d, end)
            down_plan[j, 0], down_plan[j, 1], down_plan[j, 2] = send_at - ready, send_at, bits_down[d]
            down_plan[j, 3], down_plan[j, 4], down_plan[j, 5] = 0.0, 0.0, start
            down_end[j] = end


class RadioArrays:
    """What :func:`radio_round` reads and changes of every device: its radio (promotion s, tail s, active until
    s, transfers in progress) and its own links (what their channels are, when each is free, s), kept here in
    place of the device objects' state; built only where :func:`compiles`."""

    def __init__(self, devices: list, uplinks, downlinks) -> None:
        self.up, self.down = uplinks.channels(), downlinks.channels()
        self.steps_up, self.steps_down = uplinks.steps, downlinks.steps
        state = [(0.0, 0.0, -math.inf, 0) if d.always_connected else
                 (d.radio.promotion_s, d.radio.tail_s, d.radio._active_until_s, d.radio._in_progress) for d in devices]
        promotion, tail, active, progress = zip(*state, strict=True) if state else ((), (), (), ())
        self.radio = (np.array(promotion, dtype=float), np.array(tail, dtype=float), np.array(active, dtype=float),
                      np.array(progress, dtype=np.int64))
        self.up_free = np.array([getattr(d.uplink, "_free_at_s", 0.0) for d in devices])
        self.down_free = np.array([d.downlink._free_at_s for d in devices])

    def save(self) -> tuple[np.ndarray, ...]:
        """A copy of what a round changes."""
        return self.radio[2].copy(), self.radio[3].copy(), self.up_free.copy(), self.down_free.copy()

    def restore(self, saved: tuple[np.ndarray, ...]) -> None:
        for values, kept in zip((self.radio[2], self.radio[3], self.up_free, self.down_free), saved, strict=True):
            values[:] = kept


def compiles(devices: list, uplinks, downlinks) -> bool:
    """Whether :func:`radio_round` can stand in for the Python round: every device's own uplink (a shared one is
    the cell's) and downlink constant or piecewise constant, dedicated, and no loss on the downlink."""
    for d, unit in enumerate(devices):
        if unit.downlink_loss is not None or downlinks.kind[d] > 1 or not hasattr(unit.downlink, "_spare_bits"):
            return False
        if not unit.uplink.shared and (uplinks.kind[d] > 1 or not hasattr(unit.uplink, "_spare_bits")):
            return False
    return True
