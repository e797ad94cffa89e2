"""The strategy protocol: what a device decides for each request, from what it can observe."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import NamedTuple, Protocol

from simsplit.core.config import Config
from simsplit.core.registry import Registry

SAMPLES_KEPT = 64
"""Throughput samples an Observation keeps (newest last)."""


class Decision(NamedTuple):
    """Where to split (0 = send the input, L = run locally), which bottleneck configuration to use, and which
    server runs the tail (by name; ignored for a local decision)."""

    split: int
    bottleneck: str
    server: str


class Observation:
    """What one device knows when it decides: only its own history, never the simulator's state.

    The engine updates it in place when the device's requests finish (the history of samples, counts and
    last latency only for a strategy that reads it: :class:`Strategy`).
    """

    __slots__ = ("device", "completed", "last_uplink_bps", "last_latency_s", "uplink_samples_bps", "uploads",
                 "downlink_samples_bps", "downloads", "compute_free_at_s", "probe_server", "probe_queue_length",
                 "probe_busy_workers", "probe_recent_wait_s", "probe_read_at_s", "handovers", "serving_cell")

    def __init__(self, device: int):
        self.device = device
        """Index of the deciding device."""
        self.completed = 0
        """Number of this device's requests that have returned."""
        self.last_uplink_bps = math.nan
        """Throughput (bits/s) its last finished upload achieved (NaN before the first)."""
        self.last_latency_s = math.nan
        """Latency (s) of its last finished request (NaN before the first)."""
        self.uplink_samples_bps: deque = deque(maxlen=SAMPLES_KEPT)
        """Throughput (bits/s) of its recent finished uploads, newest last."""
        self.uploads = 0
        """Uploads finished so far (samples beyond SAMPLES_KEPT have left the deque)."""
        self.downlink_samples_bps: deque = deque(maxlen=SAMPLES_KEPT)
        self.downloads = 0
        self.compute_free_at_s = 0.0
        """When its own processor finishes the work already queued on it (s)."""
        self.probe_server = -1
        """Index of the server its probes read (-1: it does not probe)."""
        self.probe_queue_length = math.nan
        """Jobs waiting at the probed server when the last returned probe read it."""
        self.probe_busy_workers = math.nan
        self.probe_recent_wait_s = math.nan
        """The server's recent mean wait (s) as that probe read it."""
        self.probe_read_at_s = math.nan
        """Instant (s) the server was read: the information's age is now minus this."""
        self.handovers = 0
        """Handovers of its cellular link so far (a device knows its own at once)."""
        self.serving_cell = -1
        """Index of the cell serving it now (-1: no cellular link, or in a handover's interruption)."""


class Strategy(Protocol):
    """Anything with ``decide(now_s, observation) -> Decision``; called once per request at its arrival.

    A strategy whose decisions never read the observation's history (its samples, counts and last latency)
    may say so with a class attribute ``reads_history = False``; the engine then does not keep that history
    for its devices (absent: True). A strategy that decides the same for every request, whatever it observes,
    may give that decision as ``fixed_decision``; the engine then does not call ``decide`` for a device that
    observes nothing else (no probe, no cells), nor fill in its observation."""

    def decide(self, now_s: float, observation: Observation) -> Decision: ...


strategies = Registry("strategies",
                      order=("local", "full_offload", "fixed", "neurosurgeon", "edgent", "dynamic", "oracle"))
"""How devices choose where to split (:func:`register_strategy`)."""


def register_strategy(kind: str, config: type[Config], build: Callable | None = None, *,
                      decisions: Callable | None = None, label: Callable | None = None,
                      compared: Callable | None = None, static: bool = False):
    """How a device chooses where to split. ``build(context)`` returns one device's strategy (an object with
    ``decide(now_s, observation) -> Decision``), called once per device; ``context`` is a
    :class:`~simsplit.model.strategies.context.StrategyContext` (its ``options`` are the candidate plans).
    ``decisions(context)`` lists the (split, bottleneck, server) it may choose (default: every payload row
    meeting ``config.min_accuracy`` on ``config.servers``); ``label(context)`` names it in results (default:
    the kind); ``compared(scenario, setup)`` returns the blocks ``simsplit compare`` runs for this kind, by
    variant name (default: none); ``static``: it takes one decision for every request (compare's bound
    includes it)."""
    return strategies.register(kind, config, build, decisions=decisions, label=label, compared=compared,
                               static=static)
