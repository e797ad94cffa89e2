"""Which request or probe each radio tail is charged to, during the run: one
:class:`~simsplit.model.energy.TailMeter` per device group with an RRC tail, fed every transfer as it becomes
known, resolved as far as the clock allows (a streamed run) or at the end."""

from __future__ import annotations

import math
from heapq import heappush

from simsplit.model.energy import TailMeter


class OpenShared:
    """Transfers on shared links that are ready but not yet reported done: their device and ready time (s).
    A device's transfer can start no earlier than the earliest of these, or than now."""

    def __init__(self) -> None:
        self._open: dict = {}

    def open(self, token, device: int, ready_s: float) -> None:
        self._open[token] = (device, ready_s)

    def close(self, token) -> None:
        self._open.pop(token, None)

    def earliest(self) -> dict[int, float]:
        """Per device with an open transfer, the earliest ready time (s)."""
        out: dict[int, float] = {}
        for device, ready_s in self._open.values():
            if ready_s < out.get(device, math.inf):
                out[device] = ready_s
        return out


class TailLedger:
    """The radio tails of one run. Owners are a request's arrival sequence (>= 0) or ``-1 - index`` of a
    probe. A request's final tail goes to the ``sink`` when it streams rows (``sink.open_tail`` and
    ``sink.tail``), else into :attr:`request_tail_j`; a probe's into :attr:`probe_tail_j`."""

    def __init__(self, groups, device_group, sink=None) -> None:
        self._meters = [TailMeter(g.network.radio.tail_stages_s, g.network.radio.tail_stages_w)
                        if g.network.radio.tail_stages_s else None for g in groups]
        """Per group: its meter, or None (no RRC tail)."""
        self._queues = [None if self._meters[g] is None else self._meters[g].queue(device)
                        for device, g in enumerate(device_group)]
        """Per device: its meter's heap of transfers not yet processed, or None (no RRC tail)."""
        self.metered = any(meter is not None for meter in self._meters)
        """Some group's radio has an RRC tail (else :meth:`note` does nothing)."""
        self._sink = sink if hasattr(sink, "open_tail") else None
        self.request_tail_j: dict[int, float] = {}
        self.probe_tail_j: dict[int, float] = {}

    def note(self, device: int, start_s: float, duration_s: float, key: tuple, owner: int) -> None:
        """A transfer of ``device`` (s) charged to ``owner``; ``key`` breaks ties in start time."""
        queue = self._queues[device]
        if queue is not None:  # as its meter's add(device, start_s, start_s + duration_s, key, owner)
            heappush(queue, (start_s, key, start_s + duration_s, owner))
            if owner >= 0 and self._sink is not None:
                self._sink.open_tail(owner)

    def _charge(self, owner: int, tail_j: float) -> None:
        if owner < 0:
            self.probe_tail_j[-1 - owner] = self.probe_tail_j.get(-1 - owner, 0.0) + tail_j
        elif self._sink is not None:
            self._sink.tail(owner, tail_j)
        else:
            self.request_tail_j[owner] = self.request_tail_j.get(owner, 0.0) + tail_j

    def resolve(self, now_s: float, open_shared: OpenShared) -> None:
        """Charge every tail that is final at ``now_s``."""
        earliest = open_shared.earliest()
        for meter in filter(None, self._meters):
            for device in meter.devices():
                for owner, tail_j in meter.resolve(device, min(now_s, earliest.get(device, math.inf))):
                    self._charge(owner, tail_j)

    def finish(self) -> None:
        """Charge every remaining tail: the run is over."""
        for meter in filter(None, self._meters):
            for owner, tail_j in meter.finish():
                self._charge(owner, tail_j)
