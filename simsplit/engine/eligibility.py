"""Which scenarios the fast path (:mod:`simsplit.engine.fastpath`) can run: those where nothing a device does
depends on what it observed or on another device's traffic beyond the server's FIFO queue."""

from __future__ import annotations

ENGINES = ("auto", "des", "fast")
WINDOW_ROWS = 1 << 19
"""Requests per window: the fast path holds one window's rows (and those still waiting) at a time."""


def why_not(setup, monitor_period_s: float | None = None) -> list[str]:
    """What in ``setup`` needs the DES (empty: the fast path computes the same run)."""
    reasons = []
    for group_setup in setup.groups:
        reasons += _group_reasons(setup, group_setup)
    for server in setup.scenario.server_list:
        reasons += _server_reasons(server)
    reasons += _tie_reasons(setup)
    return reasons


def replays_events(config) -> bool:
    """Whether a server's queue needs :class:`~simsplit.engine.server_events.ServerEvents` (a plain FIFO
    queue is a recursion instead)."""
    return (config.batching.max_batch > 1 or config.queue_capacity is not None or config.drop_expired
            or config.discipline != "fifo")


def _tie_reasons(setup) -> list[str]:
    """Servers that replay their events (batching, a queue limit, expiry, EDF) with a deterministic service, fed
    by devices arriving periodically at a shared phase without jitter: their events tie at one instant several
    steps back, further than the fast path orders them (:mod:`simsplit.engine.server_kernel`)."""
    tied = [g.group.name for g in setup.groups
            if getattr(g.group.arrivals, "kind", None) == "periodic" and not g.group.arrivals.jitter_s
            and g.group.arrivals.phase_s is not None]
    if not tied:
        return []
    return [f"server {server.name}: deterministic service with periodic arrivals at a fixed phase and no jitter "
            f"(group {', '.join(tied)}): events tie further back than the fast path orders them"
            for server in setup.scenario.server_list
            if replays_events(server) and not server.service_variability.multiplier.is_random]


def _group_reasons(setup, group_setup) -> list[str]:
    """What in a device group needs the DES."""
    from simsplit.model.strategies.fixed import FixedStrategy
    group, network = group_setup.group, group_setup.network
    name = f"group {group.name}"
    reasons = []
    if not isinstance(group_setup.make_strategy(), FixedStrategy):
        reasons.append(f"{name}: strategy {group.strategy.kind if group.strategy else setup.scenario.strategy.kind}"
                       " adapts to what it observes")
    if group.arrivals.workload().kind == "closed_loop":
        reasons.append(f"{name}: closed-loop arrivals wait for each result")
    if group.probe is not None:
        reasons.append(f"{name}: load probes")
    if network.uplink.sharing != "dedicated" and network.uplink.kind == "cellular":
        reasons.append(f"{name}: uplink's cells shared by moving devices ({network.uplink.sharing})")
    if network.downlink.sharing != "dedicated":
        reasons.append(f"{name}: downlink shared by a cell ({network.downlink.sharing})")
    if group_setup.cell_routes is not None:
        reasons.append(f"{name}: cells name their edge servers (a request goes where its device's cell sends it)")
    return reasons


def _server_reasons(server) -> list[str]:
    """What in a server needs the DES."""
    name = f"server {server.name}"
    reasons = []
    from simsplit.model.queues import EdfQueue, FifoQueue, disciplines
    if disciplines[server.discipline].build not in (FifoQueue, EdfQueue):
        reasons.append(f"{name}: discipline {server.discipline} (a plugin's queue)")
    return reasons
