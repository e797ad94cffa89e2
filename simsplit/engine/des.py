"""The SimPy model of a request's life: device compute -> uplink -> server queue -> downlink -> result.

Each device computes one inference at a time. On a dedicated link a device's
compute and transfers serve in arrival order with durations that are known
functions of the start instant, so a request's head and upload are fixed when
it arrives and the engine schedules only three SimPy events per offloaded
request (arrival at the server, end of service, result back) and one per local
request; on a cell shared by several devices each transfer takes events at
its start and end. :class:`Engine` builds a run once — servers, devices and their links
(:mod:`simsplit.engine.wiring`), probes and the monitor beside them (:mod:`simsplit.engine.probes`,
:mod:`simsplit.engine.monitor`), the oracle's view of the true state — and hands out the open-loop
arrivals; a request's steps are :class:`~simsplit.engine.request_steps.RequestSteps`. Simultaneous
events run in the order they were scheduled (SimPy breaks ties on
``(time, priority, event id)``), so a seed gives the same run every time.
"""

from __future__ import annotations

import math
from heapq import heappush

import numpy as np
import simpy
from simpy.events import NORMAL

from simsplit.core import collector
from simsplit.core.schedule import Call, event_queue
from simsplit.core.streams import RandomStreams
from simsplit.core.units import MS
from simsplit.engine.merged_arrivals import ARRIVALS_PER_DEVICE, MergedArrivals
from simsplit.engine.monitor import Monitor
from simsplit.engine.probes import ProbeDriver
from simsplit.engine.records import RecordSink, Request, RunOutput, handover_times
from simsplit.engine.request_steps import RequestSteps
from simsplit.engine.setup import Setup
from simsplit.engine.tails import OpenShared, TailLedger
from simsplit.engine.transfers import Transfers
from simsplit.engine.wiring import build_devices, build_servers
from simsplit.model.strategies.truth import true_cost

SLAB_ARRIVALS = 4096
"""Open-loop arrivals drawn per slab of simulated time (:class:`~simsplit.engine.merged_arrivals.MergedArrivals`),
at least :data:`~simsplit.engine.merged_arrivals.ARRIVALS_PER_DEVICE` per device (a slab visits every device)."""


