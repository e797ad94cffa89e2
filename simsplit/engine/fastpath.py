"""The fast path: a run of a static scenario computed with array operations and compiled loops instead of
SimPy events, equal to the DES request for request.

Where nothing a device does depends on what it observed — local, full offload and fixed splits, open-loop
arrivals, dedicated links, FIFO servers without other tenants — a request's timeline is a chain of
recursions: the device's compute queue, its uplink's queue, the server's k-worker FIFO queue
(Kiefer-Wolfowitz) and its downlink's queue. The fast path evaluates each stage for every request at once
(:mod:`simsplit.engine.fastpath_stages`, with the compiled loops of :mod:`simsplit.engine.kernels` and the
links' arrays of :mod:`simsplit.engine.fastpath_links`), draws the same random numbers from the same named
streams, replays SimPy's order of simultaneous events and its clock arithmetic, and marks what the DES
would not have reached by the end of the run, so its per-request table equals the DES's bit for bit
(tests/test_fastpath.py).

:func:`simsplit.engine.eligibility.why_not` lists what keeps a scenario on the DES; ``engine: auto`` runs the
fast path when that list is empty. See docs/engine.md.
"""

from __future__ import annotations

import math

import numpy as np

from simsplit.core.heap import keep_freed_blocks
from simsplit.core.streams import RandomStreams
from simsplit.engine.eligibility import WINDOW_ROWS, why_not  # noqa: F401 (why_not re-exported)
from simsplit.engine.fastpath_links import LinkArrays
from simsplit.engine.fastpath_monitor import MonitorSeries
from simsplit.engine.fastpath_radio import RADIO_WINDOW_ROWS, RadioStages, radio_stages
from simsplit.engine.fastpath_serving import ServerQueue
from simsplit.engine.merged_arrivals import MergedArrivals
from simsplit.engine.radio_kernel import RadioArrays
from simsplit.engine.radio_kernel import compiles as radio_compiles
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
from simsplit.engine.transfers import counts_erasures


def run_fast(setup: Setup, seed: int, sink=None, window_rows: int = WINDOW_ROWS,
             monitor_period_s: float | None = None) -> RunOutput:
    """The run of ``setup`` with ``seed``, as the DES would give it; ``why_not(setup)`` must be empty.

    The requests go through the stages a window of ``window_rows`` arrivals at a time, each stage carrying
    its state (processors, links, workers, random streams) to the next window, so memory holds a window,
    not the run. With ``sink``, each finished chunk of rows (columns in arrival order, ``tail_j``
    included) goes to ``sink(columns)`` and the output's columns are None; else they are all returned. With
    ``monitor_period_s`` the output's ``timeseries`` holds the samples the DES's monitor would take
    (:mod:`simsplit.engine.fastpath_monitor`).
    """
    run = _FastRun(setup, seed, monitor_period_s)
    if run.tails is not None:  # a window of the radio's state machine is computed in rounds, each restoring it
        window_rows = min(window_rows, RADIO_WINDOW_ROWS)
    chunks = []
    for chunk in run.chunks(window_rows):
        if sink is not None:
            sink(chunk)
        else:
            chunks.append(chunk)
    columns = None if sink is not None else {name: np.concatenate([c[name] for c in chunks]) for name in chunks[0]}
    probes = probe_columns([])
    probes["tail_j"] = np.zeros(0)
    names = [server.name for server in setup.scenario.server_list]
    timeseries = None if run.monitor is None else run.monitor.frame(run.devices, names)
    return RunOutput(columns, run.device_group, run.end_s, seed,  # type: ignore[arg-type]  # streamed: no columns
                     run.server_records(), probes, handover_times(run.devices), timeseries=timeseries)


def _per_device(plans: list, field: str, dtype=None) -> np.ndarray:
    """Each device's plan's ``field``, as an array indexed by device."""
    return np.array([getattr(plan, field) for plan in plans], dtype=dtype)


_FRESH: dict[str, tuple[type, float]] = {name: (float, math.nan) for name in NUMERIC_FIELDS}
_FRESH.update({"status": (np.int8, IN_FLIGHT), "batch_size": (np.int64, 0), "handovers": (np.int64, 0),
               "device": (np.int64, 0), "request_id": (np.int64, 0), "plan": (np.int64, 0), "switched": (float, 0.0),
               "_clock": (float, 0.0), "_result_at": (float, math.inf), "_lost_at": (float, math.inf),
               "_done": (bool, False)})
