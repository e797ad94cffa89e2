"""Which request or probe each radio tail is charged to, during the run: one
:class:`~simsplit.energy.TailMeter` per device group with an RRC tail, fed every transfer as it becomes
known, resolved as far as the clock allows (a streamed run) or at the end."""

from __future__ import annotations

import math
from collections.abc import Callable


class OpenShared:
    """Transfers on shared links that are ready but not yet reported done: their device and ready time (s).
    A device's transfer can start no earlier than the earliest of these, or than now."""

    def __init__(self):
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
    """Routes each final tail (J) to ``charge_request(sequence, tail)`` or to this ledger's probe totals."""

    def __init__(self, meters: list, device_group, charge_request: Callable[[int, float], None]):
        self._meters = meters
        """Per group: its TailMeter, or None (no RRC tail)."""
        self._device_group = device_group
        self._charge_request = charge_request
        self.probe_tail_j: dict[int, float] = {}

    def meter_of(self, device: int):
        return self._meters[self._device_group[device]]

    def _charge(self, owner: int, tail_j: float) -> None:
        if owner >= 0:
            self._charge_request(owner, tail_j)
        else:
            self.probe_tail_j[-1 - owner] = self.probe_tail_j.get(-1 - owner, 0.0) + tail_j

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
