"""A run's time series: every ``period_s`` the first device's true uplink capacity (and, on a cellular link,
its distance to the serving cell, its SNR and the serving cell) and every server's queue length and busy
workers (for time-series figures)."""

from __future__ import annotations

import math


class Monitor:
    def __init__(self, env, devices, servers, server_names: list[str], schedule, period_s: float, end_s: float):
        self._env, self._devices, self._servers = env, devices, servers
        self._names, self._schedule = server_names, schedule
        self._period_s, self._end_s = period_s, end_s
        self.samples: list[tuple] = []
        self._cellular = bool(devices) and hasattr(devices[0].uplink.channel, "serving_at")

    def start(self) -> None:
        self._schedule(0.0, None, self._sample)

    def _sample(self, event) -> None:
        now = self._env.now
        uplink = self._devices[0].uplink.channel if self._devices else None
        row = [now, uplink.rate_bps_at(now) if uplink is not None else math.nan]
        if self._cellular and uplink is not None:  # (cellular: there is a first device)
            row += [uplink.distance_at(now), uplink.snr_db_at(now), uplink.serving_at(now)]
        for server in self._servers:
            row += [server.queue_length, server.busy]
        self.samples.append(tuple(row))
        if now + self._period_s < self._end_s:
            self._schedule(now + self._period_s, None, self._sample)

    def frame(self):
        """The samples as a DataFrame: ``at_s``, ``uplink_bps``, (cellular: ``distance_m``, ``snr_db``,
        ``serving_cell``, -1 during a handover's interruption), ``<server>_queue``, ``<server>_busy``."""
        import pandas as pd
        columns = ["at_s", "uplink_bps"]
        if self._cellular:
            columns += ["distance_m", "snr_db", "serving_cell"]
        for name in self._names:
            columns += [f"{name}_queue", f"{name}_busy"]
        return pd.DataFrame(self.samples, columns=columns)