_FRESH.update({name: (float, 0.0) for name in ("payload_bits", "bits_up", "bits_down", "switch_s", "promotion_s")})
_FRESH.update({"_tails_open": (np.int64, 0), "tail_j": (float, 0.0)})
"""Each buffer column's type and its value before the request reaches the stage that sets it."""


class _FastRun(RadioStages):
    """A fast-path run: each window's arrivals in SimPy's order of them, then through the stages
    (:class:`~simsplit.engine.fastpath_stages.WindowStages`), one window at a time (:meth:`chunks`)."""

    def __init__(self, setup: Setup, seed: int, monitor_period_s: float | None = None):
        import simpy

        from simsplit.engine.fastpath_tenants import tenant_jobs
        from simsplit.engine.wiring import background_sources, build_devices, service_factor
        keep_freed_blocks()  # window-sized arrays reused from the heap, not faulted in afresh (simsplit.core.heap)
        scenario = setup.scenario
        self.end_s = scenario.duration_s
        self.warmup_s = scenario.warmup_s
        self.deadline_s = math.inf if scenario.deadline_s is None else scenario.deadline_s
        streams = RandomStreams(seed)
        self.devices, self.device_group = build_devices(simpy.Environment(), setup, streams)
        self.arrivals = MergedArrivals([device.arrivals for device in self.devices], self.end_s)
        """Every device's arrivals, handed out a slab of simulated time at a time."""
        self._keep_plans(self.devices)
        self.compute_free = np.zeros(len(self.devices))
        self.last_clock = np.full(len(self.devices), -math.inf)
        self._keep_cells(self.devices)
        self.uplinks = LinkArrays([d.uplink for d in self.devices])
        self.downlinks = LinkArrays([d.downlink for d in self.devices])
        self.servers = [ServerQueue(config, service_factor(config, streams),
                                    [tenant_jobs(source, self.end_s) for source in background_sources(config, streams)])
                        for config in scenario.server_list]
        for k, server in enumerate(self.servers):
            server.index = k
        self.monitor = None if monitor_period_s is None else MonitorSeries(monitor_period_s, self.end_s,
                                                                             len(self.servers))
        self.tails, self.metered, self.radio_pending = radio_stages(setup, self.device_group)
        if self.tails is not None:
            self.tails.stages = self
        self.radio_arrays = (RadioArrays(self.devices, self.uplinks, self.downlinks) if self.tails is not None
                             and radio_compiles(self.devices, self.uplinks, self.downlinks) else None)
        self.back = (np.empty(0, dtype=np.int64), np.empty(0))
        """(rows, service end s) of results whose download waits for the next window, in the order their
        service started (per server)."""
        self.base = 0
        self.buffer = {}
        """Columns of rows ``base`` onwards not yet handed out."""

    def _keep_cells(self, devices: list) -> None:
        """The shared uplinks' replay (:class:`~simsplit.engine.cell_kernel.CompiledUplinks`, or
        :class:`~simsplit.engine.fastpath_cells.SharedUplinks` for other channels) and each device's
        cell in it (-1: its own link)."""
        from simsplit.engine.cell_kernel import CompiledUplinks
        from simsplit.engine.fastpath_cells import CellWaiting, SharedUplinks
        index: dict[int, int] = {}
        links: list = []
        self.cell_of = np.full(len(devices), -1, dtype=np.int64)
        for d, device in enumerate(devices):
            if device.uplink.shared:
                if id(device.uplink) not in index:
                    index[id(device.uplink)] = len(links)
                    links.append(device.uplink)
                self.cell_of[d] = index[id(device.uplink)]
        self.cells = None
        if links:
            arrays = LinkArrays(links)
            self.cells = CompiledUplinks(arrays) if arrays.compiles else SharedUplinks(links)
        self.cell_waiting = CellWaiting()
        self.cell_sequence = 0

    def _keep_plans(self, devices: list) -> None:
        """Each device's plan (its strategy never changes its decision), as per-device arrays."""
        self.plans = plans = [d.plans[d.strategy.decide(0.0, d.observation)] for d in devices]
        self.plan_index = _per_device(plans, "index", np.int64)
        self.local = _per_device(plans, "local", bool)
        self.head = _per_device(plans, "head_s")
        self.bits_up = _per_device(plans, "bits_up")
        self.bits_down = _per_device(plans, "bits_down")
        self.service = _per_device(plans, "service_s")
        kinds: dict = {}
        self.batch_kind = np.array([kinds.setdefault(plan.batch_key, len(kinds)) for plan in plans], dtype=np.int64)
        self.server = _per_device(plans, "server", np.int64)
        pairs = list(zip(devices, plans, strict=True))
        self.up_delay = np.array([d.uplink.delay_s + p.extra_rtt_s / 2 for d, p in pairs])
        self.propagation = np.array([d.uplink.delay_s + d.downlink.delay_s + p.extra_rtt_s for d, p in pairs])
        self.down_delay = np.array([d.downlink.delay_s for d in devices])
        self.half_rtt = np.array([p.extra_rtt_s / 2 for p in plans])
        self.sizes_vary = any(p.bits_quantiles is not None for p in plans)
        """Some device's payload size is drawn per request."""
        self.accuracy_varies = any((p.accuracy_vs_snr is not None and hasattr(d.uplink.channel, "snr_db_at"))
                                   or counts_erasures(d.uplink_loss, p) for d, p in pairs)
        """Some device's channel sets its requests' accuracy."""

    # ------------------------------------------------------------ rows
    def _open(self, device: np.ndarray, at: np.ndarray, clock: np.ndarray, request_id: np.ndarray) -> None:
        """Add a slab's arrivals (devices, instants s, SimPy's clock at each s, request numbers) to the
        buffer, every other field at its value before the request is reached."""
        n = device.size
        values = {"device": device, "request_id": request_id, "plan": self.plan_index[device], "arrival_at_s": at,
                  "_clock": clock}
        held = next(iter(self.buffer.values())).size if self.buffer else 0
        buffer: dict[str, np.ndarray] = {}
        for name, (dtype, fill) in _FRESH.items():  # the rows held, then the new ones (one write each)
            column: np.ndarray = np.empty(held + n, dtype=dtype)
            if held:
                column[:held] = self.buffer[name]
            column[held:] = values.get(name, fill)
            buffer[name] = column
        self.buffer = buffer

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
        done = self.buffer["_done"] & (self.buffer["_tails_open"] == 0)  # a row's radio tails final too
        waiting = np.flatnonzero(~done)
        if final and waiting.size:
            raise RuntimeError(f"{waiting.size} requests unresolved at the end of a fast run")  # a bug
        cut = waiting[0] if waiting.size else done.size
        # a chunk kept as a view would keep its whole buffer alive (a backlog makes the cut a small part of it)
        chunk = {name: values[:cut] if 2 * cut >= values.size else values[:cut].copy()
                 for name, values in self.buffer.items()}
        self.buffer = {name: values[cut:] for name, values in self.buffer.items()}
        self.base += cut
        status, lost_at = chunk["status"], chunk["_lost_at"]
        status[chunk["_result_at"] < self.end_s] = COMPLETED
        lost = lost_at < self.end_s
        status[lost] = LOST
        chunk["finish_at_s"][lost] = lost_at[lost]
        return {name: values for name, values in chunk.items() if not name.startswith("_")}

    def server_records(self) -> list:
        """Each server's batches' busy times in the measured window, what the summary reads of a server."""
        records = []
        for server in self.servers:
            busy = np.concatenate(server.busy) if server.busy else np.empty(0)
            others = np.concatenate(server.background_busy) if server.background_busy else np.empty(0)
            server.busy, server.background_busy = [], []  # the pieces let go once joined
            arrivals = np.concatenate(server.background_arrivals) if server.background_arrivals else None
            rejected = server.events.rejected if server.events is not None else 0
            records.append(_ServerRecord(server.config.name, busy, others, (self.warmup_s, self.end_s), arrivals,
                                         rejected))
        return records


class _ServerRecord:
    """What a run's summary reads from a server: its name, its batches' busy times (s) inside ``busy_window``
    (warm-up, end; s), the other tenants' part of them, and the other tenants' arrivals (as one stream) with
    how many a full queue refused."""

    def __init__(self, name: str, busy_within: np.ndarray, background_busy_within: np.ndarray,
                 busy_window: tuple[float, float], background_arrivals: np.ndarray | None, rejected: int = 0):
        self.name = name
        self.busy_within = busy_within
        self.background_busy_within = background_busy_within
        self.busy_window = busy_window
        self.background_streams = [] if background_arrivals is None else [_Arrivals(background_arrivals, rejected)]


class _Arrivals:
    """Other tenants' job arrivals (s) and how many were refused, as the summary reads a background stream's."""

    def __init__(self, arrivals_at_s: np.ndarray, rejected: int):
        self.arrivals_at_s = arrivals_at_s
        self.rejected = rejected
