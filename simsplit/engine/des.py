"""The SimPy model of a request's life: device compute -> uplink -> server queue -> downlink -> result.

Each device computes one inference at a time. On a dedicated link a device's
compute and transfers serve in arrival order with durations that are known
functions of the start instant, so a request's head and upload are fixed when
it arrives and the engine schedules only three SimPy events per offloaded
request (arrival at the server, end of service, result back) and one per local
request; on a cell shared by several devices each transfer takes events at
its start and end. Servers, devices and their links are built by
:mod:`simsplit.engine.wiring`; probes and the monitor run beside (:mod:`simsplit.engine.probes`,
:mod:`simsplit.engine.monitor`). Simultaneous
events run in the order they were scheduled (SimPy breaks ties on
``(time, priority, event id)``), so a seed gives the same run every time.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from heapq import heappush

import numpy as np
import simpy
from simpy.events import NORMAL

from simsplit.core import collector
from simsplit.core.schedule import Call
from simsplit.core.streams import RandomStreams
from simsplit.core.units import MS
from simsplit.engine.merged_arrivals import ARRIVALS_PER_DEVICE, MergedArrivals
from simsplit.engine.monitor import Monitor
from simsplit.engine.probes import ProbeDriver
from simsplit.engine.records import (
    COMPLETED,
    DROPPED,
    LOST,
    TIMED_OUT,
    RecordSink,
    Request,
    RunOutput,
    handover_times,
)
from simsplit.engine.setup import Setup
from simsplit.engine.tails import OpenShared, TailLedger
from simsplit.engine.transfers import Transfer, Transfers, transmission, upload
from simsplit.engine.wiring import build_devices, build_servers
from simsplit.model.strategies.truth import true_cost

SLAB_ARRIVALS = 4096
"""Open-loop arrivals drawn per slab of simulated time (:class:`~simsplit.engine.merged_arrivals.MergedArrivals`),
at least :data:`~simsplit.engine.merged_arrivals.ARRIVALS_PER_DEVICE` per device (a slab visits every device)."""


def quantile_draw(probabilities, values, u: float) -> float:
    """The value at probability ``u`` of the piecewise-linear quantile function through (probabilities,
    values): a draw from that distribution when ``u`` is uniform on [0, 1)."""
    k = bisect_right(probabilities, u) - 1
    if k >= len(probabilities) - 1:
        return values[-1]
    low, high = probabilities[k], probabilities[k + 1]
    return values[k] + (values[k + 1] - values[k]) * (u - low) / (high - low) if high > low else values[k + 1]


class Engine:
    """One run of a :class:`Setup` with ``seed``; call :meth:`run` once.

    With ``monitor_period_s`` the run also samples the first device's true uplink capacity and every
    server's state every that many seconds (:class:`~simsplit.engine.monitor.Monitor`). Finished requests go
    to ``records`` (default: a :class:`RecordSink` holding them in memory; a run that streams its rows to a
    file hands in a sink that writes them as they become final, such as :class:`~simsplit.output.spool.SpoolSink`).
    """

    def __init__(self, setup: Setup, seed: int, monitor_period_s: float | None = None,
                 records: RecordSink | None = None):
        scenario = setup.scenario
        self.setup = setup
        self.seed = seed
        self.env = simpy.Environment()
        self.end_s = scenario.duration_s
        streams = RandomStreams(seed)
        self._deadline_s = math.inf if scenario.deadline_s is None else scenario.deadline_s
        self._switch_s = scenario.switch_cost.time_ms * MS
        self.servers = build_servers(self.env, setup, streams, self.end_s, self._after_service, self._on_expired)
        self.in_flight: dict[int, Request] = {}
        """Requests not yet finished, by arrival sequence."""
        self._arrived = 0
        self.devices, self._device_group = build_devices(self.env, setup, streams)
        self._cell_routes = [setup.groups[g].cell_routes for g in self._device_group]
        """Each device's group's :class:`~simsplit.engine.setup.CellRoutes` (None: cells reach servers alike)."""
        self.forwarded = 0
        """Results of requests arriving after the warm-up forwarded to the server of the device's new cell."""
        self._keeps_history = [getattr(device.strategy, "reads_history", True) for device in self.devices]
        """Whether each device's strategy reads its observation's history (samples, counts, last latency)."""
        self._closed_loop = [device.arrivals.closed_loop for device in self.devices]
        """Whether each device's next input waits for its last result."""
        self.records = RecordSink() if records is None else records
        """Finished requests, as rows."""
        self.tails = TailLedger(setup.groups, self._device_group, self.records)
        self.open_shared = OpenShared()
        self.records.before_flush = lambda: self.tails.resolve(self.env.now, self.open_shared)
        for device in self.devices:
            if getattr(device.strategy, "needs_truth", False):
                device.strategy.bind(lambda option, now, device=device: self._truth(device, option, now))
        self.transfers = Transfers(self.env, self.devices, self._schedule, self._uplink_done, self._downlink_done,
                                   self.open_shared)
        self.probes = ProbeDriver(self.env, self.servers, scenario.server_list, self._schedule, self.end_s,
                                  self.tails.note, self.open_shared)
        self._open_devices = [device for device in self.devices if not device.arrivals.closed_loop]
        self._open_arrivals = MergedArrivals([device.arrivals for device in self._open_devices], self.end_s)
        """The open-loop devices' arrivals (their instants do not depend on the run), a slab at a time."""
        self._open_numbers: list[int] = []
        """Event number reserved for each open-loop device's next arrival."""
        self._slabs = self._open_arrivals.slabs(max(SLAB_ARRIVALS, ARRIVALS_PER_DEVICE * len(self._open_devices)),
                                                self.end_s / 1024)
        self._slab, self._slab_next = ([], [], []), 0
        self._open_arrival = Call(0, None)
        """The pending open-loop arrival (there is one at a time), its value its row in the slab."""
        self._slab_left: list[int] = []
        """Each open-loop device's arrivals in the current slab not yet processed."""
        self.monitor = None if monitor_period_s is None else Monitor(
            self.env, self.devices, self.servers, [s.name for s in scenario.server_list], self._schedule,
            monitor_period_s, self.end_s)

    # ------------------------------------------------------------ arrivals
    def _push_open_arrival(self) -> None:
        """Put the next open-loop arrival (in the order SimPy would process them) into SimPy's queue, with
        the event number reserved for it when its predecessor was processed: one pending arrival for the
        whole fleet instead of one per device, and the same order of events."""
        if self._slab_next == len(self._slab[0]):
            for _, device, at, clock, _ in self._slabs:
                if at.size:
                    self._slab, self._slab_next = (device.tolist(), at.tolist(), clock.tolist()), 0
                    self._slab_left = np.bincount(device, minlength=len(self._open_devices)).tolist()
                    break
            else:
                return  # no open-loop arrival left before the end
        k = self._slab_next
        self._slab_next = k + 1
        arrival = self._open_arrival
        arrival.callbacks = [self._on_open_arrival]
        arrival._value = k
        heappush(self.env._queue, (self._slab[2][k], NORMAL, self._open_numbers[self._slab[0][k]], arrival))

    def _on_open_arrival(self, event) -> None:
        k = event._value
        d = self._slab[0][k]
        self._arrive(self._open_devices[d], self._slab[1][k])
        self._slab_left[d] -= 1
        if self._slab_left[d] or self._open_arrivals.more(d):  # it may arrive again
            self._open_numbers[d] = next(self.env._eid)  # the event number scheduling its next one would take
        self._push_open_arrival()

    def _schedule_arrival(self, device, now_s: float) -> None:
        at = device.arrivals.next_at(now_s)
        if at < self.end_s:
            self._schedule(at, (device, at), self._on_arrival)

    def _on_arrival(self, event) -> None:
        """A closed-loop device's arrival (its next one is scheduled when its result returns)."""
        device, at = event._value
        self._arrive(device, at)

    def _arrive(self, device, at: float) -> None:
        plan = device.fixed_plan
        if plan is None:
            observation = device.observation
            observation.compute_free_at_s = device.compute_free_at_s
            if device.cells is not None:  # what a moving device knows of its own radio: its cell, its handovers
                observation.serving_cell = device.cells.serving_at(at)
                observation.handovers = device.cells.handovers_between(0.0, at)
            plan = device.plans[device.strategy.decide(at, observation)]
        request = Request(device.index, device.next_request_id, plan, at, at + self._deadline_s, self._arrived)
        self.in_flight[self._arrived] = request
        self._arrived += 1
        if device.probe is not None:  # without probes the age stays NaN
            request.probe_age_s = at - device.observation.probe_read_at_s
        device.next_request_id += 1
        start = at if at > device.compute_free_at_s else device.compute_free_at_s
        last = device.last_plan
        if last is not None and last.batch_key != plan.batch_key:  # split or bottleneck changed
            request.switched = 1
            request.switch_s = self._switch_s
            start += self._switch_s
        device.last_plan = plan
        head_end = start + plan.head_s
        device.compute_free_at_s = head_end
        request.device_wait_s = start - request.switch_s - at
        request.head_s = plan.head_s
        if plan.local:
            request.finish_at_s = head_end
            request.propagation_s = 0.0
            self._step(head_end, request, self._on_result)
            return
        request.payload_bits = plan.bits_up if plan.bits_quantiles is None else \
            quantile_draw(*plan.bits_quantiles, device.payload_draw())
        if device.uplink.shared:
            self._step(head_end, request, self.transfers.upload_ready)
            return
        radio = device.radio
        send_at = radio.wake(head_end) if radio.promotion_s else head_end
        request.promotion_s = send_at - head_end
        if device.uplink_loss is None and plan.accuracy_vs_snr is None:  # sent once, as planned
            self.transfers.dedicated(device, request, True, send_at, request.payload_bits, 0.0, False)
            return
        sent = upload(request, device.uplink_loss, device.uplink.channel, max(send_at, device.uplink.free_at_s))
        self.transfers.dedicated(device, request, True, send_at, *sent)

    def _uplink_done(self, request: Request, ready_at: float, start: float, end: float, lost: bool) -> None:
        """Record an upload (ready, started, ended at, s) and send the request on: to the server, or lost."""
        request.uplink_wait_s = start - ready_at
        request.uplink_start_at_s = start
        request.uplink_s = end - start
        link = self.devices[request.device].uplink
        counter = getattr(link.channel, "handovers_between", None)
        if counter is not None:
            request.handovers += counter(start, end)
            if not link.shared:  # a shared cell adds the bits it resent itself
                request.bits_up += link.channel.resent_bits(start, request.bits_up)
        if self.tails.metered:
            self.tails.note(request.device, start, request.uplink_s, (0, request.sequence), request.sequence)
        routes = self._cell_routes[request.device]
        if routes is not None and not lost:  # served behind the cell that carried the last bit
            server = routes.cell_server[link.channel.cell_before(end)]
            if server != request.plan.server:
                request.plan = routes.twins[(request.plan.index, server)]
        if lost:
            self._step(end, request, self._on_lost)
        else:
            delay = link.delay_s + request.plan.extra_rtt_s / 2
            self._step(end + delay, request, self._on_server_arrival)

    def _downlink_done(self, request: Request, ready_at: float, start: float, end: float, lost: bool) -> None:
        """Record a result's download (ready, started, ended at, s) and finish the request, or lose it."""
        device = self.devices[request.device]
        request.downlink_wait_s = start - ready_at
        request.downlink_start_at_s = start
        request.downlink_s = end - start
        counter = getattr(device.downlink.channel, "handovers_between", None)
        if counter is not None:
            request.handovers += counter(start, end)
            if not device.downlink.shared:
                request.bits_down += device.downlink.channel.resent_bits(start, request.bits_down)
        if self.tails.metered:
            self.tails.note(request.device, start, request.downlink_s, (1, request.sequence), request.sequence)
        request.propagation_s = device.uplink.delay_s + device.downlink.delay_s + request.plan.extra_rtt_s \
            + request.forward_s
        if lost:
            self._step(end, request, self._on_lost)
            return
        request.finish_at_s = end + device.downlink.delay_s + request.plan.extra_rtt_s / 2
        self._step(request.finish_at_s, request, self._on_result)

    def _schedule(self, at_s: float, value, callback) -> None:
        """Call ``callback(event)`` at ``at_s`` (s) with ``event._value = value``; never if ``at_s`` is infinite.

        The call goes straight into SimPy's event queue, as :func:`~simsplit.core.schedule.call_after` puts it."""
        if at_s == math.inf:  # the link never delivers: the request stays in flight
            return
        env = self.env
        now = env._now
        delay = at_s - now  # may be an ulp below 0 when at_s was computed, not taken from the clock
        delay = delay if delay > 0.0 else 0.0  # noqa: FURB136 (as call_after is given it)
        heappush(env._queue, (now + delay, NORMAL, next(env._eid), Call(value, callback)))

    def _step(self, at_s: float, request: Request, callback) -> None:
        """Call ``callback(request)`` at ``at_s`` (s), as :meth:`_schedule` would, the request itself being
        the event (it has one step pending at a time); never if ``at_s`` is infinite."""
        if at_s == math.inf:
            return
        env = self.env
        now = env._now
        delay = at_s - now
        delay = delay if delay > 0.0 else 0.0  # noqa: FURB136 (as call_after is given it)
        request.callbacks = [callback]
        heappush(env._queue, (now + delay, NORMAL, next(env._eid), request))

    # ------------------------------------------------------------ server and downlink
    def _on_server_arrival(self, request: Request) -> None:
        request.server_arrival_at_s = self.env._now
        if request.uplink_s > 0 and self._keeps_history[request.device]:  # the device knows the upload's end
            observation = self.devices[request.device].observation
            observation.last_uplink_bps = request.bits_up / request.uplink_s
            observation.uplink_samples_bps.append(observation.last_uplink_bps)
            observation.uploads += 1
        request.base_service_s = request.plan.service_s
        if not self.servers[request.plan.server].submit(request):
            request.status = DROPPED
            request.finish_at_s = self.env.now
            self._returned(request)

    def _after_service(self, request: Request) -> None:
        if request.batch_key is None:
            return  # another tenant's job
        device = self.devices[request.device]
        now = ready = self.env._now
        routes = self._cell_routes[request.device]
        if routes is not None and routes.cell_server[device.uplink.channel.cell_at(now)] != request.plan.server:
            request.forward_s = routes.forward_s  # the device moved on: its new cell's server forwards the result
            self.forwarded += request.arrival_at_s >= self.setup.scenario.warmup_s
            ready = now + routes.forward_s
        radio = device.radio
        send_at = radio.wake(ready) if radio.promotion_s else ready
        request.promotion_s += send_at - ready
        if device.downlink.shared:
            sent = transmission(device.downlink_loss, request.plan.bits_down)
            self.transfers.send(device, Transfer(request, False, send_at, *sent))
        elif device.downlink_loss is None:
            self.transfers.dedicated(device, request, False, send_at, request.plan.bits_down, 0.0, False)
        else:
            self.transfers.dedicated(device, request, False, send_at,
                                     *transmission(device.downlink_loss, request.plan.bits_down))

    def _on_result(self, request: Request) -> None:
        request.status = COMPLETED
        if self._keeps_history[request.device]:
            observation = self.devices[request.device].observation
            observation.completed += 1
            observation.last_latency_s = request.finish_at_s - request.arrival_at_s
            if request.downlink_s > 0:
                observation.downlink_samples_bps.append(request.bits_down / request.downlink_s)
                observation.downloads += 1
        self._returned(request)

    def _on_expired(self, request) -> None:
        """The server removed a request whose deadline passed while it waited."""
        request.status = TIMED_OUT
        request.finish_at_s = self.env.now
        self._returned(request)

    def _on_lost(self, request: Request) -> None:
        request.status = LOST
        request.finish_at_s = self.env.now
        self._returned(request)

    def _returned(self, request: Request) -> None:
        """The request's record is final: keep it as a row, and start the next closed-loop input."""
        self.records.add(self.in_flight.pop(request.sequence))
        if self._closed_loop[request.device]:
            self._schedule_arrival(self.devices[request.device], request.finish_at_s)

    def _truth(self, device, option, now: float) -> tuple[float, float]:
        """The oracle's view: (latency s, energy J) of ``option`` from the true state
        (:func:`~simsplit.model.strategies.truth.true_cost`)."""
        return true_cost(device, option, now, self.servers)

    # ------------------------------------------------------------ run
    def run(self) -> RunOutput:
        """Simulate until ``duration_s``; requests unfinished then stay ``in_flight``."""
        for device in self.devices:
            if device.arrivals.closed_loop:
                self._schedule_arrival(device, 0.0)
            else:
                self._open_numbers.append(next(self.env._eid))  # as scheduling its first arrival would
            if device.probe is not None:
                self.probes.start(device)
        for server in self.servers:
            for stream in server.background_streams:
                stream.start()
        if self.monitor is not None:
            self.monitor.start()
        self._push_open_arrival()
        with collector.running(len(self.devices)):
            self.env.run(until=self.end_s)
        self.tails.finish()
        probes = self.probes.log.columns()
        probes["tail_j"] = np.array([self.tails.probe_tail_j.get(k, 0.0) for k in range(self.probes.log.sent)])
        columns = self.records.close(self.in_flight.values(), self.tails.request_tail_j)
        routed = any(routes is not None for routes in self._cell_routes)
        return RunOutput(columns, self._device_group, self.end_s, self.seed, self.servers, probes,
                         handover_times(self.devices), self.forwarded if routed else None)
