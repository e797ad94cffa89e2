"""A request's steps on the DES (:class:`RequestSteps`): its arrival and head on the device, its upload, its
arrival at the server, its service's end, its download and its result, each scheduled straight into SimPy's
event heap (:func:`~simsplit.core.schedule.event_queue`). This is the engine's per-event code;
:class:`~simsplit.engine.des.Engine` builds the run around it.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence

from simsplit.engine.fallback import LateUploads
from simsplit.engine.records import COMPLETED, DROPPED, LOST, TIMED_OUT, RecordSink, Request
from simsplit.engine.setup import CellRoutes, Setup
from simsplit.engine.tails import TailLedger
from simsplit.engine.transfers import Transfer, Transfers, transmission, upload
from simsplit.engine.wiring import Device, decision_of
from simsplit.model.server import EdgeServer


def quantile_draw(probabilities: Sequence[float], values: Sequence[float], u: float) -> float:
    """The value at probability ``u`` of the piecewise-linear quantile function through (probabilities,
    values): a draw from that distribution when ``u`` is uniform on [0, 1)."""
    k = bisect_right(probabilities, u) - 1
    if k >= len(probabilities) - 1:
        return values[-1]
    low, high = probabilities[k], probabilities[k + 1]
    return values[k] + (values[k + 1] - values[k]) * (u - low) / (high - low) if high > low else values[k + 1]


def drawn_payload_bits(bits_quantiles: tuple[Sequence[float], Sequence[float]], u: float) -> float:
    """A request's payload (bits) drawn from its plan's quantile function at ``u``, in whole bytes (rounded up:
    a coder writes whole bytes)."""
    probabilities, values = bits_quantiles
    return math.ceil(quantile_draw(probabilities, values, u) / 8.0) * 8.0


class RequestSteps(LateUploads):
    """The handlers of a request's events, for :class:`~simsplit.engine.des.Engine`, which sets the attributes
    below, and those :class:`~simsplit.core.schedule.DirectScheduling` schedules with, once per run; the
    handlers read them directly, one attribute lookup each."""

    setup: Setup
    end_s: float
    devices: list[Device]
    servers: list[EdgeServer]
    transfers: Transfers
    tails: TailLedger
    records: RecordSink
    in_flight: dict[int, Request]
    forwarded: int
    _arrived: int
    _deadline_s: float
    _switch_s: float
    _cell_routes: list[CellRoutes | None]
    _keeps_history: list[bool]
    _closed_loop: list[bool]

    # ------------------------------------------------------------ arrival and head
    def _schedule_arrival(self, device: Device, now_s: float) -> None:
        at = device.arrivals.next_at(now_s)
        if at < self.end_s:
            self._schedule(at, (device, at), self._on_arrival)

    def _on_arrival(self, event) -> None:
        """A closed-loop device's arrival (its next one is scheduled when its result returns)."""
        device, at = event._value
        self._arrive(device, at)

    def _arrive(self, device: Device, at: float) -> None:
        plan = device.fixed_plan
        if plan is None:
            observation = device.observation
            observation.compute_free_at_s = device.compute_free_at_s
            if device.cells is not None:  # what a moving device knows of its own radio: its cell, its handovers
                observation.serving_cell = device.cells.serving_at(at)
                observation.handovers = device.cells.handovers_between(0.0, at)
            if device.uplink_ledger is not None:
                device.uplink_ledger.fill(observation, at)
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
            drawn_payload_bits(plan.bits_quantiles, device.payload_draw())
        if device.uplink.shared:
            self._step(head_end, request, self.transfers.upload_ready)
            return
        send_at = head_end if device.always_connected else device.radio.wake(head_end)
        request.promotion_s = send_at - head_end
        if device.sends_as_planned:
            self.transfers.dedicated(device, request, True, send_at, request.payload_bits, 0.0, False)
            return
        if device.fallback is not None:
            self._send_or_give_up(device, request, send_at)
            return
        sent = upload(request, device.uplink_loss, device.uplink.channel, max(send_at, device.uplink.free_at_s))
        self.transfers.dedicated(device, request, True, send_at, *sent)

    # ------------------------------------------------------------ transfers
    def _uplink_done(self, request: Request, ready_at: float, start: float, end: float, lost: bool) -> None:
        """Record an upload (ready, started, ended at, s) and send the request on: to the server, or lost."""
        request.uplink_wait_s = start - ready_at
        request.uplink_start_at_s = start
        request.uplink_s = end - start
        device = self.devices[request.device]
        link = device.uplink
        if device.uplink_ledger is not None:
            device.uplink_ledger.note(link, request, ready_at, start, end)
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

    # ------------------------------------------------------------ server and downlink
    def _on_server_arrival(self, request: Request) -> None:
        request.server_arrival_at_s = self.env._now
        if request.uplink_s > 0 and self._keeps_history[request.device]:  # the device knows the upload's end
            observation = self.devices[request.device].observation
            observation.last_uplink_bps = request.bits_up / request.uplink_s
            observation.uplink_samples_bps.append(observation.last_uplink_bps)
            observation.uplink_sample_bits.append(request.bits_up)
            observation.uploads += 1
            observation.last_uplink_sample_at_s = request.server_arrival_at_s
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
        send_at = ready if device.always_connected else device.radio.wake(ready)
        request.promotion_s += send_at - ready
        if device.downlink.shared:
            sent = transmission(device.downlink_loss, request.plan.bits_down)
            self.transfers.send(device, Transfer(request, False, send_at, *sent))
        elif device.downlink_loss is None:
            self.transfers.dedicated(device, request, False, send_at, request.plan.bits_down, 0.0, False)
        else:
            self.transfers.dedicated(device, request, False, send_at,
                                     *transmission(device.downlink_loss, request.plan.bits_down))

    # ------------------------------------------------------------ the end of a request
    def _on_result(self, request: Request) -> None:
        request.status = COMPLETED
        if self._keeps_history[request.device]:
            observation = self.devices[request.device].observation
            observation.completed += 1
            observation.last_latency_s = request.finish_at_s - request.arrival_at_s
            observation.results.append((decision_of(request.plan, self.setup), observation.last_latency_s))
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
