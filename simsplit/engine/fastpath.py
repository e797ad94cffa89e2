"""The fast path: a run of a static scenario computed with array operations and compiled loops instead of
SimPy events, equal to the DES request for request.

Where nothing a device does depends on what it observed — local, full offload and fixed splits, open-loop
arrivals, dedicated links, FIFO servers without other tenants — a request's timeline is a chain of
recursions: the device's compute queue, its uplink's queue, the server's k-worker FIFO queue
(Kiefer-Wolfowitz) and its downlink's queue. The fast path evaluates each stage for every request at once
(:mod:`simsplit.engine.kernels`), draws the same random numbers from the same named streams, replays SimPy's
order of simultaneous events and its clock arithmetic, and marks what the DES would not have reached by
the end of the run, so its per-request table equals the DES's bit for bit (tests/test_fastpath.py).

:func:`simsplit.engine.eligibility.why_not` lists what keeps a scenario on the DES; ``engine: auto`` runs the
fast path when that list is empty. See docs/engine.md.
"""

from __future__ import annotations

import math

import numpy as np

from simsplit.core.heap import keep_freed_blocks
from simsplit.core.streams import RandomStreams
from simsplit.engine import kernels
from simsplit.engine.eligibility import WINDOW_ROWS, why_not  # noqa: F401 (why_not re-exported)
from simsplit.engine.merged_arrivals import MergedArrivals
from simsplit.engine.records import (
    COMPLETED,
    IN_FLIGHT,
    LOST,
    NUMERIC_FIELDS,
    RunOutput,
    handover_times,
    probe_columns,
)
from simsplit.engine.setup import Setup
from simsplit.engine.transfers import (
    counts_erasures,
    erasure_accuracy,
    snr_accuracy,
    transmission,
)
from simsplit.model.server import busy_within


def run_fast(setup: Setup, seed: int, sink=None, window_rows: int = WINDOW_ROWS) -> RunOutput:
    """The run of ``setup`` with ``seed``, as the DES would give it; ``why_not(setup)`` must be empty.

    The requests go through the stages a window of ``window_rows`` arrivals at a time, each stage carrying
    its state (processors, links, workers, random streams) to the next window, so memory holds a window,
    not the run. With ``sink``, each finished chunk of rows (columns in arrival order, ``tail_j``
    included) goes to ``sink(columns)`` and the output's columns are None; else they are all returned.
    """
    run = _FastRun(setup, seed)
    chunks = []
    for chunk in run.chunks(window_rows):
        if sink is not None:
            sink(chunk)
        else:
            chunks.append(chunk)
    columns = None if sink is not None else {name: np.concatenate([c[name] for c in chunks]) for name in chunks[0]}
    probes = probe_columns([])
    probes["tail_j"] = np.zeros(0)
    return RunOutput(columns, run.device_group, run.end_s, seed, run.server_records(), probes,
                     handover_times(run.devices))


def _by_device(device: np.ndarray) -> np.ndarray:
    """The stable order that groups rows by device (a radix sort where the indices fit 16 bits)."""
    if device.size and device.max() < 65536:
        device = device.astype(np.uint16)
    return np.argsort(device, kind="stable")


def _runs(owner: np.ndarray) -> list[tuple[int, int, int]]:
    """(device, first, last) of each run of equal values in ``owner`` (rows grouped by device)."""
    if not owner.size:
        return []
    boundaries = np.flatnonzero(np.diff(owner)) + 1
    firsts = np.concatenate(([0], boundaries))
    lasts = np.concatenate((boundaries, [owner.size]))
    return list(zip(owner[firsts].tolist(), firsts.tolist(), lasts.tolist()))


