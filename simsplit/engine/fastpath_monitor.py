"""The fast path's time series (``--monitor``): the samples :class:`~simsplit.engine.monitor.Monitor` takes on the
DES, computed from the run instead of sampled by a process (:class:`MonitorSeries`).

The DES samples at 0, then every ``period_s`` (each sample set from the one before, on SimPy's clock), the first
device's uplink capacity (a cellular link: its distance, SNR and serving cell) and each server's waiting jobs
and busy workers. Here each server's queue and workers are step functions of the run's own instants — a job
joins the queue when it arrives (unless it starts at once) and leaves it when it starts, is dropped or
expires; a worker is busy from a batch's start to its end — read at the sample instants as each window's
instants become final. A change at the very instant of a sample counts before it if its event was set no later
than the sample's (at the sample before), as the DES orders them; where the fast path does not carry when a
change was set it counts before; the first sample, set before the run, comes before every change at 0.
"""

from __future__ import annotations

import math

import numpy as np


def sample_times(period_s: float, end_s: float) -> np.ndarray:
    """The instants (s) the DES's monitor samples at: 0, then each from the one before as SimPy's clock adds the
    period (``now + ((now + period) - now)``) while ``now + period`` is before ``end_s``."""
    times = [0.0]
    now = 0.0
    while now + period_s < end_s:
        target = now + period_s
        delay = target - now
        now = now + (delay if delay > 0.0 else 0.0)  # noqa: FURB136 (as the engine schedules it)
        times.append(now)
    return np.array(times)


class MonitorSeries:
    """A fast run's monitor: each server's queue and busy workers as changes (instant s, +1/-1) added window by
    window (:meth:`add`), read at the sample instants before each window's horizon (:meth:`settle`)."""

    def __init__(self, period_s: float, end_s: float, servers: int) -> None:
        self.times = sample_times(period_s, end_s)
        self._settled = 0
        """Samples read so far (those before the last horizon)."""
        self._level = np.zeros((servers, 2), dtype=np.int64)
        """Each server's (queue, busy) after every change before the last horizon."""
        self._changes: list[list[tuple[np.ndarray, ...]]] = [[] for _ in range(servers)]
        """Each server's changes not yet counted: (instants s, queue change, busy change, set at s)."""
        self.values = np.zeros((self.times.size, servers, 2), dtype=np.int64)
        """Each sample's (queue, busy) per server."""

    def add(self, server: int, at: np.ndarray, queue: np.ndarray | int, busy: np.ndarray | int,
            set_at: np.ndarray | None = None) -> None:
        """Changes of ``server``'s waiting jobs (``queue``) and busy workers (``busy``) at instants ``at`` (s), by
        events set at ``set_at`` (s; None: long before, for the order against a sample of the same instant)."""
        at = np.asarray(at, dtype=float)
        if at.size:
            set_at = np.full(at.size, -math.inf) if set_at is None else np.asarray(set_at, dtype=float)
            self._changes[server].append((at, np.broadcast_to(np.asarray(queue, dtype=np.int64), at.shape),
                                          np.broadcast_to(np.asarray(busy, dtype=np.int64), at.shape), set_at))

    def settle(self, horizon: float) -> None:
        """Read the samples before ``horizon`` (s): every change before it is known."""
        last = int(np.searchsorted(self.times, horizon, side="left"))
        samples = self.times[self._settled:last]
        sample_set_at = self.times[max(self._settled - 1, 0):max(last - 1, 0)]  # each sample set at the one before
        if self._settled == 0 and samples.size:
            sample_set_at = np.concatenate(([0.0], sample_set_at))
        for server, changes in enumerate(self._changes):
            if not changes:
                self.values[self._settled:last, server] = self._level[server]
                continue
            at = np.concatenate([c[0] for c in changes])
            delta = np.column_stack((np.concatenate([c[1] for c in changes]), np.concatenate([c[2] for c in changes])))
            set_at = np.concatenate([c[3] for c in changes])
            order = np.lexsort((set_at, at))
            at, delta, set_at = at[order], delta[order], set_at[order]
            running = np.vstack((np.zeros((1, 2), dtype=np.int64), np.cumsum(delta, axis=0)))
            counted = np.searchsorted(at, samples, side="left")
            tied = np.searchsorted(at, samples, side="right") > counted
            for k in np.flatnonzero(tied):  # changes at a sample's instant: those set before it was come first
                if self._settled + k == 0:
                    continue  # the first sample is set before the run: every change at 0 comes after it
                left, right = counted[k], int(np.searchsorted(at, samples[k], side="right"))
                counted[k] = left + int(np.searchsorted(set_at[left:right], sample_set_at[k], side="right"))
            self.values[self._settled:last, server] = self._level[server] + running[counted]
            spent = int(np.searchsorted(at, horizon, side="left"))
            self._level[server] += running[spent]
            self._changes[server] = [(at[spent:], delta[spent:, 0], delta[spent:, 1], set_at[spent:])] \
                if spent < at.size else []
        self._settled = last

    def frame(self, devices, server_names: list[str]):
        """The samples as :meth:`simsplit.engine.monitor.Monitor.frame` gives them."""
        import pandas as pd
        times = self.times
        uplink = devices[0].uplink.channel if devices else None
        columns: dict[str, object] = {"at_s": times,
                                      "uplink_bps": [uplink.rate_bps_at(t) if uplink is not None else math.nan
                                                     for t in times.tolist()]}
        if uplink is not None and hasattr(uplink, "serving_at"):
            columns["distance_m"] = [uplink.distance_at(t) for t in times.tolist()]
            columns["snr_db"] = [uplink.snr_db_at(t) for t in times.tolist()]
            columns["serving_cell"] = [uplink.serving_at(t) for t in times.tolist()]
        for k, name in enumerate(server_names):
            columns[f"{name}_queue"] = self.values[:, k, 0]
            columns[f"{name}_busy"] = self.values[:, k, 1]
        return pd.DataFrame(columns)
