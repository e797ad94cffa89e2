"""The planned bound: one device's options for its whole request sequence, chosen at once by dynamic programming.

The oracle (kind ``oracle``) chooses each request's option on the true state as it stands, request by
request. Consecutive requests share the device's processor, uplink and downlink, each serving in order, so a
choice changes what the next requests pay: during an outage, running one request locally can spare the next
ones a long upload queue. This module finds the sequence of options with the least total cost on a model of
one device (:class:`DeviceProblem`; :func:`schedule` evaluates any sequence on it):

- **arrivals**: the device's open-loop instants (they do not depend on decisions);
- **compute**: one head at a time in arrival order; a request whose (split, bottleneck) differs from the
  previous request's starts ``switch_s`` later and pays ``switch_j`` (the scenario's ``switch_cost``);
- **uplink**: the device's own link, in arrival order: a payload starts at max(head end, link free) and ends
  at the channel's ``finish_time`` (exact across rate changes and outages), as the engine reserves it;
- **server**: **zero wait** — service starts when the payload arrives (upload end + uplink delay + half the
  server's extra round trip) and takes the plan's base service time; nothing else on the server is seen
  (other devices, other tenants, batching). Waiting only delays a request's result, so the plan bounds a
  device's latency from below under any contention (:mod:`simsplit.studies.planned_runs` says when);
- **downlink**: the device's own link, results in the order they are ready (ties in arrival order), as the
  engine reserves them at the end of service; the result is back after the downlink delay and half the extra
  round trip.

The cost of a sequence is the sum over its requests of the oracle's score
(:func:`~simsplit.model.strategies.predict.score`: latency, energy, weighted or accuracy). Deadlines as the
oracle handles them (an option meeting the deadline before a better one missing it): with a deadline and
any objective but latency, the cost is the pair (requests late, sum of scores), compared lexicographically;
under the latency objective the fastest option is the oracle's choice whatever the deadline, so the cost is
the sum of latencies alone.

The dynamic program (:func:`plan_device`) processes requests in arrival order and keeps, after each, the
labels (processor free-at, uplink free-at, downlink free-at, results not yet downloaded, last (split,
bottleneck), cost so far) that may still lead to an optimum. A result is downloaded in the label once no
later request's result can be ready before it. States are normalised to the next arrival (a processor free
before it is free at it, ...), so labels that differ only in the past merge. Pruning removes only labels
no better than another in every future (exact):

- equal states: the cheaper label is kept (any objective);
- under the latency objective, when every result has the same size, a label is also dropped when another
  has a free-at no later on each resource, as many results pending each ready no later (in ready order), and
  a cost no higher (each pending result's round trip less its arrival already counted). Every future upload
  end and ready instant is then non-decreasing in the state (queues served in order, a transfer's end
  non-decreasing in its start), and a queue of equal-size results has the same sum of end instants in any
  order, non-decreasing in their sorted ready instants.

Energy is not monotone in the state (a later upload on a varying channel can be shorter), so other
objectives merge only equal states. ``max_labels`` caps the labels kept after a request (the cheapest so
far); when the cap bites, the result is no longer a proven optimum and says so (``exact`` False).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from simsplit.model.channel.base import Channel
from simsplit.model.energy import compute_j, transfer_j
from simsplit.model.strategies.base import Decision
from simsplit.model.strategies.predict import score


@dataclass(frozen=True, slots=True)
class Choice:
    """One option as the plan prices it (s, bits, W)."""

    decision: Decision
    local: bool
    head_s: float
    """Device compute: head plus encoding."""
    bits_up: float
    to_server_s: float
    """Uplink delay plus half the server's extra round trip."""
    service_s: float
    """Base service time on the server."""
    bits_down: float
    back_s: float
    """Downlink delay plus half the server's extra round trip."""
    power_w: float
    """Device power while computing the head."""
    accuracy: float
    key: tuple[int, str]
    """(split, bottleneck): a change of key from one request to the next is a switch."""