def _run_arrays(owner: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, device of each run) of rows grouped by device, as the kernels take them."""
    runs = _runs(owner)
    offsets = np.array([0] + [last for _, _, last in runs], dtype=np.int64)
    return offsets, np.array([d for d, _, _ in runs], dtype=np.int64)


class _Links:
    """One direction of every device's dedicated link: compiled state for constant and piecewise-constant
    channels (``free``, per device), the link object itself for any other channel."""

    def __init__(self, links: list):
        from simsplit.model.channel.constant import ConstantChannel
        from simsplit.model.channel.shifted import ShiftedChannel
        from simsplit.model.channel.steps import ROUNDING, StepChannel
        self.links = links
        self.cellular = any(hasattr(link.channel, "handovers_between") for link in links)
        """Some link is cellular: transfers count handovers."""
        self.free = np.zeros(len(links))
        self.kind = np.zeros(len(links), dtype=np.int8)  # 0 constant, 1 steps, 2 other
        self.rate = np.ones(len(links))
        self.channel = np.zeros(len(links), dtype=np.int64)
        self.shift = np.zeros(len(links))
        index: dict[int, int] = {}
        steps = []
        for d, link in enumerate(links):
            channel = link.channel
            inner, shift = (channel.inner, channel.offset_s) if type(channel) is ShiftedChannel else (channel, 0.0)
            if type(channel) is ConstantChannel:
                self.rate[d] = channel.rate_bps
            elif type(inner) is StepChannel:
                self.kind[d] = 1
                if id(inner) not in index:
                    index[id(inner)] = len(steps)
                    steps.append(inner)
                self.channel[d], self.shift[d] = index[id(inner)], shift
            else:
                self.kind[d] = 2
        arrays = [c.arrays() for c in steps]
        self.steps = (np.concatenate(([0], np.cumsum([len(a[0]) for a in arrays]))).astype(np.int64),
                      *(np.concatenate([np.asarray(a[k], dtype=float) for a in arrays]) if arrays else np.zeros(0)
                        for k in range(3)),
                      np.array([math.nan if c.period_s is None else c.period_s for c in steps]),
                      np.array([a[3] for a in arrays]), ROUNDING)

    def send(self, owner: np.ndarray, ready: np.ndarray, bits: np.ndarray, extra: np.ndarray):
        """Transfers of devices ``owner`` (grouped by device, each device's in order): (start s, end s)."""
        kind = self.kind[owner]
        if owner.size and kind[0] < 2 and (kind == kind[0]).all():  # one compiled kind for all: no gathering
            return self._compiled(kind[0], owner, ready, bits, extra)
        start, end = np.empty(owner.size), np.empty(owner.size)
        for code in (0, 1):
            pick = np.flatnonzero(kind == code)
            if pick.size:
                start[pick], end[pick] = self._compiled(code, owner[pick], ready[pick], bits[pick], extra[pick])
        for j in np.flatnonzero(kind == 2):  # any other channel: its own finish_time, one transfer at a time
            start[j], end[j] = self.links[owner[j]].reserve(float(ready[j]), float(bits[j]), float(extra[j]))
        return start, end

    def _compiled(self, code: int, owner, ready, bits, extra):
        """Transfers on constant (``code`` 0) or piecewise-constant (1) channels: (start s, end s)."""
        offsets, run_device = _run_arrays(owner)
        arguments = (ready, bits, extra, offsets, run_device, self.free)
        if code == 0:
            return kernels.constant_link(*arguments, self.rate)
        return kernels.step_link(*arguments, self.channel, self.shift, *self.steps)


def _losses(owner: np.ndarray, bits: np.ndarray, losses: list, plans: list | None = None):
    """Each transfer's packet losses, drawn from its device's loss process in the order the link takes
    them: (bits sent, extra feedback delay s, lost, fraction erased or NaN). With ``plans`` (uploads), a
    payload sent once without retransmission whose plan has an erasure curve is delivered and its erased
    fraction kept (the curve sets its accuracy)."""
    sent, extra = bits.copy(), np.zeros(bits.size)
    lost, erased = np.zeros(bits.size, dtype=bool), np.full(bits.size, math.nan)
    if not any(losses):
        return sent, extra, lost, erased
    for d, first, last in _runs(owner):
        loss = losses[d]
        if loss is None:
            continue
        if plans is not None and counts_erasures(loss, plans[d]):
            erased[first:last] = [loss.erased_fraction(float(b)) for b in bits[first:last]]
            continue
        for j in range(first, last):
            sent[j], extra[j], lost[j] = transmission(loss, float(bits[j]))
    return sent, extra, lost, erased


class _Server:
    """One server's state between windows: its workers' free instants, its service factor stream, the
    jobs that have arrived but cannot start before the next window, and each batch's busy time in the
    measured window."""

    def __init__(self, config, factor):
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


_FRESH = {name: (float, math.nan) for name in NUMERIC_FIELDS}
_FRESH.update({"status": (np.int8, IN_FLIGHT), "batch_size": (np.int64, 0), "handovers": (np.int64, 0),
               "device": (np.int64, 0), "request_id": (np.int64, 0), "plan": (np.int64, 0), "switched": (float, 0.0),
               "_clock": (float, 0.0), "_result_at": (float, math.inf), "_lost_at": (float, math.inf),
               "_done": (bool, False)})
_FRESH.update({name: (float, 0.0) for name in ("payload_bits", "bits_up", "bits_down", "switch_s", "promotion_s")})
"""Each buffer column's type and its value before the request reaches the stage that sets it."""


class _FastRun:
    """A fast-path run: each window's arrivals in SimPy's order of them, then through the stages, one
    window at a time (:meth:`chunks`)."""

    def __init__(self, setup: Setup, seed: int):
        import simpy

        from simsplit.engine.wiring import build_devices, service_factor
        keep_freed_blocks()  # window-sized arrays reused from the heap, not faulted in afresh (simsplit.core.heap)
        scenario = setup.scenario
        self.end_s = scenario.duration_s
        self.warmup_s = scenario.warmup_s
        streams = RandomStreams(seed)
        self.devices, self.device_group = build_devices(simpy.Environment(), setup, streams)
        devices = self.devices

        self.arrivals = MergedArrivals([device.arrivals for device in devices], self.end_s)
        """Every device's arrivals, handed out a slab of simulated time at a time."""

        # each device's plan (its strategy never changes its decision), as per-device arrays
        self.plans = plans = [d.plans[d.strategy.decide(0.0, d.observation)] for d in devices]
        self.plan_index = np.array([p.index for p in plans], dtype=np.int64)
        self.local = np.array([p.local for p in plans], dtype=bool)
        self.head = np.array([p.head_s for p in plans])
        self.bits_up = np.array([p.bits_up for p in plans])
        self.bits_down = np.array([p.bits_down for p in plans])
        self.service = np.array([p.service_s for p in plans])
        self.server = np.array([p.server for p in plans], dtype=np.int64)
        self.up_delay = np.array([d.uplink.delay_s + p.extra_rtt_s / 2 for d, p in zip(devices, plans)])
        self.propagation = np.array([d.uplink.delay_s + d.downlink.delay_s + p.extra_rtt_s
                                     for d, p in zip(devices, plans)])
        self.down_delay = np.array([d.downlink.delay_s for d in devices])
        self.half_rtt = np.array([p.extra_rtt_s / 2 for p in plans])
        self.compute_free = np.zeros(len(devices))
        self.sizes_vary = any(p.bits_quantiles is not None for p in plans)
        """Some device's payload size is drawn per request."""
        self.accuracy_varies = any((p.accuracy_vs_snr is not None and hasattr(d.uplink.channel, "snr_db_at"))
                                   or counts_erasures(d.uplink_loss, p) for d, p in zip(devices, plans))
        """Some device's channel sets its requests' accuracy."""
        self.uplinks = _Links([d.uplink for d in devices])
        self.downlinks = _Links([d.downlink for d in devices])
        self.servers = [_Server(config, service_factor(config, streams)) for config in scenario.server_list]
        self.back = (np.empty(0, dtype=np.int64), np.empty(0))
        """(rows, service end s) of results whose download waits for the next window, in the order their
        service started (per server)."""
        self.base = 0
        self.buffer: dict[str, np.ndarray] = {}
        """Columns of rows ``base`` onwards not yet handed out."""

    # ------------------------------------------------------------ rows
    def _open(self, device: np.ndarray, at: np.ndarray, clock: np.ndarray, request_id: np.ndarray) -> None:
        """Add a slab's arrivals (devices, instants s, SimPy's clock at each s, request numbers) to the
        buffer, every other field at its value before the request is reached."""
        n = device.size
        values = {"device": device, "request_id": request_id, "plan": self.plan_index[device], "arrival_at_s": at,
                  "_clock": clock}
        held = next(iter(self.buffer.values())).size if self.buffer else 0
        buffer = {}
        for name, (dtype, fill) in _FRESH.items():  # the rows held, then the new ones (one write each)
            column = np.empty(held + n, dtype=dtype)
            if held:
                column[:held] = self.buffer[name]
            column[held:] = values.get(name, fill)
            buffer[name] = column
        self.buffer = buffer

    def _set(self, name: str, rows: np.ndarray, values) -> None:
        self.buffer[name][rows - self.base] = values

    def _get(self, name: str, rows: np.ndarray) -> np.ndarray:
        return self.buffer[name][rows - self.base]

    def chunks(self, window_rows: int):
        """Each window's finished rows, as columns in arrival order: windows of about ``window_rows``
        arrivals (slabs of simulated time, sized from the previous one's count)."""
        first = 0
        for until, device, at, clock, request_id in self.arrivals.slabs(window_rows, self.end_s / 64):
            final = until >= self.end_s
            self._open(device, at, clock, request_id)
            last = first + at.size
            self._window(first, last, math.inf if final else until)  # no later arrival is before the slab's end
            first = last
            yield self._hand_out(final=final)

    def _hand_out(self, final: bool) -> dict[str, np.ndarray]:
        """The rows from ``base`` up to the first one still waiting (all, when ``final``)."""
        done = self.buffer["_done"]
        waiting = np.flatnonzero(~done)
        if final and waiting.size:
            raise RuntimeError(f"{waiting.size} requests unresolved at the end of a fast run")  # a bug
        cut = waiting[0] if waiting.size else done.size
        chunk = {name: values[:cut] for name, values in self.buffer.items()}
        self.buffer = {name: values[cut:] for name, values in self.buffer.items()}
        self.base += cut
        status, lost_at = chunk["status"], chunk["_lost_at"]
        status[chunk["_result_at"] < self.end_s] = COMPLETED
        lost = lost_at < self.end_s
        status[lost] = LOST
        chunk["finish_at_s"][lost] = lost_at[lost]
        chunk["tail_j"] = np.zeros(cut)
        return {name: values for name, values in chunk.items() if not name.startswith("_")}

    # ------------------------------------------------------------ stages
    def _window(self, first: int, last: int, horizon: float) -> None:
        """Arrivals ``first:last`` (in the buffer) through every stage; what cannot be settled before
        ``horizon`` (s) waits."""
        device = self.buffer["device"][first - self.base:last - self.base]
        order = _by_device(device)  # grouped by device, each in its order
        rows, owner = np.arange(first, last, dtype=np.int64)[order], device[order]
        offsets, run_device = _run_arrays(owner)
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
        for d, first, last in _runs(owner) if self.sizes_vary else ():
            plan = self.plans[d]
            if plan.bits_quantiles is not None:
                bits[first:last] = _quantile_draws(plan.bits_quantiles, self.devices[d].payload_draw.take(last - first))
        self._set("payload_bits", rows, bits)
        sent, extra, lost, erased = _losses(owner, bits, [d.uplink_loss for d in self.devices], self.plans)
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

    def _handovers(self, rows, owner, start, end, links: _Links, bits: str) -> None:
        """Add the handovers of a cellular link during each transfer (rows grouped by device), and the bits
        a transfer restarted by a handover had sent in vain to column ``bits``."""
        if not links.cellular:
            return
        for d, first, last in _runs(owner):
            channel = links.links[d].channel
            if hasattr(channel, "handovers_between"):
                part = rows[first:last]
                self._set("handovers", part, self._get("handovers", part)
                          + [channel.handovers_between(float(a), float(b))
                             for a, b in zip(start[first:last], end[first:last])])
                if channel.restart:
                    sent = self._get(bits, part)
                    self._set(bits, part, sent + [channel.resent_bits(float(a), float(b))
                                                  for a, b in zip(start[first:last], sent)])

    def _accuracy(self, rows, owner, start, erased) -> None:
        """Where a plan's accuracy depends on the channel: on a fading uplink, by the SNR at the upload's
        start; sent once without retransmission, by the fraction of its packets erased (the lower)."""
        if not self.accuracy_varies:
            return
        for d, first, last in _runs(owner):
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
                                     for e, a in zip(erased[first:last], accuracy)])
            self._set("accuracy", part, accuracy)

    def _serve(self, server: _Server, horizon: float) -> None:
        """Start, in order of arrival, the jobs that reached ``server`` before ``horizon`` (s)."""
        rows, arrival = server.waiting
        ready = arrival < horizon
        server.waiting = (rows[~ready], arrival[~ready])
        rows, arrival = rows[ready], arrival[ready]
        # simultaneous arrivals in the order their events were scheduled: their requests' order of arrival,
        # which is the order they wait in, so a stable sort by arrival (on nearly sorted times) does it
        order = np.argsort(arrival, kind="stable")
        jobs, arrival = rows[order], arrival[order]
        if server.closed or not jobs.size:
            self._set("_done", jobs, True)
            return
        factors = server.factor.take(jobs.size) if server.factor is not None else np.full(jobs.size, math.nan)
        begin, finish = kernels.fifo_servers(arrival, self.service[self._get("device", jobs)], factors, server.free,
                                             self.end_s)
        started = ~np.isnan(begin)
        server.closed = not started.all()
        self._set("service_start_at_s", jobs, begin)
        self._set("batch_size", jobs[started], 1)
        served = finish < self.end_s
        self._set("service_end_at_s", jobs[served], finish[served])
        self._set("_done", jobs[~served], True)
        server.busy.append(busy_within(begin[started], np.where(served, finish, math.nan)[started],
                                       self.warmup_s, self.end_s))
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
        order = order[_by_device(owner[order])]
        rows, ends, owner = rows[order], ends[order], owner[order]
        sent, extra, lost, _ = _losses(owner, self.bits_down[owner], [d.downlink_loss for d in self.devices])
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

    def server_records(self) -> list:
        """Each server's batches' busy times in the measured window, what the summary reads of a server."""
        records = []
        for server in self.servers:
            busy = np.concatenate(server.busy) if server.busy else np.empty(0)
            server.busy = []  # the pieces let go once joined
            records.append(_ServerRecord(server.config.name, busy, (self.warmup_s, self.end_s)))
        return records


def _quantile_draws(quantiles, u: np.ndarray) -> np.ndarray:
    """:func:`simsplit.engine.des.quantile_draw` of every ``u`` at once, with the same arithmetic."""
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


class _ServerRecord:
    """What a run's summary reads from a server: its name, its batches' busy times (s) inside
    ``busy_window`` (warm-up, end; s) and (no) other tenants."""

    def __init__(self, name: str, busy_within: np.ndarray, busy_window: tuple[float, float]):
        self.name = name
        self.busy_within = busy_within
        self.busy_window = busy_window
        self.background_streams: list = []
