"""The fast path's per-window step (:class:`WindowStages`): a window of arrivals through every stage — the
device's compute, the uplink, each server's FIFO queue, the downlink — each stage for every request of the
window at once (:mod:`simsplit.engine.kernels` for the recursions), carrying its state to the next window.
"""

from __future__ import annotations

import math

import numpy as np

from simsplit.engine import kernels
from simsplit.engine.fastpath_links import LinkArrays, by_device, device_runs, run_arrays, transfer_losses
from simsplit.engine.transfers import erasure_accuracy, snr_accuracy
from simsplit.engine.wiring import Device
from simsplit.model.server import busy_within


class ServerQueue:
    """One server's state between windows: its workers' free instants, its service factor stream, the
    jobs that have arrived but cannot start before the next window, and each batch's busy time in the
    measured window."""

    def __init__(self, config, factor, background: list | None = None) -> None:
        self.config = config
        self.free = np.zeros(config.workers)
        self.factor = factor
        self.closed = False
        """A job could not start before the end: none after it will."""
        self.waiting = (np.empty(0, dtype=np.int64), np.empty(0))
        """(rows, arrival instants s) of jobs not yet started."""
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

    def other_tenants(self, horizon: float) -> tuple[np.ndarray, np.ndarray]:
        """The other tenants' jobs arriving before ``horizon`` (s) not yet taken: (SimPy's clock at each arrival
        s, services s), in order of arrival (streams in their order where two arrive at once). A stream schedules
        each arrival from the one before as ``now + (at - now)``, so the clock its job starts by can differ from
        the instant drawn (which the counts use) by an ulp."""
        if not self.background:
            return np.empty(0), np.empty(0)
        clocks, services = [], []
        for k, stream in enumerate(self.background):
            at, service = stream.until(horizon)
            self.background_arrivals.append(at)
            clock = kernels.event_times(at, self.background_clock[k])
            if clock.size:
                self.background_clock[k] = clock[-1]
            clocks.append(clock)
            services.append(service)
        arrivals = np.concatenate(clocks)
        order = np.argsort(arrivals, kind="stable")
        return arrivals[order], np.concatenate(services)[order]


class WindowStages:
    """The stages of a window, for :class:`~simsplit.engine.fastpath._FastRun`, which sets the attributes below
    once per run: the rows' columns (``buffer``, from row ``base``), each device's plan as arrays indexed by
    device, the links, the servers and the results waiting for their download (``back``)."""

    end_s: float
    warmup_s: float
    devices: list[Device]
    plans: list
    head: np.ndarray
    local: np.ndarray
    bits_up: np.ndarray
    bits_down: np.ndarray
    service: np.ndarray
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
        self._upload(rows[~local], head_end[~local])
        for server in self.servers:
            self._serve(server, horizon)
        self._download(horizon)

    def _finish_local(self, rows: np.ndarray, head_end: np.ndarray) -> None:
        self._set("finish_at_s", rows, head_end)
        self._set("propagation_s", rows, 0.0)
        self._set("_result_at", rows, kernels.after(self._get("_clock", rows), head_end))
        self._set("_done", rows, True)

    def _upload(self, rows: np.ndarray, head_end: np.ndarray) -> None:
        """Payload sizes, losses and the uplink of offloaded requests ``rows`` (grouped by device)."""
        owner = self._get("device", rows)
        bits = self.bits_up[owner]
        for d, first, last in device_runs(owner) if self.sizes_vary else ():
            plan = self.plans[d]
            if plan.bits_quantiles is not None:
                drawn = _quantile_draws(plan.bits_quantiles, self.devices[d].payload_draw.take(last - first))
                bits[first:last] = np.ceil(drawn / 8.0) * 8.0  # whole bytes, as drawn_payload_bits
        self._set("payload_bits", rows, bits)
        sent, extra, lost, erased = transfer_losses(owner, bits, [d.uplink_loss for d in self.devices], self.plans)
        self._set("bits_up", rows, sent)
        start, end = self.uplinks.send(owner, head_end, sent, extra)
        self._handovers(rows, owner, start, end, self.uplinks, "bits_up")
        self._accuracy(rows, owner, start, erased)
        self._set("uplink_wait_s", rows, start - head_end)
        self._set("uplink_start_at_s", rows, start)
        self._set("uplink_s", rows, end - start)
        clock = self._get("_clock", rows)
        gone = lost & np.isfinite(end)
        self._set("_lost_at", rows[gone], kernels.after(clock[gone], end[gone]))
        reaches = np.isfinite(end) & ~lost
        at_server = np.full(rows.size, math.inf)
        at_server[reaches] = kernels.after(clock[reaches], end[reaches] + self.up_delay[owner[reaches]])
        arrived = at_server < self.end_s
        self._set("server_arrival_at_s", rows[arrived], at_server[arrived])
        self._set("_done", rows[~arrived], True)
        target = self.server[owner]
        if not rows.size:
            return
        low = int(rows.min())  # put back in the order the requests arrived (waiting lists stay in it)
        place = np.full(int(rows.max()) - low + 1, -1, dtype=np.int64)
        place[rows - low] = np.arange(rows.size)
        in_order = place[place >= 0]
        for s, server in enumerate(self.servers):
            mine = in_order[arrived[in_order] & (target[in_order] == s)]
            server.waiting = (np.concatenate((server.waiting[0], rows[mine])),
                              np.concatenate((server.waiting[1], at_server[mine])))

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
        rows, arrival = server.waiting
        ready = arrival < horizon
        server.waiting = (rows[~ready], arrival[~ready])
        rows, arrival = rows[ready], arrival[ready]
        others, others_service = server.other_tenants(horizon)
        service = np.concatenate((self.service[self._get("device", rows)], others_service))
        rows = np.concatenate((rows, np.full(others.size, -1, dtype=np.int64)))
        arrival = np.concatenate((arrival, others))
        # simultaneous arrivals in the order their events were scheduled: their requests' order of arrival,
        # which is the order they wait in, so a stable sort by arrival (on nearly sorted times) does it
        order = np.argsort(arrival, kind="stable")
        jobs, arrival, service = rows[order], arrival[order], service[order]
        ours = jobs >= 0
        if server.closed or not jobs.size:
            self._set("_done", jobs[ours], True)
            return
        factors = server.factor.take(jobs.size) if server.factor is not None else np.full(jobs.size, math.nan)
        begin, finish = kernels.fifo_servers(arrival, service, factors, server.free, self.end_s)
        started = ~np.isnan(begin)
        server.closed = not started.all()
        served = finish < self.end_s
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