@dataclass(frozen=True)
class DeviceProblem:
    """One device's requests, options, links and objective (SI units)."""

    arrivals_s: tuple[float, ...]
    """Arrival instants, in order; every request counts."""
    choices: tuple[Choice, ...]
    uplink: Channel
    downlink: Channel
    alpha_up_w_per_bps: float
    alpha_down_w_per_bps: float
    beta_w: float
    objective: str = "latency"
    weight_s_per_j: float = 0.0
    deadline_s: float | None = None
    switch_s: float = 0.0
    switch_j: float = 0.0

    @property
    def counts_late(self) -> bool:
        """Whether the cost is (requests late, scores) rather than scores alone."""
        return self.objective != "latency" and self.deadline_s is not None

    def request_cost(self, latency_s: float, energy_j: float, accuracy: float) -> tuple[int, float]:
        """(late, score) of one request."""
        deadline = self.deadline_s
        late = int(self.counts_late and deadline is not None and latency_s > deadline)
        return late, float(score(self.objective, latency_s, energy_j, self.weight_s_per_j, accuracy))


@dataclass(frozen=True)
class Schedule:
    """What a sequence of options gives on a :class:`DeviceProblem`: per request (arrays, s and J; an instant a
    local request does not have is NaN, an energy it does not spend 0)."""

    picks: tuple[int, ...]
    head_start_s: np.ndarray
    """When its head starts (after any switch)."""
    switched: np.ndarray
    uplink_start_s: np.ndarray
    uplink_end_s: np.ndarray
    ready_s: np.ndarray
    """End of service: when its result may go down."""
    downlink_start_s: np.ndarray
    downlink_end_s: np.ndarray
    finish_s: np.ndarray
    latency_s: np.ndarray
    compute_j: np.ndarray
    switch_j: np.ndarray
    uplink_j: np.ndarray
    downlink_j: np.ndarray

    @property
    def energy_j(self) -> np.ndarray:
        return self.compute_j + self.switch_j + self.uplink_j + self.downlink_j


def schedule(problem: DeviceProblem, picks: Sequence[int]) -> Schedule:
    """Every request's timeline when request i takes option ``picks[i]``: the model, step by step."""
    n = len(problem.arrivals_s)
    if len(picks) != n:
        raise ValueError(f"expected {n} picks (one per request), got {len(picks)}")
    nan = np.full(n, np.nan)
    out = {name: nan.copy() for name in ("head_start_s", "uplink_start_s", "uplink_end_s", "ready_s",
                                         "downlink_start_s", "downlink_end_s", "finish_s")}
    out.update(compute_j=np.zeros(n), switch_j=np.zeros(n), uplink_j=np.zeros(n), downlink_j=np.zeros(n),
               switched=np.zeros(n, bool))
    compute_free = uplink_free = 0.0
    last: tuple[int, str] | None = None
    for i, (at, k) in enumerate(zip(problem.arrivals_s, picks, strict=True)):
        choice = problem.choices[k]
        start = at if at > compute_free else compute_free
        if last is not None and last != choice.key:
            out["switched"][i] = True
            start += problem.switch_s
            out["switch_j"][i] = problem.switch_j
        last = choice.key
        out["head_start_s"][i] = start
        compute_free = head_end = start + choice.head_s
        out["compute_j"][i] = compute_j(choice.power_w, choice.head_s)
        if choice.local:
            out["finish_s"][i] = head_end
            continue
        up_start = head_end if head_end > uplink_free else uplink_free
        uplink_free = up_end = problem.uplink.finish_time(up_start, choice.bits_up)
        out["uplink_start_s"][i], out["uplink_end_s"][i] = up_start, up_end
        out["uplink_j"][i] = transfer_j(problem.alpha_up_w_per_bps, problem.beta_w, choice.bits_up, up_end - up_start)
        out["ready_s"][i] = up_end + choice.to_server_s + choice.service_s
    _downloads(problem, picks, out)
    out["latency_s"] = out["finish_s"] - np.asarray(problem.arrivals_s, dtype=float)
    return Schedule(picks=tuple(picks), **out)


def _downloads(problem: DeviceProblem, picks: Sequence[int], out: dict) -> None:
    """Results down in the order they are ready (ties: arrival order), one after the other."""
    ready = out["ready_s"]
    downlink_free = 0.0
    for i in sorted(np.flatnonzero(~np.isnan(ready)).tolist(), key=lambda j: (ready[j], j)):
        choice = problem.choices[picks[i]]
        start = ready[i] if ready[i] > downlink_free else downlink_free
        downlink_free = end = problem.downlink.finish_time(start, choice.bits_down)
        out["downlink_start_s"][i], out["downlink_end_s"][i] = start, end
        out["downlink_j"][i] = transfer_j(problem.alpha_down_w_per_bps, problem.beta_w, choice.bits_down, end - start)
        out["finish_s"][i] = end + choice.back_s


