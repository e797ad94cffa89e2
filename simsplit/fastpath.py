"""The fast path: a run of a static scenario computed with array operations and compiled loops instead of
SimPy events, equal to the DES request for request.

Where nothing a device does depends on what it observed — local, full offload and fixed splits, open-loop
arrivals, dedicated links, FIFO servers without other tenants — a request's timeline is a chain of
recursions: the device's compute queue, its uplink's queue, the server's k-worker FIFO queue
(Kiefer-Wolfowitz) and its downlink's queue. The fast path evaluates each stage for every request at once
(:mod:`simsplit.kernels`), draws the same random numbers from the same named streams, replays SimPy's
order of simultaneous events and its clock arithmetic, and marks what the DES would not have reached by
the end of the run, so its per-request table equals the DES's bit for bit (tests/test_fastpath.py).

:func:`why_not` lists what keeps a scenario on the DES; ``engine: auto`` runs the fast path when that list
is empty. See docs/engine.md.
"""

from __future__ import annotations

import math

import numpy as np

from simsplit import kernels
from simsplit.records import (
    COMPLETED,
    IN_FLIGHT,
    LOST,
    NUMERIC_FIELDS,
    RunOutput,
    probe_columns,
)
from simsplit.server import ServiceIntervals
from simsplit.setup import Setup
from simsplit.streams import RandomStreams

ENGINES = ("auto", "des", "fast")


def why_not(setup: Setup, monitor_period_s: float | None = None) -> list[str]:
    """What in ``setup`` needs the DES (empty: the fast path computes the same run)."""
    from simsplit.strategies.fixed import FixedStrategy
    reasons = []
    if monitor_period_s is not None:
        reasons.append("the run samples a time series (monitor)")
    for group_setup in setup.groups:
        group, network = group_setup.group, group_setup.network
        name = f"group {group.name}"
        if not isinstance(group_setup.make_strategy(), FixedStrategy):
            reasons.append(f"{name}: strategy {group.strategy.kind if group.strategy else setup.scenario.strategy.kind}"
                           " adapts to what it observes")
        if group.arrivals.workload().kind == "closed_loop":
            reasons.append(f"{name}: closed-loop arrivals wait for each result")
        if group.probe is not None:
            reasons.append(f"{name}: load probes")
        for direction in ("uplink", "downlink"):
            link = getattr(network, direction)
            if link.sharing != "dedicated":
                reasons.append(f"{name}: {direction} shared by a cell ({link.sharing})")
        if network.radio.promotion_delay_s or network.radio.tail_stages_s:
            reasons.append(f"{name}: radio state machine (RRC promotion and tail)")
    for server in setup.scenario.server_list:
        name = f"server {server.name}"
        if server.batching.max_batch > 1:
            reasons.append(f"{name}: batching")
        if server.background:
            reasons.append(f"{name}: other tenants (background)")
        if server.discipline != "fifo":
            reasons.append(f"{name}: discipline {server.discipline}")
        if server.queue_capacity is not None:
            reasons.append(f"{name}: queue capacity (drops)")
        if server.drop_expired:
            reasons.append(f"{name}: drop_expired")
    return reasons


