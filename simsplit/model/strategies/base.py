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
                 "probe_busy_workers", "probe_recent_wait_s", "probe_read_at_s", "handovers", "serving_cell",
                 "results", "last_uplink_sample_at_s", "uplink_unacked", "uplink_unacked_bits",
                 "uplink_oldest_ready_s", "uplink_acked_bits", "uplink_sample_bits")

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
        self.uplink_sample_bits: deque = deque(maxlen=SAMPLES_KEPT)
        """Size (bits) of the transfer each of ``uplink_samples_bps`` measured, in the same order."""
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
        self.results: deque[tuple[Decision, float]] = deque(maxlen=SAMPLES_KEPT)
        """(decision, latency s) of its recent returned requests, newest last (``completed`` counts them all)."""
        self.last_uplink_sample_at_s = math.nan
        """Instant (s) its newest uplink throughput sample (an upload's or a probe's) reached it (NaN: none)."""
        # What its transport knows of its own uplink, at each of its arrivals, for a strategy that reads it
        # (``reads_uplink = True``; otherwise these stay at their initial values):
        self.uplink_unacked = 0
        """Uploads handed to its uplink and not yet acknowledged (queued or in flight)."""
        self.uplink_unacked_bits = 0.0
        """Their bits not yet acknowledged (queued, or in flight and not yet heard of): the send buffer."""
        self.uplink_oldest_ready_s = math.nan
        """Instant (s) the oldest of them was ready to send (NaN: none): its age is now minus this."""
        self.uplink_acked_bits = 0.0
        """Bits its uplink has had acknowledged so far, in total: whole uploads, and on a dedicated link the
        part of the one in flight that has reached the server (transport-level progress)."""


def added_since(history: deque, total: int, seen: int) -> range:
    """Positions in ``history`` (newest last; ``total`` entries were ever added to it) of those added after the
    first ``seen``: the entries a strategy has not read yet (any that already left the deque are skipped)."""
    new = min(total - seen, len(history))
    return range(len(history) - new, len(history))


def probed_wait_s(observation: Observation, server_wait: str) -> float:
    """The wait (s) the device expects at the server its probes read: the last reading's recent wait with
    ``server_wait: probe``, 0 before any reading or with ``none`` (other servers: 0 too)."""
    wait = observation.probe_recent_wait_s
    return wait if server_wait == "probe" and not math.isnan(wait) else 0.0


class Strategy(Protocol):
    """Anything with ``decide(now_s, observation) -> Decision``; called once per request at its arrival.

    A strategy whose decisions never read the observation's history (its samples, counts and last latency)
    may say so with a class attribute ``reads_history = False``; the engine then does not keep that history
    for its devices (absent: True). A strategy that decides the same for every request, whatever it observes,
    may give that decision as ``fixed_decision``; the engine then does not call ``decide`` for a device that
    observes nothing else (no probe, no cells), nor fill in its observation. A strategy that reads what the
    device knows of its own uplink (the ``uplink_*`` fields) says so with ``reads_uplink = True`` (absent:
    False), and one that gives up on a stalled upload (the late-upload fallback) gives ``fallback_stall_s``."""

    def decide(self, now_s: float, observation: Observation) -> Decision: ...


strategies = Registry("strategies",
                      order=("local", "full_offload", "fixed", "neurosurgeon", "edgent", "dynamic", "distribution",
                             "mpc", "linucb", "oracle"))
"""How devices choose where to split (:func:`register_strategy`)."""


def register_strategy(kind: str, config: type[Config], build: Callable | None = None, *,
                      decisions: Callable | None = None, label: Callable | None = None,
                      compared: Callable | None = None, static: bool = False, compared_needs: str | None = None):
    """How a device chooses where to split. ``build(context)`` returns one device's strategy (an object with
    ``decide(now_s, observation) -> Decision``), called once per device; ``context`` is a
    :class:`~simsplit.model.strategies.context.StrategyContext` (its ``options`` are the candidate plans).
    ``decisions(context)`` lists the (split, bottleneck, server) it may choose (default: every payload row
    meeting ``config.min_accuracy`` on ``config.servers``); ``label(context)`` names it in results (default:
    the kind); ``compared(scenario, setup)`` returns the blocks ``simsplit compare`` runs for this kind, by
    variant name (default: none), and ``compared_needs`` says what a scenario lacks when it returns none (compare
    prints it); ``static``: it takes one decision for every request (compare's bound includes it)."""
    return strategies.register(kind, config, build, decisions=decisions, label=label, compared=compared,
                               static=static, compared_needs=compared_needs)