def cost(problem: DeviceProblem, timeline: Schedule) -> tuple[int, float]:
    """(requests late, sum of scores) of ``timeline`` (late is 0 unless :attr:`DeviceProblem.counts_late`)."""
    late, total = 0, 0.0
    energy = timeline.energy_j
    for i in range(len(timeline.picks)):
        one = problem.request_cost(float(timeline.latency_s[i]), float(energy[i]),
                                   problem.choices[timeline.picks[i]].accuracy)
        late, total = late + one[0], total + one[1]
    return late, total


@dataclass(frozen=True)
class PlannedDevice:
    """The plan of one device: its options, their cost, and how the search went."""

    picks: tuple[int, ...]
    """Index in :attr:`DeviceProblem.choices` of each request's option."""
    late: int
    total: float
    """The cost: requests late (0 unless :attr:`DeviceProblem.counts_late`) and the sum of scores."""
    exact: bool
    """Whether only dominated labels were removed (a proven optimum), not the ``max_labels`` cap."""
    peak_labels: int
    """The most labels kept after any request."""
    seconds: float
    """Wall time of the search (s)."""


class _Label:
    """A partial plan: the device's state after some requests, its cost so far, and how it was reached."""

    __slots__ = ("compute_free", "uplink_free", "downlink_free", "pending", "last", "late", "total", "parent",
                 "pick")

    def __init__(self, compute_free, uplink_free, downlink_free, pending, last, late, total, parent, pick):
        self.compute_free, self.uplink_free, self.downlink_free = compute_free, uplink_free, downlink_free
        self.pending = pending
        """Results not yet downloaded, sorted: (ready s, request, bits, back s, energy so far J, accuracy)."""
        self.last, self.late, self.total, self.parent, self.pick = last, late, total, parent, pick


class _Search:
    """The label-setting dynamic program over one :class:`DeviceProblem`."""

    def __init__(self, problem: DeviceProblem):
        self.problem = problem
        offload = [c for c in problem.choices if not c.local]
        self.head_min = min((c.head_s for c in offload), default=0.0)
        service_min: dict[float, float] = {}
        for c in offload:
            service_min[c.to_server_s] = min(service_min.get(c.to_server_s, math.inf), c.service_s)
        self.service_min = tuple(service_min.items())
        """(to_server_s, least service_s with it): a result is ready at (upload end + to_server) + service,
        so the earliest a later result can be ready is the least of (uplink free + to_server) + service."""
        self.any_offload = bool(offload)
        self.folds_latency = problem.objective == "latency"
        """Under the latency objective an offloaded request's cost is taken as (back - arrival) when decided
        and + download end when its result is down, so labels' costs compare whatever is still pending."""
        self.pareto = self.folds_latency and len({c.bits_down for c in offload}) <= 1
        self.keyed_by_last = problem.switch_s > 0 or problem.switch_j > 0

    def extend(self, label: _Label, i: int, k: int) -> _Label:
        """``label`` with request ``i`` taking option ``k`` (its result, if any, pending)."""
        problem, choice = self.problem, self.problem.choices[k]
        at = problem.arrivals_s[i]
        start = at if at > label.compute_free else label.compute_free
        energy = compute_j(choice.power_w, choice.head_s)
        if label.last is not None and label.last != choice.key:
            start += problem.switch_s
            energy += problem.switch_j
        head_end = start + choice.head_s
        late, total, pending = label.late, label.total, label.pending
        if choice.local:
            one = problem.request_cost(head_end - at, energy, choice.accuracy)
            return _Label(head_end, label.uplink_free, label.downlink_free, pending, choice.key, late + one[0],
                          total + one[1], label, k)
        up_start = head_end if head_end > label.uplink_free else label.uplink_free
        up_end = problem.uplink.finish_time(up_start, choice.bits_up)
        energy += transfer_j(problem.alpha_up_w_per_bps, problem.beta_w, choice.bits_up, up_end - up_start)
        ready = up_end + choice.to_server_s + choice.service_s
        if self.folds_latency:
            total += choice.back_s - at
        pending = tuple(sorted(pending + ((ready, i, choice.bits_down, choice.back_s, energy, choice.accuracy),)))
        return _Label(head_end, up_end, label.downlink_free, pending, choice.key, late, total, label, k)

    def settle(self, label: _Label, i: int) -> None:
        """After request ``i``: download every pending result that no later result can precede, and
        normalise the state to the next arrival."""
        problem = self.problem
        last_request = i + 1 == len(problem.arrivals_s)
        horizon = math.inf
        if not last_request:
            at = problem.arrivals_s[i + 1]
            label.compute_free = max(label.compute_free, at)
            if self.any_offload:
                label.uplink_free = max(label.uplink_free, label.compute_free + self.head_min)
                horizon = min((label.uplink_free + to) + service for to, service in self.service_min)
        keep = []
        for entry in label.pending:
            if entry[0] <= horizon:
                self._download(label, entry)
            else:
                keep.append(entry)
        label.pending = tuple(keep)
        if math.isfinite(horizon):
            label.downlink_free = max(label.downlink_free, horizon)

    def _download(self, label: _Label, entry: tuple) -> None:
        problem = self.problem
        ready, j, bits, back, energy, accuracy = entry
        start = ready if ready > label.downlink_free else label.downlink_free
        end = problem.downlink.finish_time(start, bits)
        label.downlink_free = end
        if self.folds_latency:
            label.total += end
            return
        energy += transfer_j(problem.alpha_down_w_per_bps, problem.beta_w, bits, end - start)
        late, value = problem.request_cost(end + back - problem.arrivals_s[j], energy, accuracy)
        label.late += late
        label.total += value

    def prune(self, labels: list[_Label]) -> list[_Label]:
        """The labels that no other label dominates."""
        merged: dict[tuple, _Label] = {}
        for label in labels:
            key = self._state(label)
            held = merged.get(key)
            if held is None or (label.late, label.total) < (held.late, held.total):
                merged[key] = label
        kept = list(merged.values())
        return _pareto(kept, self.keyed_by_last) if self.pareto else kept

    def _state(self, label: _Label) -> tuple:
        return (label.compute_free, label.uplink_free, label.downlink_free, label.pending,
                label.last if self.keyed_by_last else None)


