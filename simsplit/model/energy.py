"""Device energy: compute power x time, and the linear radio model of Huang et al. (MobiSys 2012).

Radio power while sending at throughput R is ``P = alpha * R + beta``
(BottleNet, Table 3). Over a transfer of ``bits`` lasting ``seconds`` the
mean throughput is ``bits / seconds``, so the energy is
``(alpha * bits / seconds + beta) * seconds = alpha * bits + beta * seconds``,
which stays exact when the rate changes during the transfer. All functions
accept numpy arrays.
"""

from __future__ import annotations

import heapq
import math

import numpy as np


def transfer_j(alpha_w_per_bps, beta_w, bits, seconds):
    """Energy (J) to send or receive ``bits`` in ``seconds`` of transfer: alpha * bits + beta * seconds."""
    return alpha_w_per_bps * bits + beta_w * seconds


def compute_j(power_w, seconds):
    """Energy (J) of computing for ``seconds`` at ``power_w``."""
    return power_w * seconds


def tail_energy_j(gap_s, stages_s, stages_w):
    """Energy (J) the radio spends in its tail stages during an idle gap of ``gap_s`` (s) after a transfer.

    Stage k lasts ``stages_s[k]`` at ``stages_w[k]``; past the last stage the radio is idle (0 W here).
    """
    gap_s = np.asarray(gap_s, dtype=float)
    energy = np.zeros_like(gap_s)
    elapsed = 0.0
    for duration, power in zip(stages_s, stages_w, strict=True):
        energy += power * np.clip(gap_s - elapsed, 0.0, duration)
        elapsed += duration
    return energy


def radio_tails(device, starts, ends, stages_s, stages_w) -> np.ndarray:
    """Tail energy (J) charged to each transfer.

    ``device``, ``starts`` and ``ends`` (s) describe transfers, uplink and downlink together. Per device,
    overlapping transfers merge into busy periods; the tail after a busy period (until the next period
    starts, or the whole tail after the device's last) is charged to the last transfer to start in it.
    """
    device, starts, ends = np.asarray(device), np.asarray(starts, dtype=float), np.asarray(ends, dtype=float)
    tail = np.zeros(starts.size)
    if starts.size == 0 or not stages_s:
        return tail
    order = np.lexsort((starts, device))
    d, s, e = device[order], starts[order], ends[order]
    import pandas as pd
    busy_until = pd.Series(e).groupby(d).cummax().to_numpy()
    last_of_device = np.r_[d[1:] != d[:-1], True]
    gap = np.where(last_of_device, np.inf, np.r_[s[1:], np.inf] - busy_until)
    whole_tail = float(sum(stages_s))
    tail[order] = np.where(gap > 0, tail_energy_j(np.minimum(gap, whole_tail), stages_s, stages_w), 0.0)
    return tail


class TailMeter:
    """The online twin of :func:`radio_tails` for one radio model: transfers are added as they become
    known, and each transfer's tail is given out as soon as it is final, so that finished requests need
    not wait for the end of the run.

    A transfer's tail depends on when the next transfer of its device starts. ``resolve(device, safe_s)``
    may be called with any ``safe_s`` before which every transfer of the device that will ever start is
    already known; ``finish()`` gives out the rest. Ties in start time break by ``key`` (as the stable sort
    of :func:`radio_tails` breaks them by position), so the tails are those of :func:`radio_tails`, bit for
    bit.
    """

    def __init__(self, stages_s, stages_w):
        self._stages_s, self._stages_w = tuple(stages_s), tuple(stages_w)
        self._whole_s = float(sum(self._stages_s))
        self._stages = tuple(zip(self._stages_s, self._stages_w, strict=True))
        self._whole_j = self._stages_j(self._whole_s)
        """The tail of a gap at least the whole tail long (J)."""
        self._pending: dict[int, list] = {}
        """Per device: a heap of (start, key, end, owner) not yet processed."""
        self._busy_until: dict[int, float] = {}
        self._previous: dict[int, object] = {}
        """Per device: the owner of the last processed transfer, whose gap to the next start is not yet known
        (None: no such transfer)."""

    def add(self, device: int, start_s: float, end_s: float, key: tuple, owner) -> None:
        """A transfer of ``device`` from ``start_s`` to ``end_s`` (s), charged to ``owner``."""
        heapq.heappush(self._pending.setdefault(device, []), (start_s, key, end_s, owner))

    def _tail_j(self, gap_s: float) -> float:
        """:func:`tail_energy_j` of one gap, in plain floats (the same operations, so the same bits; the
        stages after the gap add exact zeros, so they are skipped)."""
        if not gap_s > 0:
            return 0.0
        if gap_s >= self._whole_s:
            return self._whole_j
        return self._stages_j(gap_s)

    def _stages_j(self, gap_s: float) -> float:
        """The stages' energy (J) over a gap of ``gap_s`` > 0 (s) up to the whole tail, stage by stage."""
        energy, elapsed = 0.0, 0.0
        for duration, power in self._stages:
            if gap_s <= elapsed:
                break
            energy += power * min(gap_s - elapsed, duration)
            elapsed += duration
        return energy

    def queue(self, device: int) -> list:
        """The heap of ``device``'s transfers not yet processed, for :func:`heapq.heappush` of
        ``(start_s, key, end_s, owner)`` as :meth:`add` does."""
        return self._pending.setdefault(device, [])

    def resolve(self, device: int, safe_s: float) -> list[tuple]:
        """(owner, tail J) of the transfers of ``device`` whose tail is now final."""
        out = []
        heap = self._pending.get(device)
        busy_until = self._busy_until.get(device, -math.inf)
        previous = self._previous.get(device)
        while heap and heap[0][0] < safe_s:
            start, _, end, owner = heapq.heappop(heap)
            if previous is not None:
                out.append((previous, self._tail_j(start - busy_until)))
            busy_until = end if end > busy_until else busy_until
            previous = owner
        if previous is not None and safe_s - busy_until >= self._whole_s:
            out.append((previous, self._tail_j(math.inf)))  # no transfer can start within the whole tail
            previous = None
        self._busy_until[device] = busy_until
        self._previous[device] = previous
        return out

    def devices(self) -> list[int]:
        """Devices with a transfer whose tail is not yet final."""
        return [d for d in set(self._pending) | set(self._previous)
                if self._pending.get(d) or self._previous.get(d) is not None]

    def finish(self) -> list[tuple]:
        """(owner, tail J) of every remaining transfer: nothing more will start, so each device's last
        transfer gets the whole tail."""
        out = []
        for device in self.devices():
            out += self.resolve(device, math.inf)
            if self._previous.get(device) is not None:  # its busy period never ends (an endless transfer)
                out.append((self._previous[device], self._tail_j(math.inf)))
                self._previous[device] = None
        return out