class Engine(RequestSteps):
    """One run of a :class:`Setup` with ``seed``; call :meth:`run` once.

    With ``monitor_period_s`` the run also samples the first device's true uplink capacity and every
    server's state every that many seconds (:class:`~simsplit.engine.monitor.Monitor`). Finished requests go
    to ``records`` (default: a :class:`RecordSink` holding them in memory; a run that streams its rows to a
    file hands in a sink that writes them as they become final, such as :class:`~simsplit.output.spool.SpoolSink`).
    """

    def __init__(self, setup: Setup, seed: int, monitor_period_s: float | None = None,
                 records: RecordSink | None = None):
        # At most 29 attributes: CPython gives an instance with 30 or more a slower attribute lookup (its dict
        # no longer shares its keys with the class), and the handlers read these per event.
        scenario = setup.scenario
        self.setup = setup
        self.seed = seed
        self.env = simpy.Environment()
        self._event_heap, self._event_numbers = event_queue(self.env)
        self.end_s = scenario.duration_s
        streams = RandomStreams(seed)
        self._deadline_s = math.inf if scenario.deadline_s is None else scenario.deadline_s
        self._switch_s = scenario.switch_cost.time_ms * MS
        self.servers = build_servers(self.env, setup, streams, self.end_s, self._after_service, self._on_expired)
        self.in_flight: dict[int, Request] = {}
        """Requests not yet finished, by arrival sequence."""
        self._arrived = 0
        self.devices, device_group = build_devices(self.env, setup, streams)
        self._cell_routes = [setup.groups[g].cell_routes for g in device_group]
        """Each device's group's :class:`~simsplit.engine.setup.CellRoutes` (None: cells reach servers alike)."""
        self.forwarded = 0
        """Results of requests arriving after the warm-up forwarded to the server of the device's new cell."""
        self._keeps_history = [getattr(device.strategy, "reads_history", True) for device in self.devices]
        """Whether each device's strategy reads its observation's history (samples, counts, last latency)."""
        self._closed_loop = [device.arrivals.closed_loop for device in self.devices]
        """Whether each device's next input waits for its last result."""
        self.records = RecordSink() if records is None else records
        """Finished requests, as rows."""
        self.tails = TailLedger(setup.groups, device_group, self.records)
        open_shared = OpenShared()
        self.records.before_flush = lambda: self.tails.resolve(self.env.now, open_shared)
        for device in self.devices:
            if getattr(device.strategy, "needs_truth", False):
                device.strategy.bind(lambda option, now, device=device: self._truth(device, option, now))
        self.transfers = Transfers(self.env, self.devices, self._schedule, self._uplink_done, self._downlink_done,
                                   open_shared)
        self.probes = ProbeDriver(self.env, self.servers, scenario.server_list, self._schedule, self.end_s,
                                  self.tails.note, open_shared)
        self._open_devices = [device for device in self.devices if not device.arrivals.closed_loop]
        self._open_arrivals = MergedArrivals([device.arrivals for device in self._open_devices], self.end_s)
        """The open-loop devices' arrivals (their instants do not depend on the run), a slab at a time."""
        self._open_numbers: list[int] = []
        """Event number reserved for each open-loop device's next arrival."""
        self._slabs = self._open_arrivals.slabs(max(SLAB_ARRIVALS, ARRIVALS_PER_DEVICE * len(self._open_devices)),
                                                self.end_s / 1024)
        self._slab: tuple[list, list, list] = ([], [], [])
        """The current slab's (open-loop device, arrival instant s, SimPy's clock at it s), row by row."""
        self._slab_next = 0
        self._open_arrival = Call(0, self._on_open_arrival)
        """The pending open-loop arrival (there is one at a time), its value its row in the slab."""
        self._slab_left: list[int] = []
        """Each open-loop device's arrivals in the current slab not yet processed."""
        self.monitor = None if monitor_period_s is None else Monitor(
            self.env, self.devices, self.servers, [s.name for s in scenario.server_list], self._schedule,
            monitor_period_s, self.end_s)

    # ------------------------------------------------------------ open-loop arrivals
    def _push_open_arrival(self) -> None:
        """Put the next open-loop arrival (in the order SimPy would process them) into SimPy's event heap, with
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
        heappush(self._event_heap, (self._slab[2][k], NORMAL, self._open_numbers[self._slab[0][k]], arrival))

    def _on_open_arrival(self, event) -> None:
        k = event._value
        d = self._slab[0][k]
        self._arrive(self._open_devices[d], self._slab[1][k])
        self._slab_left[d] -= 1
        if self._slab_left[d] or self._open_arrivals.more(d):  # it may arrive again
            self._open_numbers[d] = next(self._event_numbers)  # the event number scheduling its next one would take
        self._push_open_arrival()

    def _truth(self, device, option, now: float) -> tuple[float, float]:
        """The oracle's view: (latency s, energy J) of ``option`` from the true state
        (:func:`~simsplit.model.strategies.truth.true_cost`)."""
        return true_cost(device, option, now, self.servers, getattr(device.strategy, "present_window_s", None))

    # ------------------------------------------------------------ run
    def run(self) -> RunOutput:
        """Simulate until ``duration_s``; requests unfinished then stay ``in_flight``."""
        for device in self.devices:
            if device.arrivals.closed_loop:
                self._schedule_arrival(device, 0.0)
            else:
                self._open_numbers.append(next(self._event_numbers))  # as scheduling its first arrival would
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
        return RunOutput(columns, self.setup.device_group(), self.end_s, self.seed, self.servers, probes,
                         handover_times(self.devices), self.forwarded if routed else None)
