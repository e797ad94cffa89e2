"""The SimPy model: devices -> head compute -> uplink -> edge server -> downlink -> result.

Each device computes one inference at a time and owns a dedicated uplink and
downlink; all devices share one edge server. Because a device's compute and
its links serve in arrival order and their durations are known functions of
the start instant, a request's head and upload are fixed when it arrives; the
engine schedules only three SimPy events per offloaded request (arrival at the
server, end of service, result back) and one per local request. Simultaneous
events run in the order they were scheduled (SimPy breaks ties on
``(time, priority, event id)``), so a seed gives the same run every time.
"""

from __future__ import annotations

import math
from bisect import bisect_right

import numpy as np
import simpy

from simsplit.background import BackgroundStream, intensity_path
from simsplit.channel import DedicatedLink
from simsplit.channel.loss import PacketLoss
from simsplit.channel.shared import ProcessorSharingLink, SharedFifoLink
from simsplit.radio import RadioState
from simsplit.records import (
    COMPLETED,
    DROPPED,
    LOST,
    TIMED_OUT,
    ProbeRecord,
    RecordSink,
    Request,
    RunOutput,
    probe_columns,
)
from simsplit.registry import arrivals
from simsplit.schedule import call_after
from simsplit.server import EdgeServer
from simsplit.setup import Setup
from simsplit.strategies import Observation
from simsplit.strategies.predict import radio_cost
from simsplit.streams import BlockSampler, RandomStreams


def quantile_draw(probabilities, values, u: float) -> float:
    """The value at probability ``u`` of the piecewise-linear quantile function through (probabilities,
    values): a draw from that distribution when ``u`` is uniform on [0, 1)."""
    k = bisect_right(probabilities, u) - 1
    if k >= len(probabilities) - 1:
        return values[-1]
    low, high = probabilities[k], probabilities[k + 1]
    return values[k] + (values[k + 1] - values[k]) * (u - low) / (high - low) if high > low else values[k + 1]


class _Device:
    __slots__ = ("index", "group", "strategy", "plans", "arrivals", "uplink", "downlink", "radio",
                 "uplink_loss", "downlink_loss", "observation", "compute_free_at_s", "next_request_id", "probe",
                 "last_plan", "payload_draw")

    def __init__(self, index, group, strategy, plans, arrivals, uplink, downlink, radio, uplink_loss, downlink_loss):
        self.index = index
        self.group = group
        self.strategy = strategy
        self.plans = plans
        self.arrivals = arrivals
        self.uplink = uplink
        self.downlink = downlink
        self.radio = radio
        self.uplink_loss = uplink_loss
        self.downlink_loss = downlink_loss
        self.observation = Observation(index)
        self.compute_free_at_s = 0.0
        self.next_request_id = 0
        self.probe = None
        self.last_plan = None
        self.payload_draw = None
        """Uniform draws for payload sizes (only when some plan has a size distribution)."""