def run_fast(setup: Setup, seed: int) -> RunOutput:
    """The run of ``setup`` with ``seed``, as the DES would give it; ``why_not(setup)`` must be empty."""
    import simpy

    from simsplit.wiring import build_devices, service_factor
    scenario = setup.scenario
    end_s = scenario.duration_s
    streams = RandomStreams(seed)
    devices, device_group = build_devices(simpy.Environment(), setup, streams)

    # arrivals: each device's instants, and SimPy's clock when it processes them
    times = [_arrival_times(device.arrivals, end_s) for device in devices]
    offsets = np.zeros(len(devices) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([t.size for t in times])
    at = np.concatenate(times) if times else np.empty(0)
    clock = kernels.event_times(at, offsets)
    if (clock >= end_s).any():  # an ulp past the end: that arrival (and the device's next ones) never happen
        keep = np.ones(at.size, dtype=bool)
        for d in range(len(devices)):
            late = np.flatnonzero(clock[offsets[d]:offsets[d + 1]] >= end_s)
            if late.size:
                keep[offsets[d] + late[0]:offsets[d + 1]] = False
        counts = np.add.reduceat(keep.astype(np.int64), offsets[:-1]) if at.size else np.zeros(len(devices), int)
        at, clock = at[keep], clock[keep]
        offsets[1:] = np.cumsum(counts)
    n = at.size
    device = np.repeat(np.arange(len(devices), dtype=np.int64), np.diff(offsets))
    sequence = kernels.processing_order(clock, offsets)

    # each device's plan (its strategy never changes its decision)
    plans = [d.plans[d.strategy.decide(0.0, d.observation)] for d in devices]
    plan_of = np.array([p.index for p in plans], dtype=np.int64)[device]
    local_of = np.array([p.local for p in plans], dtype=bool)[device]
    head = np.array([p.head_s for p in plans])[device]

    columns = {name: np.full(n, math.nan) for name in NUMERIC_FIELDS}
    columns["device"] = device
    columns["request_id"] = np.arange(n, dtype=np.int64) - offsets[:-1][device]
    columns["status"] = np.full(n, IN_FLIGHT, dtype=np.int8)
    columns["batch_size"] = np.zeros(n, dtype=np.int64)
    columns["plan"] = plan_of
    for name in ("payload_bits", "bits_up", "bits_down", "switch_s", "promotion_s"):
        columns[name] = np.zeros(n)
    columns["switched"] = np.zeros(n)
    columns["arrival_at_s"] = at
    wait, head_end = kernels.device_compute(at, head, offsets)
    columns["device_wait_s"], columns["head_s"] = wait, head
    result_at = np.full(n, math.inf)  # when the result event would fire (clock), inf: never

    local = np.flatnonzero(local_of)
    columns["finish_at_s"][local] = head_end[local]
    columns["propagation_s"][local] = 0.0
    result_at[local] = kernels.after(clock[local], head_end[local])

    up = np.flatnonzero(~local_of)
    lost_at = np.full(n, math.inf)  # when the loss event would fire (clock)
    intervals = _offloaded(up, devices, plans, device, sequence, clock, head_end, columns, result_at, lost_at,
                           streams, end_s, service_factor, setup)
    columns["status"][result_at < end_s] = COMPLETED
    lost = lost_at < end_s
    columns["status"][lost] = LOST
    columns["finish_at_s"][lost] = lost_at[lost]
    columns["tail_j"] = np.zeros(n)

    order = np.argsort(sequence, kind="stable")  # rows in the order the DES numbers its requests
    columns = {name: values[order] for name, values in columns.items()}
    probes = probe_columns([])
    probes["tail_j"] = np.zeros(0)
    servers = [_ServerRecord(config.name, record) for config, record in zip(scenario.server_list, intervals)]
    return RunOutput(columns, device_group, end_s, seed, servers, probes)


def _arrival_times(arrivals, end_s: float) -> np.ndarray:
    """The instants a device's arrivals process gives before ``end_s`` (s): at once where it can say, else
    one by one."""
    if hasattr(arrivals, "until"):
        return arrivals.until(end_s)
    out = []
    while (at := arrivals.next_at(out[-1] if out else 0.0)) < end_s:
        out.append(at)
    return np.array(out, dtype=float)


def _link(rows: np.ndarray, ready: np.ndarray, bits: np.ndarray, extra: np.ndarray, links: list,
          device: np.ndarray):
    """Transfers ``rows`` (grouped by device, each device's in the order its link takes them), ready at
    ``ready[rows]`` with ``bits[rows]`` holding the link ``extra[rows]`` s more, over the devices' dedicated
    ``links``: (start s, end s) per row. Constant and piecewise-constant channels go
    through compiled loops; any other channel through its own ``finish_time``, one transfer at a time."""
    owner = device[rows]
    start, end = np.empty(rows.size), np.empty(rows.size)
    if not rows.size:
        return start, end
    boundaries = np.flatnonzero(np.diff(owner)) + 1
    firsts, lasts = np.concatenate(([0], boundaries)), np.concatenate((boundaries, [rows.size]))
    kinds = [_channel_kind(links[owner[f]].channel) for f in firsts]
    for kind in ("constant", "steps"):
        chosen = [k for k, c in enumerate(kinds) if c[0] == kind]
        if not chosen:
            continue
        pick = np.concatenate([np.arange(firsts[k], lasts[k]) for k in chosen])
        offsets = np.concatenate(([0], np.cumsum([lasts[k] - firsts[k] for k in chosen])))
        arguments = (ready[rows][pick], bits[rows][pick], extra[rows][pick])
        if kind == "constant":
            rates = np.array([kinds[k][1].rate_bps for k in chosen])
            start[pick], end[pick] = kernels.constant_link(*arguments, rates, offsets)
        else:
            start[pick], end[pick] = kernels.step_link(*arguments, offsets, *_step_arrays([kinds[k] for k in chosen]))
    for k, (kind, _, _) in enumerate(kinds):
        if kind == "other":
            link = links[owner[firsts[k]]]
            for j in range(firsts[k], lasts[k]):
                start[j], end[j] = link.reserve(float(ready[rows[j]]), float(bits[rows[j]]), float(extra[rows[j]]))
    return start, end


def _channel_kind(channel) -> tuple[str, object, float]:
    """(``constant`` | ``steps`` | ``other``, the channel or its inner step channel, the shift s)."""
    from simsplit.channel.constant import ConstantChannel
    from simsplit.channel.shifted import ShiftedChannel
    from simsplit.channel.steps import StepChannel
    if type(channel) is ConstantChannel:
        return "constant", channel, 0.0
    if type(channel) is StepChannel:
        return "steps", channel, 0.0
    if type(channel) is ShiftedChannel and type(channel.inner) is StepChannel:
        return "steps", channel.inner, channel.offset_s
    return "other", channel, 0.0


def _step_arrays(kinds: list) -> tuple:
    """The arguments of :func:`kernels.step_link` after the transfers: each distinct step channel's arrays
    once, and which one (and what shift) each device reads."""
    from simsplit.channel.steps import ROUNDING
    index: dict[int, int] = {}
    channels = []
    for _, channel, _ in kinds:
        if id(channel) not in index:
            index[id(channel)] = len(channels)
            channels.append(channel)
    arrays = [c.arrays() for c in channels]
    bounds = np.concatenate(([0], np.cumsum([len(a[0]) for a in arrays]))).astype(np.int64)
    return (np.array([index[id(c)] for _, c, _ in kinds], dtype=np.int64),
            np.array([shift for _, _, shift in kinds]), bounds,
            *(np.concatenate([np.asarray(a[k], dtype=float) for a in arrays]) for k in range(3)),
            np.array([math.nan if c.period_s is None else c.period_s for c in channels]),
            np.array([a[3] for a in arrays]), ROUNDING)


def _runs(owner: np.ndarray) -> list[tuple[int, int, int]]:
    """(device, first, last) of each run of equal values in ``owner`` (rows grouped by device)."""
    if not owner.size:
        return []
    boundaries = np.flatnonzero(np.diff(owner)) + 1
    firsts = np.concatenate(([0], boundaries))
    lasts = np.concatenate((boundaries, [owner.size]))
    return list(zip(owner[firsts].tolist(), firsts.tolist(), lasts.tolist()))


def _losses(owner: np.ndarray, bits: np.ndarray, losses: list, plans: list | None = None):
    """Each transfer's packet losses, drawn from its device's loss process in the order the link takes
    them: (bits sent s, extra feedback delay s, lost, fraction erased or NaN). With ``plans`` (uploads), a
    payload sent once without retransmission whose plan has an erasure curve is delivered and its erased
    fraction kept (the curve sets its accuracy)."""
    sent, extra = bits.copy(), np.zeros(bits.size)
    lost, erased = np.zeros(bits.size, dtype=bool), np.full(bits.size, math.nan)
    for d, first, last in _runs(owner):
        loss = losses[d]
        if loss is None:
            continue
        if plans is not None and not loss.retransmit and plans[d].accuracy_vs_erasure is not None:
            erased[first:last] = [loss.erased_fraction(float(b)) for b in bits[first:last]]
            continue
        for j in range(first, last):
            sent[j], extra[j], lost[j] = loss.transmit(float(bits[j]))
    return sent, extra, lost, erased


def _offloaded(up, devices, plans, device, sequence, clock, head_end, columns, result_at, lost_at, streams,
               end_s, service_factor, setup) -> list[ServiceIntervals]:
    """Uplink, server and downlink of the offloaded requests ``up`` (rows in device-major order); return
    each server's busy intervals as :class:`~simsplit.server.EdgeServer` records them."""
    owner = device[up]
    bits = np.array([p.bits_up for p in plans])[owner]
    for d, first, last in _runs(owner):
        if plans[d].bits_quantiles is not None:
            bits[first:last] = _quantile_draws(plans[d].bits_quantiles, devices[d].payload_draw.take(last - first))
    columns["payload_bits"][up] = bits
    sent, extra, lost, erased = _losses(owner, bits, [d.uplink_loss for d in devices], plans)
    columns["bits_up"][up] = sent
    full = np.zeros((2, device.size))
    full[0, up], full[1, up] = sent, extra
    start, end = _link(up, head_end, full[0], full[1], [d.uplink for d in devices], device)
    _accuracy(up, owner, start, erased, devices, plans, columns)
    columns["uplink_wait_s"][up] = start - head_end[up]
    columns["uplink_start_at_s"][up] = start
    columns["uplink_s"][up] = end - start
    gone = np.flatnonzero(lost & np.isfinite(end))
    lost_at[up[gone]] = kernels.after(clock[up][gone], end[gone])
    delay = np.array([d.uplink.delay_s + p.extra_rtt_s / 2 for d, p in zip(devices, plans)])[owner]
    reaches = np.isfinite(end) & ~lost
    at_server = np.full(up.size, math.inf)
    at_server[reaches] = kernels.after(clock[up][reaches], end[reaches] + delay[reaches])
    arrived = at_server < end_s
    columns["server_arrival_at_s"][up[arrived]] = at_server[arrived]

    service_end = np.full(device.size, math.nan)
    intervals = []
    service_rank = np.zeros(device.size, dtype=np.int64)
    server_of = np.array([p.server for p in plans])[owner]
    service_of = np.array([p.service_s for p in plans])
    for s, config in enumerate(setup.scenario.server_list):
        mine = np.flatnonzero(arrived & (server_of == s))
        # simultaneous arrivals at the server in the order their events were scheduled: the order their
        # requests arrived at the devices
        jobs = up[mine[np.lexsort((sequence[up[mine]], at_server[mine]))]]
        factor = service_factor(config, streams)
        factors = factor.take(jobs.size) if factor is not None else np.full(jobs.size, math.nan)
        begin, finish = kernels.fifo_servers(columns["server_arrival_at_s"][jobs], service_of[device[jobs]],
                                             factors, config.workers, end_s)
        columns["service_start_at_s"][jobs] = begin
        started = ~np.isnan(begin)
        columns["batch_size"][jobs[started]] = 1
        served = finish < end_s
        columns["service_end_at_s"][jobs[served]] = finish[served]
        service_end[jobs[served]] = finish[served]
        service_rank[jobs] = np.arange(jobs.size)
        record = ServiceIntervals()
        record.starts.extend(begin[started])
        record.ends.extend(np.where(served, finish, math.nan)[started])
        record.background.extend(bytes(int(started.sum())))
        intervals.append(record)

    # downlink: each device's results in the order their service ended (ties: the order they started)
    back = np.flatnonzero(~np.isnan(service_end))
    back = back[np.lexsort((service_rank[back], service_end[back], device[back]))]
    owner = device[back]
    sent, extra, lost, _ = _losses(owner, np.array([p.bits_down for p in plans])[owner],
                                   [d.downlink_loss for d in devices])
    columns["bits_down"][back] = sent
    full = np.zeros((2, device.size))
    full[0, back], full[1, back] = sent, extra
    start, end = _link(back, service_end, full[0], full[1], [d.downlink for d in devices], device)
    columns["downlink_wait_s"][back] = start - service_end[back]
    columns["downlink_start_at_s"][back] = start
    columns["downlink_s"][back] = end - start
    columns["propagation_s"][back] = np.array([d.uplink.delay_s + d.downlink.delay_s + p.extra_rtt_s
                                               for d, p in zip(devices, plans)])[owner]
    gone = np.flatnonzero(lost & np.isfinite(end))
    lost_at[back[gone]] = kernels.after(service_end[back][gone], end[gone])
    kept = ~lost
    finish_at = end[kept] + np.array([d.downlink.delay_s for d in devices])[owner[kept]] \
        + np.array([p.extra_rtt_s / 2 for p in plans])[owner[kept]]
    columns["finish_at_s"][back[kept]] = finish_at
    delivered = np.isfinite(finish_at)
    result_at[back[kept][delivered]] = kernels.after(service_end[back[kept]][delivered], finish_at[delivered])
    return intervals


def _quantile_draws(quantiles, u: np.ndarray) -> np.ndarray:
    """:func:`simsplit.engine.quantile_draw` of every ``u`` at once, with the same arithmetic."""
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


def _accuracy(up, owner, start, erased, devices, plans, columns) -> None:
    """Where a plan's accuracy depends on the channel: on a fading uplink, by the SNR at the upload's start;
    sent once without retransmission, by the fraction of its packets erased (the lower of the two)."""
    for d, first, last in _runs(owner):
        plan, channel = plans[d], devices[d].uplink.channel
        rows = up[first:last]
        if plan.accuracy_vs_snr is not None and hasattr(channel, "snr_db_at"):
            columns["accuracy"][rows] = [float(np.interp(channel.snr_db_at(float(s)), *plan.accuracy_vs_snr))
                                         for s in start[first:last]]
        if not np.isnan(erased[first]):
            columns["accuracy"][rows] = [min(float(np.interp(e, *plan.accuracy_vs_erasure)), 1.0 if math.isnan(a) else a)
                                         for e, a in zip(erased[first:last], columns["accuracy"][rows])]


class _ServerRecord:
    """What a run's summary reads from a server: its name, busy intervals and (no) other tenants."""

    def __init__(self, name: str, intervals: ServiceIntervals):
        self.name = name
        self.intervals = intervals
        self.background_streams: list = []
