"""The fast path's per-window step (:class:`WindowStages`): a window of arrivals through every stage — the
device's compute, the uplink (:mod:`~simsplit.engine.fastpath_uploads`), each server
(:mod:`~simsplit.engine.fastpath_serving`), the downlink — each stage for every request of the window at once
(:mod:`simsplit.engine.kernels` for the recursions), carrying its state to the next window.
"""

from __future__ import annotations

import numpy as np

from simsplit.engine import kernels
from simsplit.engine.fastpath_links import by_device, run_arrays, transfer_losses
from simsplit.engine.fastpath_serving import ServingStages
from simsplit.engine.fastpath_uploads import UploadStages


class WindowStages(UploadStages, ServingStages):
    """The stages of a window, for :class:`~simsplit.engine.fastpath._FastRun` (see
    :class:`~simsplit.engine.fastpath_base.StageBase` for what it sets)."""

    def _window(self, first: int, last: int, horizon: float) -> None:
        """Arrivals ``first:last`` (in the buffer) through every stage; what cannot be settled before
        ``horizon`` (s) waits."""
        device = self.buffer["device"][first - self.base:last - self.base]
        order = by_device(device)  # grouped by device, each in its order
        rows, owner = np.arange(first, last, dtype=np.int64)[order], device[order]
        offsets, run_device = run_arrays(owner)
        wait, head_end = kernels.device_compute(self._get("arrival_at_s", rows), self.head[owner], offsets, run_device,
                                                self.compute_free)
        self._set("device_wait_s", rows, wait)
        self._set("head_s", rows, self.head[owner])
        local = self.local[owner]
        self._finish_local(rows[local], head_end[local])
        if self.tails is not None:  # the radio's state machine ties uploads to results: to a fixed point
            self._radio_window(rows[~local], head_end[~local], horizon)  # type: ignore[attr-defined]
        else:
            self._upload(rows[~local], head_end[~local], horizon)
            for server in self.servers:
                self._serve(server, horizon)
            self._download(horizon)
        if self.monitor is not None:
            self.monitor.settle(horizon)

    def _finish_local(self, rows: np.ndarray, head_end: np.ndarray) -> None:
        self._set("finish_at_s", rows, head_end)
        self._set("propagation_s", rows, 0.0)
        self._set("_result_at", rows, kernels.after(self._get("_clock", rows), head_end))
        self._set("_done", rows, True)

    def _download(self, horizon: float) -> None:
        """Send back, each device's in the order their service ended, the results ready before ``horizon``."""
        rows, ends = self.back
        ready = ends < horizon
        self.back = (rows[~ready], ends[~ready])
        rows, ends = rows[ready], ends[ready]
        # rows wait here in the order they started (per server), so a stable sort by end, then by device,
        # orders each device's results by (end, start order)
        order = np.argsort(ends, kind="stable")
        owner = self._get("device", rows)
        order = order[by_device(owner[order])]
        rows, ends, owner = rows[order], ends[order], owner[order]
        sent, extra, lost, _ = transfer_losses(owner, self.bits_down[owner], [d.downlink_loss for d in self.devices])
        self._set("bits_down", rows, sent)
        start, end = self.downlinks.send(owner, ends, sent, extra)
        self._handovers(rows, owner, start, end, self.downlinks, "bits_down")
        self._set("downlink_wait_s", rows, start - ends)
        self._set("downlink_start_at_s", rows, start)
        self._set("downlink_s", rows, end - start)
        self._set("propagation_s", rows, self.propagation[owner])
        gone = lost & np.isfinite(end)
        self._set("_lost_at", rows[gone], kernels.after(ends[gone], end[gone]))
        kept = ~lost
        finish_at = end[kept] + self.down_delay[owner[kept]] + self.half_rtt[owner[kept]]
        self._set("finish_at_s", rows[kept], finish_at)
        delivered = np.isfinite(finish_at)
        self._set("_result_at", rows[kept][delivered], kernels.after(ends[kept][delivered], finish_at[delivered]))
        self._set("_done", rows, True)
