"""The fast path's per-window step (:class:`WindowStages`): a window of arrivals through every stage — the
device's compute, the uplink, each server's FIFO queue, the downlink — each stage for every request of the
window at once (:mod:`simsplit.engine.kernels` for the recursions), carrying its state to the next window.
"""

from __future__ import annotations

import math

import numpy as np

from simsplit.engine import kernels
from simsplit.engine.fastpath_cells import SharedUplinks
from simsplit.engine.fastpath_links import LinkArrays, by_device, device_runs, run_arrays, transfer_losses
from simsplit.engine.fastpath_monitor import MonitorSeries
from simsplit.engine.records import DROPPED, TIMED_OUT
from simsplit.engine.tails import TailLedger
from simsplit.engine.transfers import erasure_accuracy, snr_accuracy
from simsplit.engine.wiring import Device
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


class WindowStages:
    """The stages of a window, for :class:`~simsplit.engine.fastpath._FastRun`, which sets the attributes below
    once per run: the rows' columns (``buffer``, from row ``base``), each device's plan as arrays indexed by
    device, the links, the servers and the results waiting for their download (``back``)."""

    end_s: float
    warmup_s: float
    deadline_s: float
    devices: list[Device]
    plans: list
    head: np.ndarray
    local: np.ndarray
    bits_up: np.ndarray
    bits_down: np.ndarray
    service: np.ndarray
    batch_kind: np.ndarray
    server: np.ndarray
    up_delay: np.ndarray
    propagation: np.ndarray
    down_delay: np.ndarray
    half_rtt: np.ndarray
    compute_free: np.ndarray
    sizes_vary: bool
    accuracy_varies: bool
    uplinks: LinkArrays
    downlinks: LinkArrays
    servers: list[ServerQueue]
    monitor: MonitorSeries | None
    tails: TailLedger | None
    cells: SharedUplinks | None
    cell_of: np.ndarray
    cell_waiting: dict
    cell_sequence: int
    back: tuple[np.ndarray, np.ndarray]
    base: int
    buffer: dict[str, np.ndarray]

    def _set(self, name: str, rows: np.ndarray, values) -> None:
        self.buffer[name][rows - self.base] = values

    def _get(self, name: str, rows: np.ndarray) -> np.ndarray:
        return self.buffer[name][rows - self.base]

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

    def _upload(self, rows: np.ndarray, head_end: np.ndarray, horizon: float) -> None:
        """Payload sizes, losses and the uplink of offloaded requests ``rows`` (grouped by device): over each
        device's own link, or through its cell's events before ``horizon`` (s)."""
        owner = self._get("device", rows)
        sent, extra, lost, erased = self._payloads(rows, owner)
        clock = self._get("_clock", rows)
        shared = self.cell_of[owner] >= 0
        if shared.any():
            ready = kernels.after(clock[shared], head_end[shared])  # an event set at the request's arrival
            self._submit_to_cells(rows[shared], owner[shared], (ready, clock[shared], ready), ready, sent[shared],
                                  extra[shared], lost[shared], erased[shared])
            rows, owner, head_end, sent, extra, lost, erased, clock = (
                a[~shared] for a in (rows, owner, head_end, sent, extra, lost, erased, clock))
        self._set("bits_up", rows, sent)
        start, end = self.uplinks.send(owner, head_end, sent, extra)
        self._handovers(rows, owner, start, end, self.uplinks, "bits_up")
        self._accuracy(rows, owner, start, erased)
        self._set("uplink_wait_s", rows, start - head_end)
        self._set("uplink_start_at_s", rows, start)
        self._set("uplink_s", rows, end - start)
        self._uploaded(rows, owner, end, lost, clock, clock, rows)
        if self.cells is not None:
            self._run_cells(self.cells, horizon)

    def _payloads(self, rows: np.ndarray, owner: np.ndarray) -> tuple[np.ndarray, ...]:
        """Each upload's payload (drawn where its plan draws sizes) and packet losses: (bits sent, feedback delay
        s, lost, fraction erased or NaN)."""
        bits = self.bits_up[owner]
        for d, first, last in device_runs(owner) if self.sizes_vary else ():
            plan = self.plans[d]
            if plan.bits_quantiles is not None:
                drawn = _quantile_draws(plan.bits_quantiles, self.devices[d].payload_draw.take(last - first))
                bits[first:last] = np.ceil(drawn / 8.0) * 8.0  # whole bytes, as drawn_payload_bits
        self._set("payload_bits", rows, bits)
        return transfer_losses(owner, bits, [d.uplink_loss for d in self.devices], self.plans)

    def _uploaded(self, rows, owner, end, lost, clock, scheduled, sequence) -> None:
        """Requests ``rows`` whose upload ends at ``end`` (s; feedback included) set at SimPy's ``clock`` (s): lost,
        or on to their server, reached at ``clock + (end + delay - clock)``; ``scheduled`` and ``sequence`` order
        simultaneous arrivals at a server as the DES does."""
        gone = lost & np.isfinite(end)
        self._set("_lost_at", rows[gone], kernels.after(clock[gone], end[gone]))
        reaches = np.isfinite(end) & ~lost
        at_server = np.full(rows.size, math.inf)
        at_server[reaches] = kernels.after(clock[reaches], end[reaches] + self.up_delay[owner[reaches]])
        arrived = at_server < self.end_s
        self._set("server_arrival_at_s", rows[arrived], at_server[arrived])
        self._set("_done", rows[~arrived], True)
        if not rows.size:
            return
        low = int(rows.min())  # put back in the order the requests arrived (waiting lists stay in it)
        place = np.full(int(rows.max()) - low + 1, -1, dtype=np.int64)
        place[rows - low] = np.arange(rows.size)
        in_order = place[place >= 0]
        target = self.server[owner]
        for s, server in enumerate(self.servers):
            mine = in_order[arrived[in_order] & (target[in_order] == s)]
            server.waiting = tuple(np.concatenate((held, new[mine])) for held, new in
                                   zip(server.waiting, (rows, at_server, scheduled, sequence), strict=True))

    def _submit_to_cells(self, rows, owner, send, ready, sent, extra, lost, erased) -> None:
        """Uploads over shared cells, ready at ``ready`` (s; their head's end as SimPy's clock) and sent into the
        cell by the events ``send`` = (at s, set at s, ready to send at s; after any promotion); their accuracy is
        decided when ready, their bits when sent (neither if that is after the end)."""
        send_at, set_at, ready_to_send = send
        reached = ready < self.end_s
        self._accuracy(rows[reached], owner[reached], ready_to_send[reached], erased[reached])
        sending = send_at < self.end_s  # its bits are noted as the cell takes it (after any promotion)
        self._set("bits_up", rows[sending], sent[sending])
        for row, extra_s, is_lost, at in zip(rows.tolist(), extra.tolist(), lost.tolist(), ready_to_send.tolist(),
                                             strict=True):
            self.cell_waiting[row] = (extra_s, is_lost, at)
        order = np.argsort(rows, kind="stable")  # readiness set in the order the requests arrived
        assert self.cells is not None  # a device with a shared uplink has its cell
        self.cells.submit(self.cell_of[owner[order]], rows[order], set_at[order], send_at[order], sent[order])

    def _run_cells(self, cells: SharedUplinks, horizon: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every cell's events before ``horizon`` (the end, in the last window): the uploads that ended go on.
        Return their (rows, departure's clock s, end s with the feedback delay)."""
        final = not horizon < self.end_s
        rows, start, end, clock = cells.run(self.end_s if final else horizon)
        if rows.size:
            extra, lost, ready = (np.array(v) for v in zip(*(self.cell_waiting.pop(r) for r in rows.tolist()),
                                                            strict=True))
            end = end + extra
            self._set("uplink_wait_s", rows, start - ready)
            self._set("uplink_start_at_s", rows, start)
            self._set("uplink_s", rows, end - start)
            self._uploaded(rows, self._get("device", rows), end, lost.astype(bool), clock, clock,
                           np.arange(self.cell_sequence, self.cell_sequence + rows.size))
            self.cell_sequence += rows.size
        if final:  # uploads still in the cells stay in flight
            waiting = np.fromiter(self.cell_waiting, dtype=np.int64, count=len(self.cell_waiting))
            self._set("_done", waiting, True)
            self.cell_waiting.clear()
        return rows, clock, end

    def _handovers(self, rows, owner, start, end, links: LinkArrays, bits: str) -> None:
        """Add the handovers of a cellular link during each transfer (rows grouped by device), and the bits
        a transfer restarted by a handover had sent in vain to column ``bits``."""
        if not links.cellular:
            return
        for d, first, last in device_runs(owner):
            channel = links.links[d].channel
            if hasattr(channel, "handovers_between"):
                part = rows[first:last]
                self._set("handovers", part, self._get("handovers", part)
                          + [channel.handovers_between(float(a), float(b))
                             for a, b in zip(start[first:last], end[first:last], strict=True)])
                if channel.restart:
                    sent = self._get(bits, part)
                    self._set(bits, part, sent + [channel.resent_bits(float(a), float(b))
                                                  for a, b in zip(start[first:last], sent, strict=True)])

    def _accuracy(self, rows, owner, start, erased) -> None:
        """Where a plan's accuracy depends on the channel: on a fading uplink, by the SNR at the upload's
        start; sent once without retransmission, by the fraction of its packets erased (the lower)."""
        if not self.accuracy_varies:
            return
        for d, first, last in device_runs(owner):
            plan, channel = self.plans[d], self.devices[d].uplink.channel
            by_snr = plan.accuracy_vs_snr is not None and hasattr(channel, "snr_db_at")
            if not by_snr and np.isnan(erased[first]):
                continue  # the plan's accuracy stands
            part = rows[first:last]
            accuracy = self._get("accuracy", part)
            if by_snr:
                accuracy = np.array([snr_accuracy(plan, channel, float(s)) for s in start[first:last]])
            if not np.isnan(erased[first]):
                accuracy = np.array([erasure_accuracy(plan, float(e), float(a))
                                     for e, a in zip(erased[first:last], accuracy, strict=True)])
            self._set("accuracy", part, accuracy)

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


def _quantile_draws(quantiles, u: np.ndarray) -> np.ndarray:
    """:func:`simsplit.engine.request_steps.quantile_draw` of every ``u`` at once, with the same arithmetic."""
    probabilities, values = (np.asarray(q, dtype=float) for q in quantiles)
    k = np.searchsorted(probabilities, u, side="right") - 1
    out = np.full(u.size, values[-1])
    inside = k < probabilities.size - 1
    k = k[inside]
    low, high = probabilities[k], probabilities[k + 1]
    spread = high > low
    interpolated = values[k] + (values[k + 1] - values[k]) * (u[inside] - low) / np.where(spread, high - low, 1.0)
    out[inside] = np.where(spread, interpolated, values[np.minimum(k + 1, values.size - 1)])
    return out
