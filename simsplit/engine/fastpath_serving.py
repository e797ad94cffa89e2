"""The fast path's server stage (:class:`ServingStages`): each server's jobs — this run's and other tenants' —
through its k-worker FIFO queue (a compiled recursion) or, where its queue does more, a replay of its events
(:class:`~simsplit.engine.server_events.ServerEvents`); :class:`ServerQueue` is a server's state between
windows."""

from __future__ import annotations

import math

import numpy as np

from simsplit.engine import kernels
from simsplit.engine.fastpath_base import StageBase
from simsplit.engine.records import DROPPED, TIMED_OUT
from simsplit.model.server import busy_within


class ServerQueue:
    """One server's state between windows: its workers' free instants, its service factor stream, the
    jobs that have arrived but cannot start before the next window, and each batch's busy time in the
    measured window."""

    def __init__(self, config, factor, background: list | None = None) -> None:
        from simsplit.engine.server_events import ServerEvents, replays_events
        self.config = config
        self.index = 0
        """Its place among the run's servers."""
        self.events = ServerEvents(config) if replays_events(config) else None
        """The queue's events replayed (batching, a capacity, expiry, EDF); None: a FIFO recursion."""
        self.free = np.zeros(config.workers)
        self.factor = factor
        self.closed = False
        """A job could not start before the end: none after it will."""
        self.waiting: tuple[np.ndarray, ...] = (np.empty(0, dtype=np.int64), np.empty(0), np.empty(0),
                                                np.empty(0, dtype=np.int64))
        """(rows, arrival instants s, when each arrival was set s, its order among those set at once) of
        requests that reached the server and did not start in an earlier window."""
        self.busy: list[np.ndarray] = []
        """Each window's batches' busy times (s) inside [warm-up, end] (:func:`simsplit.model.server.busy_within`):
        all the summary reads of the busy intervals, 8 bytes a batch."""
        self.background = background or []
        """Other tenants' streams (:class:`~simsplit.model.background.BackgroundDraws`), drawn a window at a time."""
        self.background_busy: list[np.ndarray] = []
        """The other tenants' part of :attr:`busy`, in the same order."""
        self.background_arrivals: list[np.ndarray] = []
        """Every other tenant's job's arrival (s), what the summary counts of them."""
        self.background_clock = [0.0] * len(self.background)
        """SimPy's clock at each stream's last arrival (s)."""

    def other_tenants(self, horizon: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The other tenants' jobs arriving before ``horizon`` (s) not yet taken: (SimPy's clock at each arrival
        s, services s, when each arrival was scheduled s), in order of arrival (streams in their order where two
        arrive at once). A stream schedules each arrival at the one before as ``now + (at - now)``, so the clock
        its job starts by can differ from the instant drawn (which the counts use) by an ulp."""
        if not self.background:
            return np.empty(0), np.empty(0), np.empty(0)
        clocks, services, scheduled = [], [], []
        for k, stream in enumerate(self.background):
            at, service = stream.until(horizon)
            self.background_arrivals.append(at)
            clock = kernels.event_times(at, self.background_clock[k])
            scheduled.append(np.concatenate(([self.background_clock[k]], clock[:-1])) if clock.size else clock)
            if clock.size:
                self.background_clock[k] = clock[-1]
            clocks.append(clock)
            services.append(service)
        arrivals = np.concatenate(clocks)
        order = np.argsort(arrivals, kind="stable")
        return arrivals[order], np.concatenate(services)[order], np.concatenate(scheduled)[order]


class ServingStages(StageBase):
    """The server stage of a window."""

    def _serve(self, server: ServerQueue, horizon: float) -> None:
        """Start, in order of arrival, the jobs that reached ``server`` before ``horizon`` (s): this run's and
        the other tenants' (rows -1), which share its workers and its service factor's stream."""
        held = server.waiting
        ready = held[1] < horizon
        server.waiting = tuple(values[~ready] for values in held)
        rows, arrival, scheduled, sequence = (values[ready] for values in held)
        if self.cells is not None:  # simultaneous arrivals in the order their events were set (cells' uploads too)
            order = np.lexsort((sequence, scheduled, arrival))
            rows, arrival, scheduled = rows[order], arrival[order], scheduled[order]
        others, others_service, others_scheduled = server.other_tenants(horizon)
        if server.events is not None:
            self._serve_events(server, server.events, rows, arrival, scheduled,
                               (others, others_service, others_scheduled), horizon)
            return
        service = np.concatenate((self.service[self._get("device", rows)], others_service))
        rows = np.concatenate((rows, np.full(others.size, -1, dtype=np.int64)))
        arrival = np.concatenate((arrival, others))
        # simultaneous arrivals in the order their events were scheduled: their requests' order of arrival,
        # which is the order they wait in, so a stable sort by arrival (on nearly sorted times) does it
        order = np.argsort(arrival, kind="stable")
        jobs, arrival, service = rows[order], arrival[order], service[order]
        ours = jobs >= 0
        set_at = np.concatenate((scheduled, others_scheduled))[order] if self.monitor is not None else arrival
        if self.monitor is not None:
            self.monitor.add(server.index, arrival, 1, 0, set_at)  # each job waits from its arrival (or starts at once)
        if server.closed or not jobs.size:
            self._set("_done", jobs[ours], True)
            return
        factors = server.factor.take(jobs.size) if server.factor is not None else np.full(jobs.size, math.nan)
        begin, finish = kernels.fifo_servers(arrival, service, factors, server.free, self.end_s)
        started = ~np.isnan(begin)
        server.closed = not started.all()
        served = finish < self.end_s
        if self.monitor is not None:  # a start at the arrival is the arrival's event; an end was set at its start
            at_once = begin[started] == arrival[started]
            self.monitor.add(server.index, begin[started], -1, 1, np.where(at_once, set_at[started], -math.inf))
            self.monitor.add(server.index, finish[served], 0, -1, begin[served])
        busy = busy_within(begin[started], np.where(served, finish, math.nan)[started], self.warmup_s, self.end_s)
        server.busy.append(busy)
        if server.background:
            server.background_busy.append(busy[~ours[started]])
        jobs, begin, finish, started, served = jobs[ours], begin[ours], finish[ours], started[ours], served[ours]
        self._set("service_start_at_s", jobs, begin)
        self._set("batch_size", jobs[started], 1)
        self._set("service_end_at_s", jobs[served], finish[served])
        self._set("_done", jobs[~served], True)
        rows, ends = self.back  # kept in the order the jobs started
        self.back = (np.concatenate((rows, jobs[served])), np.concatenate((ends, finish[served])))

    def _serve_events(self, server: ServerQueue, events, rows: np.ndarray, arrival: np.ndarray,
                      scheduled: np.ndarray, others: tuple, horizon: float) -> None:
        """Run ``server``'s events before ``horizon`` (s) with the requests ``rows`` arriving at ``arrival`` (s;
        events set at ``scheduled`` s) and the other tenants' jobs ``others`` (arrivals s, services s, scheduled
        at s), in the DES's order."""
        from simsplit.engine import server_kernel as kernel
        at, service, others_scheduled = others
        device = self._get("device", rows)
        jobs = {"rows": np.concatenate((rows, np.full(at.size, -1, dtype=np.int64))),
                "at": np.concatenate((arrival, at)),
                "scheduled": np.concatenate((scheduled, others_scheduled)),
                "base": np.concatenate((self.service[device], service)),
                "deadline": np.concatenate((self._get("arrival_at_s", rows) + self.deadline_s,
                                            np.full(at.size, math.inf))),
                "key": np.concatenate((self.batch_kind[device], np.full(at.size, -1, dtype=np.int64)))}
        order = np.argsort(jobs["at"], kind="stable")  # ties: requests in order of arrival, then the tenants
        final = not horizon < self.end_s
        run = events.run({name: values[order] for name, values in jobs.items()},
                                self.end_s if final else horizon, server.factor)
        if self.monitor is not None:
            at, change, set_at = run["queue_changes"]
            self.monitor.add(server.index, at, change, 0, set_at)
            starts, starts_set_at, ends, ends_set_at = run["busy_changes"]
            self.monitor.add(server.index, starts, 0, 1, starts_set_at)
            self.monitor.add(server.index, ends, 0, -1, ends_set_at)  # an end was set at its batch's start
        batches = run["batches"] if not final else np.concatenate((run["batches"], events.unfinished()))
        busy = busy_within(batches[:, 0], batches[:, 1], self.warmup_s, self.end_s)
        server.busy.append(busy)
        if server.background:
            server.background_busy.append(busy[batches[:, 2] > 0])
        ours = run["rows"] >= 0
        rows, fate = run["rows"][ours], run["fate"][ours]
        start, size, fate_at = run["start"][ours], run["size"][ours], run["fate_at"][ours]
        started = ~np.isnan(start)
        self._set("service_start_at_s", rows[started], start[started])
        self._set("batch_size", rows[started], size[started])
        for status, code in ((DROPPED, kernel.REJECTED), (TIMED_OUT, kernel.EXPIRED)):
            gone = fate == code
            self._set("status", rows[gone], status)
            self._set("finish_at_s", rows[gone], fate_at[gone])
        self._set("_done", rows[(fate == kernel.REJECTED) | (fate == kernel.EXPIRED)], True)
        if final:
            self._set("_done", rows[fate == kernel.WAITING], True)
        done, ends = run["done"], run["done_end"]
        ours = done >= 0
        done, ends = done[ours], ends[ours]
        self._set("service_end_at_s", done, ends)
        back_rows, back_ends = self.back  # in the order the DES hands them on
        self.back = (np.concatenate((back_rows, done)), np.concatenate((back_ends, ends)))
