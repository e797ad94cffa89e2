"""The fast path's radio tails as arrays (:class:`CompiledTails`): what
:class:`~simsplit.engine.tails.TailLedger` and :class:`~simsplit.model.energy.TailMeter` do transfer by
transfer, a window at a time. Each device's transfers are taken in order of start (ties by direction, then
request, as the ledger's keys break them) while they start before the instant up to which every transfer of the
device is known; each one's start closes the previous one's gap, which gets :meth:`TailMeter._tail_j
<simsplit.model.energy.TailMeter._tail_j>` of it (the same operations, so the same bits), and a device idle for a
whole tail closes its last one. A request's tail is the sum of its transfers' (at most an upload and a
download, so the order of the two additions cannot change the sum).
"""
# ruff: noqa: PLR0913, PLR0917

from __future__ import annotations

import math
from typing import Any

import numpy as np

from simsplit.core.compiling import inlined
from simsplit.engine.kernels import compiled


@inlined
def _tail_j(gap, first, last, durations, powers, whole_s, whole_j):
    """One gap's tail (J) on the stages ``first:last`` (durations s, powers W) of a whole tail ``whole_s`` (s)
    worth ``whole_j`` (J)."""
    if not gap > 0:
        return 0.0
    if gap >= whole_s:
        return whole_j
    energy, elapsed = 0.0, 0.0
    for k in range(first, last):
        if gap <= elapsed:
            break
        step = gap - elapsed
        if durations[k] < step:
            step = durations[k]
        energy += powers[k] * step
        elapsed += durations[k]
    return energy


@compiled
def resolve_tails(device, start, end, row, safe, finish, busy_until, previous, meter, durations, powers,
                  charged_rows, charged_j):
    """Take the transfers (sorted by device, then start, direction and request) that start before their device's
    ``safe`` instant (s), closing gaps; then close the last transfer of each device idle for a whole tail since
    its safe instant (``finish``: of every device). ``meter`` is each device's (first stage, last stage, whole
    tail s, whole tail J). Fill ``charged_rows``/``charged_j``; return (charges, which transfers wait)."""
    waiting = np.zeros(device.size, dtype=np.bool_)
    charges = 0
    i = 0
    while i < device.size:
        d = device[i]
        first, last, whole_s, whole_j = int(meter[d, 0]), int(meter[d, 1]), meter[d, 2], meter[d, 3]
        busy, before = busy_until[d], previous[d]
        j = i
        while j < device.size and device[j] == d:
            if not start[j] < safe[d]:
                waiting[j] = True
            else:
                if before >= 0:
                    charged_rows[charges] = before
                    charged_j[charges] = _tail_j(start[j] - busy, first, last, durations, powers, whole_s, whole_j)
                    charges += 1
                busy = end[j] if end[j] > busy else busy
                before = row[j]
            j += 1
        busy_until[d], previous[d] = busy, before
        i = j
    for d in range(previous.size):
        if previous[d] >= 0 and (finish or safe[d] - busy_until[d] >= meter[d, 2]):
            charged_rows[charges] = previous[d]
            charged_j[charges] = meter[d, 3]
            charges += 1
            previous[d] = -1
    return charges, waiting


class CompiledTails:
    """The tails of a fast run's metered devices (those whose radio has a tail), with the interface of
    the ledger the fast path kept before: :meth:`note_window` adds a window's transfers,
    :meth:`resolve_window` charges the tails now final into the stages' buffer."""

    stages: Any
    """The :class:`~simsplit.engine.fastpath_radio.RadioStages` whose buffer is charged."""

    def __init__(self, groups, device_group: np.ndarray) -> None:
        from simsplit.model.energy import TailMeter
        durations: list[float] = []
        powers: list[float] = []
        per_group = []
        for group in groups:
            radio = group.network.radio
            stages_s, stages_w = tuple(radio.tail_stages_s), tuple(radio.tail_stages_w)
            meter = TailMeter(stages_s, stages_w) if stages_s else None
            per_group.append((len(durations), len(durations) + len(stages_s),
                              math.inf if meter is None else meter._whole_s, 0.0 if meter is None else meter._whole_j))
            durations += stages_s
            powers += stages_w
        self.meter = np.array([per_group[g] for g in device_group.tolist()], dtype=float).reshape(-1, 4)
        self.durations, self.powers = np.array(durations, dtype=float), np.array(powers, dtype=float)
        devices = device_group.size
        self.busy_until = np.full(devices, -math.inf)
        self.previous = np.full(devices, -1, dtype=np.int64)
        self.pending: tuple[np.ndarray, ...] = (np.empty(0, dtype=np.int64), np.empty(0), np.empty(0),
                                                np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64))
        """Transfers not yet taken: device, start s, end s, direction, request row."""

    def note_window(self, own_rows: np.ndarray, gone_rows: np.ndarray, down_rows: np.ndarray) -> None:
        """Note the window's transfers: uploads on their own links, shared uploads that left their cell,
        downloads; not one that never starts (the ledger never takes it, so no request waits on its tail)."""
        stages = self.stages
        parts = [self.pending]
        for direction, rows, start_name, length_name in ((0, own_rows, "uplink_start_at_s", "uplink_s"),
                                                         (0, gone_rows, "uplink_start_at_s", "uplink_s"),
                                                         (1, down_rows, "downlink_start_at_s", "downlink_s")):
            rows = rows[stages.metered[stages._get("device", rows)]]
            rows = rows[stages._get(start_name, rows) < np.inf]  # queued behind an endless one: never starts
            if not rows.size:
                continue
            start = stages._get(start_name, rows)
            stages._set("_tails_open", rows, stages._get("_tails_open", rows) + 1)
            parts.append((stages._get("device", rows), start, start + stages._get(length_name, rows),
                          np.full(rows.size, direction, dtype=np.int64), rows))
        self.pending = tuple(np.concatenate(values) for values in zip(*parts, strict=True))

    def resolve_window(self, stop: float) -> None:
        """Charge every tail final before ``stop`` (s) (a shared upload still in its cell may start from its
        send instant on); at the end, every tail."""
        stages = self.stages
        finish = not stop < stages.end_s
        safe = np.full(self.previous.size, math.inf if finish else stop)
        waiting = stages.cell_waiting
        if not finish and len(waiting):
            np.minimum.at(safe, stages.buffer["device"][waiting.rows - stages.base], waiting.ready)
        device, start, _, direction, rows = self.pending
        order = np.lexsort((rows, direction, start, device))
        device, start, end, direction, rows = (values[order] for values in self.pending)
        room = rows.size + self.previous.size
        charged_rows, charged_j = np.empty(room, dtype=np.int64), np.empty(room)
        charges, waiting = resolve_tails(device, start, end, rows, safe, finish, self.busy_until, self.previous,
                                         self.meter, self.durations, self.powers, charged_rows, charged_j)
        self.pending = (device[waiting], start[waiting], end[waiting], direction[waiting], rows[waiting])
        at = charged_rows[:charges] - stages.base
        np.add.at(stages.buffer["tail_j"], at, charged_j[:charges])
        np.subtract.at(stages.buffer["_tails_open"], at, 1)
