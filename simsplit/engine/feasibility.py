"""How much work and memory a run will take, estimated before it starts; runs this machine cannot finish
are refused with the estimate (``--force`` runs them anyway).

The estimate is an upper bound built from the scenario alone: requests from each group's arrival rate
(a closed loop from its fastest possible round trip), events per request, the other tenants' jobs,
probes and monitor samples, and the random channel segments kept in memory. Memory per request and
events per second are this engine's measured costs (about 2 kB per request kept to the end of the run,
and a few hundred thousand events per second).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from simsplit.core import words
from simsplit.core.errors import InputError

BYTES_PER_REQUEST = 2_000.0
"""Memory (bytes) a request costs until the run ends: its object, its row, the summary's copies."""
BYTES_PER_DEVICE = 4_000.0
BYTES_PER_SEGMENT = 40.0
"""A random channel's path segment kept in memory (duration, rate, cumulative bits)."""
EVENTS_PER_REQUEST = 8.0
EVENTS_PER_SECOND = 150_000.0
"""A conservative rate of this engine on one core."""
FAST_REQUESTS_PER_SECOND = 250_000.0
"""A conservative rate of the fast path (:mod:`simsplit.engine.fastpath`) with the per-request table on one core."""
FAST_REPLAYED_REQUESTS_PER_SECOND = 8_000.0
"""A conservative rate of the fast path where it replays events in Python (a shared cell or the radio's RRC state
machine over a channel other than constant or piecewise constant, or a lossy downlink), on one core."""
FAST_COMPILED_REPLAY_REQUESTS_PER_SECOND = 50_000.0
"""A conservative rate of the fast path where its compiled loops replay the cells' events and the radio's rounds
(constant and piecewise-constant channels; about 350,000 requests/s measured on city-under-load), on one core."""
FAST_BYTES_PER_REQUEST = 700.0
"""Memory (bytes) a request of the fast path's current window costs: its columns and each stage's temporaries."""
FAST_BYTES_PER_ARRIVAL = 64.0
"""Memory (bytes) the fast path keeps per request of the whole run: its arrival instant, clock, device,
number and their sort (the stages hold one window at a time)."""
BASE_BYTES = 400e6
"""Interpreter, libraries and tables."""
STARTUP_S = 1.0
"""Wall time (s) of a process's first run before its first event: building the model, loading the compiled
kernels (about 0.4-0.8 s measured here); later runs in the same process pay :data:`RUN_OVERHEAD_S`."""
RUN_OVERHEAD_S = 0.02
"""Wall time (s) a run costs beyond its events: building it, starting its engine, summarising it."""
MAX_SECONDS = 24 * 3600.0
"""Longest estimated wall time accepted without --force."""


@dataclass(frozen=True)
class Estimate:
    """Upper-bound estimate of one run: requests, engine events, memory (bytes), wall time (s)."""

    requests: float
    events: float
    memory_bytes: float
    seconds: float

    @property
    def wall_s(self) -> float:
        """Wall time (s) of this run alone in a fresh process: its events and :data:`STARTUP_S`."""
        return self.seconds + STARTUP_S

    def describe(self, alone: bool = True) -> str:
        """Requests, events, memory and wall time: of the run alone in a fresh process (``alone``, start-up
        included), else of one run among many in a process already started."""
        seconds = self.wall_s if alone else self.seconds + RUN_OVERHEAD_S
        return (f"about {self.requests:,.0f} requests, {self.events:,.0f} events, "
                f"{self.memory_bytes / 1e9:.2f} GB, {words.duration(seconds)}")