def _pareto(labels: list[_Label], keyed_by_last: bool) -> list[_Label]:
    """Drop every label that another dominates: no later on each resource, its pending results no later one
    by one (as many of them), and no costlier (the latency objective, results of one size)."""
    groups: dict[tuple, list[_Label]] = {}
    for label in sorted(labels, key=lambda lb: lb.total):
        groups.setdefault((label.last if keyed_by_last else None, len(label.pending)), []).append(label)
    kept: list[_Label] = []
    for group in groups.values():
        front: list[_Label] = []
        for label in group:
            if not any(_dominates(other, label) for other in front):
                front.append(label)
        kept.extend(front)
    return kept


def _dominates(a: _Label, b: _Label) -> bool:
    return (a.total <= b.total and a.compute_free <= b.compute_free and a.uplink_free <= b.uplink_free
            and a.downlink_free <= b.downlink_free
            and all(x[0] <= y[0] for x, y in zip(a.pending, b.pending, strict=True)))


def plan_device(problem: DeviceProblem, max_labels: int | None = None) -> PlannedDevice:
    """The sequence of options with the least cost on ``problem`` (ties: the first found), by the label-setting
    dynamic program of the module; ``max_labels`` caps the labels kept after each request (None: no cap,
    a proven optimum)."""
    if max_labels is not None and max_labels < 1:
        raise ValueError(f"max_labels must be at least 1, got {max_labels}")
    clock = time.perf_counter()
    search = _Search(problem)
    labels = [_Label(0.0, 0.0, 0.0, (), None, 0, 0.0, None, -1)]
    exact, peak = True, 1
    for i in range(len(problem.arrivals_s)):
        grown = []
        for label in labels:
            for k in range(len(problem.choices)):
                child = search.extend(label, i, k)
                search.settle(child, i)
                grown.append(child)
        labels = search.prune(grown)
        if max_labels is not None and len(labels) > max_labels:
            labels = sorted(labels, key=lambda lb: (lb.late, lb.total))[:max_labels]
            exact = False
        peak = max(peak, len(labels))
    best = min(labels, key=lambda lb: (lb.late, lb.total))
    picks: list[int] = []
    node: _Label | None = best
    while node is not None and node.parent is not None:
        picks.append(node.pick)
        node = node.parent
    return PlannedDevice(tuple(reversed(picks)), best.late, best.total, exact, peak, time.perf_counter() - clock)
