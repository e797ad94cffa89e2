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
        from simsplit.engine.eligibility import replays_events
        from simsplit.engine.server_events import ServerEvents
        self.config = config
        self.index = 0
        """Its place among the run's servers."""
        self.events = ServerEvents(config) if replays_events(config) else None
        """The queue's events replayed (batching, a capacity, expiry, EDF); None: a FIFO recursion."""
        self.free = np.zeros(config.workers)
        self.free_set_at = (np.zeros(0), np.zeros(0))
        """(end s, start s) of the last jobs on the workers: a job that starts when one of them ends starts in
        the event of that end, set at its start (for the monitor's order of a sample and a change)."""
        self.factor = factor
        self.closed = False
        """A job could not start before the end: none after it will."""
        self.waiting: tuple[np.ndarray, ...] = (np.empty(0, dtype=np.int64), np.empty(0), np.empty(0), np.empty(0),
                                                np.empty(0, dtype=np.int64))
        """(rows, arrival instants s, when each arrival was set s, when the event that set it was set s, its order
        among those set at once) of requests that reached the server and did not start in an earlier window."""
        self.busy: list[np.ndarray] = []
        """Each window's batches' busy times (s) inside [warm-up, end] (:func:`simsplit.model.server.busy_within`):
        all the summary reads of the busy intervals, 8 bytes a batch."""
        self.background = background or []
        """Other tenants' streams (:class:`~simsplit.model.background.BackgroundDraws`), drawn a window at a time."""
        self.background_busy: list[np.ndarray] = []
        """The other tenants' part of :attr:`busy`, in the same order."""
        self.background_arrivals: list[np.ndarray] = []
        """Every other tenant's job's arrival (s), what the summary counts of them."""
        self.background_clock = [(0.0, -math.inf)] * len(self.background)
        """SimPy's clock at each stream's last arrival and the one before (s; the first is set at 0, before the
        run)."""

    def other_tenants(self, horizon: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The other tenants' jobs arriving before ``horizon`` (s) not yet taken: (SimPy's clock at each arrival
        s, services s, when each arrival was scheduled s, when the event that scheduled it was s), in order of
        arrival (streams in their order where two
        arrive at once). A stream schedules each arrival at the one before as ``now + (at - now)``, so the clock
        its job starts by can differ from the instant drawn (which the counts use) by an ulp."""
        if not self.background:
            return np.empty(0), np.empty(0), np.empty(0), np.empty(0)
        clocks, services, scheduled, scheduled2 = [], [], [], []
        for k, stream in enumerate(self.background):
            at, service = stream.until(horizon)
            self.background_arrivals.append(at)
            last, before = self.background_clock[k]
            clock = kernels.event_times(at, last)
            history = np.concatenate(([before, last], clock))  # each arrival set at the one before, and so on
            scheduled.append(history[1:clock.size + 1])
            scheduled2.append(history[:clock.size])
            if clock.size:
                self.background_clock[k] = (float(history[-1]), float(history[-2]))
            clocks.append(clock)
            services.append(service)
        arrivals = np.concatenate(clocks)
        order = np.argsort(arrivals, kind="stable")
        return (arrivals[order], np.concatenate(services)[order], np.concatenate(scheduled)[order],
                np.concatenate(scheduled2)[order])


class ServingStages(StageBase):
    """The server stage of a window."""

    def _serve(self, server: ServerQueue, horizon: float) -> None:
        """Start, in order of arrival, the jobs that reached ``server`` before ``horizon`` (s): this run's and
        the other tenants' (rows -1), which share its workers and its service factor's stream."""
        held = server.waiting
        ready = held[1] < horizon
        server.waiting = tuple(values[~ready] for values in held)
        rows, arrival, scheduled, scheduled2, sequence = (values[ready] for values in held)
        if self.cells is not None:  # simultaneous arrivals in the order their events were set (cells' uploads too)
            order = np.lexsort((sequence, scheduled2, scheduled, arrival))
            rows, arrival, scheduled, scheduled2 = rows[order], arrival[order], scheduled[order], scheduled2[order]
        others, others_service, others_scheduled, others_scheduled2 = server.other_tenants(horizon)
        if server.events is not None:
            self._serve_events(server, server.events, rows, arrival, (scheduled, scheduled2),
                               (others, others_service, others_scheduled, others_scheduled2), horizon)
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
            self.monitor.add(server.index, begin[started], -1, 1, _start_set_at(server, arrival, begin, finish,
                                                                                 set_at, started))
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
                      scheduled: tuple[np.ndarray, np.ndarray], others: tuple, horizon: float) -> None:
        """Run ``server``'s events before ``horizon`` (s) with the requests ``rows`` arriving at ``arrival`` (s;
        events set at ``scheduled`` = (s, and when the events that set them were set s)) and the other tenants'
        jobs ``others`` (arrivals s, services s, the same two instants), in the DES's order."""
        from simsplit.engine import server_kernel as kernel
        at, service, others_scheduled, others_scheduled2 = others
        set_at, set_at2 = scheduled
        device = self._get("device", rows)
        jobs = {"rows": np.concatenate((rows, np.full(at.size, -1, dtype=np.int64))),
                "at": np.concatenate((arrival, at)),
                "scheduled": np.concatenate((set_at, others_scheduled)),
                "scheduled2": np.concatenate((set_at2, others_scheduled2)),
                "tenant": np.concatenate((np.zeros(rows.size, dtype=np.int8), np.ones(at.size, dtype=np.int8))),
                "base": np.concatenate((self.service[device], service)),
                "deadline": np.concatenate((self._get("arrival_at_s", rows) + self.deadline_s,
                                            np.full(at.size, math.inf))),
                "key": np.concatenate((self.batch_kind[device], np.full(at.size, -1, dtype=np.int64)))}
        # simultaneous arrivals by when their events were set, and when the events that set them were; then
        # requests (in order of arrival) before the tenants
        order = np.lexsort((jobs.pop("tenant"), jobs["scheduled2"], jobs["scheduled"], jobs["at"]))
        final = not horizon < self.end_s
        run = events.run({name: values[order] for name, values in jobs.items()}, self.end_s if final else horizon,
                         server.factor, changes=self.monitor is not None)
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


def _start_set_at(server: ServerQueue, arrival: np.ndarray, begin: np.ndarray, finish: np.ndarray,
                  set_at: np.ndarray, started: np.ndarray) -> np.ndarray:
    """When the event each started job started in was set (s): its arrival's for a job that started as it
    arrived, else that of the end that freed its worker (set at that job's start); -inf where not found."""
    ends = np.concatenate((server.free_set_at[0], finish[started]))
    starts = np.concatenate((server.free_set_at[1], begin[started]))
    order = np.argsort(ends, kind="stable")
    ends, starts = ends[order], starts[order]
    wanted = begin[started]
    freed_by = np.full(wanted.size, -math.inf)
    if ends.size:
        place = np.minimum(np.searchsorted(ends, wanted), ends.size - 1)
        found = ends[place] == wanted
        freed_by[found] = starts[place[found]]
    current = np.isin(ends, server.free)  # the workers' last jobs: what a later window's start may follow
    server.free_set_at = (ends[current], starts[current])
    return np.where(wanted == arrival[started], set_at[started], freed_by)