class Engine:
    """One run of a :class:`Setup` with ``seed``; call :meth:`run` once.

    With ``monitor_period_s`` the run also samples, every that many seconds, the first device's true uplink
    capacity and every server's queue length and busy workers (for time-series figures).
    """

    def __init__(self, setup: Setup, seed: int, monitor_period_s: float | None = None):
        scenario = setup.scenario
        self.setup = setup
        self.seed = seed
        self.env = simpy.Environment()
        self.end_s = scenario.duration_s
        self._monitor_period_s = monitor_period_s
        self.monitor: list[tuple] = []
        streams = RandomStreams(seed)
        self._deadline_s = math.inf if scenario.deadline_s is None else scenario.deadline_s
        self._switch_s = scenario.switch_cost.time_ms * 1e-3
        self.servers = [self._server(config, streams) for config in scenario.server_list]
        self.records = RecordSink()
        """Finished requests, as rows."""
        self.in_flight: dict[int, Request] = {}
        """Requests not yet finished, by arrival sequence."""
        self._arrived = 0
        self.probes: list[ProbeRecord] = []
        self.devices: list[_Device] = []
        self._cells: dict[tuple[str, str], object] = {}
        device_group = []
        for g, group_setup in enumerate(setup.groups):
            group, network = group_setup.group, group_setup.network
            for i in range(group.count):
                name = f"devices/{group.name}/{i}"
                device = _Device(len(self.devices), g, group_setup.make_strategy(), group_setup.plans,
                                 arrivals.of(group.arrivals).build(group.arrivals, streams.generator(f"{name}/arrivals")),
                                 self._link(network, "uplink", group, name, streams),
                                 self._link(network, "downlink", group, name, streams),
                                 RadioState(network.radio.promotion_delay_s, sum(network.radio.tail_stages_s)),
                                 self._loss(network.uplink, f"{name}/uplink-loss", streams),
                                 self._loss(network.downlink, f"{name}/downlink-loss", streams))
                if any(plan.bits_quantiles is not None for plan in group_setup.plans.values()):
                    device.payload_draw = BlockSampler(streams.generator(f"{name}/payload"),
                                                       lambda g, n: g.random(n), grow=True)
                if group.probe is not None:
                    phase = float(streams.generator(f"{name}/probe").uniform(0.0, group.probe.period_s))
                    device.probe = (group.probe, group_setup.probe_server, phase)
                    device.observation.probe_server = group_setup.probe_server
                if getattr(device.strategy, "needs_truth", False):
                    device.strategy.bind(lambda option, now, device=device: self._truth(device, option, now))
                self.devices.append(device)
                device_group.append(g)
        self._device_group = np.array(device_group, dtype=np.int64)

    def _server(self, config, streams: RandomStreams) -> EdgeServer:
        """A server with its random service factor and its background streams, each on its own stream."""
        prefix = f"servers/{config.name}"
        multiplier = config.service_variability.multiplier
        factor = BlockSampler(streams.generator(f"{prefix}/service"), multiplier.draw, grow=True) \
            if multiplier.is_random else None
        batching = config.batching
        server = EdgeServer(self.env, workers=config.workers, on_done=self._after_service, name=config.name,
                            queue_capacity=config.queue_capacity, discipline=config.discipline,
                            max_batch=batching.max_batch, max_wait_s=batching.max_wait_ms * 1e-3,
                            mix_kinds=batching.mix_kinds, batch_factor=batching.scaling.factor,
                            service_factor=factor, drop_expired=config.drop_expired, on_expired=self._on_expired)
        for k, load in enumerate(config.background):
            rng = streams.generator(f"{prefix}/background/{k}")
            job_factor = load.service_variability.multiplier
            draw = BlockSampler(rng, job_factor.draw)
            mean_s = load.service_ms * 1e-3
            stream = BackgroundStream(self.env, server, intensity_path(load, config.workers, rng),
                                      BlockSampler(rng, lambda g, n: g.exponential(1.0, n)),
                                      lambda draw=draw, mean_s=mean_s: mean_s * draw(), self.end_s)
            server.background_streams.append(stream)
        return server

    @staticmethod
    def _loss(config, stream: str, streams: RandomStreams) -> PacketLoss | None:
        if config.loss is None:
            return None
        return PacketLoss(streams.generator(stream), **config.loss.process_options)

    @staticmethod
    def _transmission(loss: PacketLoss | None, size_bits: float) -> tuple[float, float, bool]:
        """(bits sent, extra feedback delay s, lost) of one payload over a link with ``loss``."""
        return (size_bits, 0.0, False) if loss is None else loss.transmit(size_bits)

    @staticmethod
    def _upload(request: Request, loss: PacketLoss | None, channel, start_s: float) -> tuple[float, float, bool]:
        """Send ``request``'s payload up: (bits sent, extra delay s, lost). Where its payload row gives an
        accuracy curve, the channel sets the request's accuracy: without retransmission, by the fraction of
        its packets erased (the request is delivered, not lost); on a fading uplink, by the SNR at
        ``start_s``."""
        plan, bits = request.plan, request.payload_bits
        if plan.accuracy_vs_snr is not None and hasattr(channel, "snr_db_at"):
            request.accuracy = float(np.interp(channel.snr_db_at(start_s), *plan.accuracy_vs_snr))
        if loss is not None and not loss.retransmit and plan.accuracy_vs_erasure is not None:
            erased = loss.erased_fraction(bits)
            request.accuracy = min(float(np.interp(erased, *plan.accuracy_vs_erasure)),
                                   1.0 if math.isnan(request.accuracy) else request.accuracy)
            return bits, 0.0, False
        return Engine._transmission(loss, bits)

    def _link(self, network, direction: str, group, device_name: str, streams: RandomStreams):
        """The device's link: its own dedicated one, or its cell's shared one (one per network block)."""
        config = getattr(network, direction)
        channels = self.setup.channels
        if config.sharing == "dedicated":
            channel = channels.shared(config) or channels.own(config, streams.generator(f"{device_name}/{direction}"))
            return DedicatedLink(channel, config.delay_s)
        scope = "network" if network is self.setup.scenario.network else f"devices/{group.name}/network"
        key = (scope, direction)
        if key not in self._cells:
            channel = channels.shared(config) or channels.own(config, streams.generator(f"cells/{scope}/{direction}"))
            cell = SharedFifoLink if config.sharing == "fifo" else ProcessorSharingLink
            self._cells[key] = cell(self.env, channel, config.delay_s)
        return self._cells[key]

    # ------------------------------------------------------------ arrivals
    def _schedule_arrival(self, device: _Device, now_s: float) -> None:
        at = device.arrivals.next_at(now_s)
        if at < self.end_s:
            self._schedule(at, (device, at), self._on_arrival)

    def _on_arrival(self, event) -> None:
        device, at = event._value
        self._arrive(device, at)
        if not device.arrivals.closed_loop:
            self._schedule_arrival(device, at)

    def _arrive(self, device: _Device, at: float) -> None:
        observation = device.observation
        observation.compute_free_at_s = device.compute_free_at_s
        plan = device.plans[device.strategy.decide(at, observation)]
        request = Request(device.index, device.next_request_id, plan, at, at + self._deadline_s, self._arrived)
        self.in_flight[self._arrived] = request
        self._arrived += 1
        request.probe_age_s = at - observation.probe_read_at_s
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
            self._schedule(head_end, request, self._on_result)
            return
        request.payload_bits = plan.bits_up if plan.bits_quantiles is None else \
            quantile_draw(*plan.bits_quantiles, device.payload_draw())
        if device.uplink.shared:
            self._schedule(head_end, request, self._on_uplink_ready)
            return
        send_at = device.radio.wake(head_end)
        bits, extra_s, lost = self._upload(request, device.uplink_loss, device.uplink.channel,
                                           max(send_at, device.uplink.free_at_s))
        up_start, up_end = device.uplink.reserve(send_at, bits, extra_s)
        device.radio.note(up_end)
        request.bits_up = bits
        request.promotion_s = send_at - head_end
        self._uplink_done(request, send_at, up_start, up_end, lost)

    def _uplink_done(self, request: Request, ready_at: float, start: float, end: float, lost: bool) -> None:
        """Record an upload (ready, started, ended at, s) and send the request on: to the server, or lost."""
        request.uplink_wait_s = start - ready_at
        request.uplink_start_at_s = start
        request.uplink_s = end - start
        if lost:
            self._schedule(end, request, self._on_lost)
        else:
            delay = self.devices[request.device].uplink.delay_s + request.plan.extra_rtt_s / 2
            self._schedule(end + delay, request, self._on_server_arrival)

    # ------------------------------------------------------------ shared links (events at every step)
    def _on_uplink_ready(self, event) -> None:
        request = event._value
        radio = self.devices[request.device].radio
        now = self.env.now
        send_at = radio.wake(now)
        radio.begin()
        request.promotion_s = send_at - now
        device = self.devices[request.device]
        job = (request, send_at) + self._upload(request, device.uplink_loss, device.uplink.channel, send_at)
        if send_at == now:
            self._send_up(job)
        else:
            self._schedule(send_at, job, self._submit_uplink)

    def _submit_uplink(self, event) -> None:
        self._send_up(event._value)

    def _send_up(self, job) -> None:
        request, _, bits, _, _ = job
        request.bits_up = bits
        self.devices[request.device].uplink.send(bits, job, self._uplink_sent)

    def _uplink_sent(self, job, start: float, end: float) -> None:
        request, ready_at, _, extra_s, lost = job
        end += extra_s  # retransmission feedback after the last bit
        self.devices[request.device].radio.finish(end)
        self._uplink_done(request, ready_at, start, end, lost)

    def _submit_downlink(self, event) -> None:
        self._send_down(event._value)

    def _send_down(self, job) -> None:
        request, _, bits, _, _ = job
        request.bits_down = bits
        self.devices[request.device].downlink.send(bits, job, self._downlink_sent)

    def _downlink_sent(self, job, start: float, end: float) -> None:
        request, ready_at, _, extra_s, lost = job
        end += extra_s
        self.devices[request.device].radio.finish(end)
        self._downlink_done(request, ready_at, start, end, lost)

    def _downlink_done(self, request: Request, ready_at: float, start: float, end: float, lost: bool) -> None:
        """Record a result's download (ready, started, ended at, s) and finish the request, or lose it."""
        device = self.devices[request.device]
        request.downlink_wait_s = start - ready_at
        request.downlink_start_at_s = start
        request.downlink_s = end - start
        request.propagation_s = device.uplink.delay_s + device.downlink.delay_s + request.plan.extra_rtt_s
        if lost:
            self._schedule(end, request, self._on_lost)
            return
        request.finish_at_s = end + device.downlink.delay_s + request.plan.extra_rtt_s / 2
        self._schedule(request.finish_at_s, request, self._on_result)

    def _schedule(self, at_s: float, value, callback) -> None:
        """Call ``callback(event)`` at ``at_s`` (s) with ``event._value = value``; never if ``at_s`` is infinite.

        The call goes straight into SimPy's event queue (:func:`~simsplit.schedule.call_after`)."""
        if at_s == math.inf:  # the link never delivers: the request stays in flight
            return
        delay = at_s - self.env._now  # may be an ulp below 0 when at_s was computed, not taken from the clock
        call_after(self.env, delay if delay > 0.0 else 0.0, value, callback)

    # ------------------------------------------------------------ server and downlink
    def _on_server_arrival(self, event) -> None:
        request = event._value
        request.server_arrival_at_s = self.env.now
        if request.uplink_s > 0:  # the upload's end is known to the device by now
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
        now = self.env.now
        send_at = device.radio.wake(now)
        request.promotion_s += send_at - now
        bits, extra_s, lost = self._transmission(device.downlink_loss, request.plan.bits_down)
        if device.downlink.shared:
            device.radio.begin()
            job = (request, send_at, bits, extra_s, lost)
            if send_at == now:
                self._send_down(job)
            else:
                self._schedule(send_at, job, self._submit_downlink)
            return
        down_start, down_end = device.downlink.reserve(send_at, bits, extra_s)
        device.radio.note(down_end)
        request.bits_down = bits
        self._downlink_done(request, send_at, down_start, down_end, lost)

    def _on_result(self, event) -> None:
        request = event._value
        request.status = COMPLETED
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

    def _on_lost(self, event) -> None:
        request = event._value
        request.status = LOST
        request.finish_at_s = self.env.now
        self._returned(request)

    def _returned(self, request: Request) -> None:
        """The request's record is final: keep it as a row, and start the next closed-loop input."""
        self.records.add(self.in_flight.pop(request.sequence))
        device = self.devices[request.device]
        if device.arrivals.closed_loop:
            self._schedule_arrival(device, request.finish_at_s)

    # ------------------------------------------------------------ the oracle's view
    def _truth(self, device: _Device, option, now: float) -> tuple[float, float]:
        """(latency s, energy J) of ``option`` for a request of ``device`` arriving now, from the true channel,
        link and queue state (others' future arrivals and random service factors unknown). The radio's
        promotions and tail are charged at their long-run share per request
        (:func:`~simsplit.strategies.predict.radio_cost`, on the true transfer times), not as the
        promotion this one request happens to wait for."""
        plan = device.plans[option.decision]
        group = self.setup.groups[device.group]
        head_end = max(now, device.compute_free_at_s) + plan.head_s
        energy = group.group.compute_power_w * plan.head_s
        if plan.local:
            return head_end - now, energy
        radio = group.network.radio
        model = device.strategy.device

        def transfer(link, ready, bits):
            if link.shared:
                active = getattr(link, "active", 0)
                return ready, link.channel.finish_time(ready, bits * (active + 1))
            start = max(ready, link.free_at_s)
            return start, link.channel.finish_time(start, bits)

        up_start, up_end = transfer(device.uplink, head_end, plan.bits_up)
        arrive = up_end + device.uplink.delay_s + plan.extra_rtt_s / 2
        done = self.servers[plan.server].predicted_start(arrive) + plan.service_s
        down_start, down_end = transfer(device.downlink, done, plan.bits_down)
        finish = down_end + device.downlink.delay_s + plan.extra_rtt_s / 2
        cost = radio_cost(model, max(down_start - up_end, 0.0), down_end - up_start, finish - now)
        energy += (radio.alpha_up_w_per_bps * plan.bits_up + radio.beta_w * (up_end - up_start)
                   + radio.alpha_down_w_per_bps * plan.bits_down + radio.beta_w * (down_end - down_start)
                   + cost.promotion_j + cost.tail_j)
        return finish - now + cost.promotion_s, energy

    # ------------------------------------------------------------ load probes
    def _probe_tick(self, event) -> None:
        device = event._value
        config, server, _ = device.probe
        now = self.env.now
        probe = ProbeRecord(device.index, server, now, config.bytes_up * 8, config.bytes_down * 8)
        self.probes.append(probe)
        self._probe_send(device, probe, now, up=True)
        if now + config.period_s < self.end_s:
            self._schedule(now + config.period_s, device, self._probe_tick)

    def _probe_send(self, device: _Device, probe: ProbeRecord, ready_at: float, up: bool) -> None:
        """Send the probe's request (up) or answer (down) over the device's link, then continue."""
        link = device.uplink if up else device.downlink
        bits = probe.bits_up if up else probe.bits_down
        send_at = device.radio.wake(ready_at)
        if link.shared:
            device.radio.begin()
            self._schedule(send_at, (device, probe, up), self._probe_submit)
            return
        start, end = link.reserve(send_at, bits)
        device.radio.note(end)
        self._probe_sent((device, probe, up), start, end)

    def _probe_submit(self, event) -> None:
        device, probe, up = event._value
        link = device.uplink if up else device.downlink
        link.send(probe.bits_up if up else probe.bits_down, event._value, self._probe_sent_shared)

    def _probe_sent_shared(self, job, start: float, end: float) -> None:
        job[0].radio.finish(end)
        self._probe_sent(job, start, end)

    def _probe_sent(self, job, start: float, end: float) -> None:
        device, probe, up = job
        half_rtt = self.setup.scenario.server_list[probe.server].extra_rtt_s / 2
        if up:
            probe.uplink_start_at_s, probe.uplink_s = start, end - start
            self._schedule(end + device.uplink.delay_s + half_rtt, (device, probe), self._probe_read)
        else:
            probe.downlink_start_at_s, probe.downlink_s = start, end - start
            self._schedule(end + device.downlink.delay_s + half_rtt, (device, probe), self._probe_back)

    def _probe_read(self, event) -> None:
        device, probe = event._value
        if probe.uplink_s > 0:  # the device has seen its probe's upload finish: one more throughput sample
            observation = device.observation
            observation.uplink_samples_bps.append(probe.bits_up / probe.uplink_s)
            observation.uploads += 1
        server = self.servers[probe.server]
        probe.read_at_s = self.env.now
        probe.queue_length = server.queue_length
        probe.busy_workers = server.busy
        probe.recent_wait_s = server.recent_wait_s
        self._probe_send(device, probe, self.env.now, up=False)

    def _probe_back(self, event) -> None:
        device, probe = event._value
        probe.received_at_s = self.env.now
        observation = device.observation
        if not probe.read_at_s <= observation.probe_read_at_s:  # a newer reading (NaN compares False)
            observation.probe_read_at_s = probe.read_at_s
            observation.probe_queue_length = probe.queue_length
            observation.probe_busy_workers = probe.busy_workers
            observation.probe_recent_wait_s = probe.recent_wait_s

    # ------------------------------------------------------------ monitor
    def _sample(self, event) -> None:
        now = self.env.now
        uplink = self.devices[0].uplink.channel if self.devices else None
        row = [now, uplink.rate_bps_at(now) if uplink is not None else math.nan]
        for server in self.servers:
            row += [server.queue_length, server.busy]
        self.monitor.append(tuple(row))
        if now + self._monitor_period_s < self.end_s:
            self._schedule(now + self._monitor_period_s, None, self._sample)

    def monitor_frame(self):
        """The monitor's samples as a DataFrame (None without a monitor)."""
        if self._monitor_period_s is None:
            return None
        import pandas as pd
        columns = ["at_s", "uplink_bps"]
        for config in self.setup.scenario.server_list:
            columns += [f"{config.name}_queue", f"{config.name}_busy"]
        return pd.DataFrame(self.monitor, columns=columns)

    # ------------------------------------------------------------ run
    def run(self) -> RunOutput:
        """Simulate until ``duration_s``; requests unfinished then stay ``in_flight``."""
        for device in self.devices:
            self._schedule_arrival(device, 0.0)
            if device.probe is not None:
                self._schedule(device.probe[2], device, self._probe_tick)
        for server in self.servers:
            for stream in server.background_streams:
                stream.start()
        if self._monitor_period_s is not None:
            self._schedule(0.0, None, self._sample)
        self.env.run(until=self.end_s)
        return RunOutput(self.records.columns(self.in_flight.values()), self._device_group, self.end_s, self.seed,
                         self.servers, probe_columns(self.probes))