def available_memory_bytes() -> float:
    """MemAvailable of this machine (bytes); total physical memory where /proc/meminfo is missing."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 8e9


def estimate(setup, monitor_period_s: float | None = None) -> Estimate:
    """The upper-bound :class:`Estimate` of running ``setup`` once."""
    scenario = setup.scenario
    duration = scenario.duration_s
    requests = events = segments = devices = 0.0
    for group_setup in setup.groups:
        group, network = group_setup.group, group_setup.network
        count = group.count
        devices += count
        workload = group.arrivals.workload()
        if workload.kind != "closed_loop":
            rate = workload.rate_hz
        else:
            fastest = min(_round_trip_s(plan, network) for plan in group_setup.plans.values())
            rate = 1.0 / max(workload.think_s + fastest, 1e-9)
        requests += count * rate * duration
        if group.probe is not None:
            events += count * duration / group.probe.period_s * 6.0
        segments += count * (network.uplink.segments_per_s + network.downlink.segments_per_s) * duration
    events += requests * EVENTS_PER_REQUEST
    tenants = sum(load.peak_rate_hz(server.workers) for server in scenario.server_list
                  for load in server.background) * duration
    events += tenants * 3.0
    if monitor_period_s is not None:
        events += duration / monitor_period_s
    memory = BASE_BYTES + requests * BYTES_PER_REQUEST + devices * BYTES_PER_DEVICE + segments * BYTES_PER_SEGMENT
    if monitor_period_s is not None:
        memory += duration / monitor_period_s * 100.0
    if scenario.engine != "des":
        from simsplit.engine.eligibility import why_not
        if not why_not(setup, monitor_period_s):
            fast = _fast_estimate(setup, requests, tenants, devices, segments)
            samples = 0.0 if monitor_period_s is None else duration / monitor_period_s
            return Estimate(fast.requests, fast.events + samples, fast.memory_bytes + samples * 100.0,
                            fast.seconds + samples / EVENTS_PER_SECOND)
    return Estimate(requests, events, memory, events / EVENTS_PER_SECOND)


def _fast_estimate(setup, requests: float, tenants: float, devices: float, segments: float) -> Estimate:
    """The :class:`Estimate` of a run on the fast path: its window's memory and every arrival's few numbers;
    its time at the compiled rate, or at the replay rate where a cell or the radio is replayed per event."""
    from simsplit.engine.eligibility import WINDOW_ROWS
    jobs = requests + tenants  # the other tenants' jobs go through the server queue too
    memory = BASE_BYTES + min(jobs, WINDOW_ROWS) * FAST_BYTES_PER_REQUEST + jobs * FAST_BYTES_PER_ARRIVAL \
        + devices * BYTES_PER_DEVICE + segments * BYTES_PER_SEGMENT
    replayed = [g.network for g in setup.groups if g.network.uplink.sharing != "dedicated"
                or g.network.radio.promotion_delay_s or g.network.radio.tail_stages_s]
    if not replayed:
        seconds = jobs / FAST_REQUESTS_PER_SECOND
    elif all(_piecewise_constant(n.uplink) and _piecewise_constant(n.downlink) and n.downlink.loss is None
             for n in replayed):
        seconds = requests / FAST_COMPILED_REPLAY_REQUESTS_PER_SECOND
    else:
        seconds = requests / FAST_REPLAYED_REQUESTS_PER_SECOND
    return Estimate(requests, requests * 4.0, memory, seconds)


def _piecewise_constant(link) -> bool:
    """Whether ``link``'s channel is constant or piecewise constant (the compiled replay's channels): a trace but
    one of Mahimahi's delivery opportunities read without a window."""
    if link.kind in ("constant", "steps"):
        return True
    return link.kind == "trace" and (link.format != "mahimahi" or link.window_ms is not None)


def _round_trip_s(plan, network) -> float:
    """A lower bound on one request's latency under ``plan`` (s)."""
    if plan.local:
        return plan.head_s
    return (plan.head_s + plan.bits_up / network.uplink.peak_rate_bps + plan.service_s
            + plan.bits_down / network.downlink.peak_rate_bps + network.uplink.delay_s
            + network.downlink.delay_s + plan.extra_rtt_s)


def check_feasible(setup, monitor_period_s: float | None = None, runs: int = 1, force: bool = False,
                   workers: int = 1) -> Estimate:
    """The estimate of one run; InputError if ``workers`` runs at once (at most ``runs``) need more memory
    than this machine has free, or ``runs`` of them more than :data:`MAX_SECONDS` of wall time spread over
    ``workers``, unless ``force``."""
    result = estimate(setup, monitor_period_s)
    if not force:
        check_fits(setup.scenario.source, result, runs, workers)
    return result


def check_fits(source, per_run: Estimate, runs: int = 1, workers: int = 1, total_s: float | None = None) -> None:
    """InputError unless ``workers`` runs of ``per_run`` at once (at most ``runs``) fit in the free memory and
    the whole work (``total_s``, default ``runs`` times ``per_run``'s and :data:`RUN_OVERHEAD_S`) spread over them
    within
    :data:`MAX_SECONDS`."""
    free = available_memory_bytes()
    parallel = max(1, min(workers, runs))
    if not per_run.memory_bytes * parallel < 0.8 * free:
        raise InputError(source, None, f"expected a run that fits in this machine's memory: it needs "
                         f"{per_run.describe(alone=runs == 1)}, and {free / 1e9:.1f} GB is free; shorten "
                         f"duration_s, lower the rates or counts, or pass --force")
    total = ((per_run.seconds + RUN_OVERHEAD_S) * runs if total_s is None else total_s) / parallel
    if not total <= MAX_SECONDS:
        raise InputError(source, None, f"expected a run that finishes within {MAX_SECONDS / 3600:.0f} h here: "
                         f"{words.counted(runs, 'run')} of {per_run.describe(alone=runs == 1)} take "
                         f"{words.duration(total)}; shorten duration_s, lower the rates or counts, or pass --force")
