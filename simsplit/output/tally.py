"""Mergeable summaries: counts, sums and quantile sketches that add up across chunks of a run, sites and runs.

A :class:`Tally` takes the per-request table a chunk at a time (:meth:`Tally.add`) and two tallies merge
by adding (:meth:`Tally.merge`), so a summary of many sites never needs their rows together, and merging
in a fixed order gives the same bytes whatever the number of workers. Means are exact (sums over
counts). Quantiles come from a :class:`LogSketch`: every value falls in a bucket ``(g^(i-1), g^i]`` with
``g = (1 + a) / (1 - a)``, so the estimate is within a relative error ``a`` (:data:`RELATIVE_ERROR`) of
the exact order statistic — the DDSketch bound (Masson et al., VLDB 2019), here vectorised with numpy.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from simsplit.engine.records import STATUS_NAMES
from simsplit.output.summary import ENERGY_PARTS, LATENCY_PARTS, QUANTILES

RELATIVE_ERROR = 0.005
"""Relative error bound of every sketched quantile (0.5%)."""


class LogSketch:
    """Counts of positive values in logarithmic buckets from ``low`` to ``high`` (values outside are clamped
    to the end buckets, counted in :attr:`clamped`), plus a count of zeros."""

    def __init__(self, low: float, high: float, relative_error: float = RELATIVE_ERROR):
        self.gamma = (1 + relative_error) / (1 - relative_error)
        self.relative_error = relative_error
        self._log_gamma = math.log(self.gamma)
        self._first = math.floor(math.log(low) / self._log_gamma)
        self.counts = np.zeros(math.ceil(math.log(high) / self._log_gamma) - self._first + 1, dtype=np.int64)
        self.zeros = 0
        self.clamped = 0

    def add(self, values: np.ndarray) -> None:
        """Count ``values`` (>= 0; NaN ignored)."""
        values = values[~np.isnan(values)]
        positive = values[values > 0]
        self.zeros += int(values.size - positive.size)
        index = np.ceil(np.log(positive) / self._log_gamma).astype(np.int64) - self._first
        inside = (index >= 0) & (index < self.counts.size)
        self.clamped += int(index.size - inside.sum())
        self.counts += np.bincount(np.clip(index, 0, self.counts.size - 1), minlength=self.counts.size)

    def merge(self, other: LogSketch) -> None:
        self.counts += other.counts
        self.zeros += other.zeros
        self.clamped += other.clamped

    @property
    def count(self) -> int:
        return int(self.counts.sum()) + self.zeros

    def quantile(self, q: float) -> float:
        """The value at rank ``q * (n - 1)`` (the lower order statistic of numpy's linear rule), within the
        relative error; NaN when empty."""
        n = self.count
        if n == 0:
            return math.nan
        rank = math.floor(q * (n - 1))
        if rank < self.zeros:
            return 0.0
        bucket = int(np.searchsorted(np.cumsum(self.counts), rank - self.zeros, side="right"))
        return 2 * self.gamma ** (bucket + self._first) / (self.gamma + 1)


class _Scope:
    """The accumulators of one scope (the whole run or one device group)."""

    def __init__(self, options: int):
        self.statuses = np.zeros(len(STATUS_NAMES), dtype=np.int64)
        self.latency_sum = 0.0
        self.late = 0
        self.latency = LogSketch(1e-9, 1e7)
        self.parts = np.zeros(len(LATENCY_PARTS))
        self.sums = np.zeros(len(ENERGY_PARTS) + 4)  # energy parts, energy, accuracy, bytes up, bytes sent up
        self.counts = np.zeros(len(ENERGY_PARTS) + 4, dtype=np.int64)
        self.switches = 0
        self.handovers = 0
        self.options = np.zeros(options, dtype=np.int64)
        self.bytes_up = LogSketch(1e-3, 1e13)

    def merge(self, other: _Scope) -> None:
        self.statuses += other.statuses
        self.latency_sum += other.latency_sum
        self.late += other.late
        self.latency.merge(other.latency)
        self.parts += other.parts
        self.sums += other.sums
        self.counts += other.counts
        self.switches += other.switches
        self.handovers += other.handovers
        self.options += other.options
        self.bytes_up.merge(other.bytes_up)


MEANS = (*(p[:-2] for p in ENERGY_PARTS), "total", "accuracy", "bytes_up", "bytes_sent_up")
_MEAN_COLUMNS = (*ENERGY_PARTS, "energy_j", "accuracy", "bytes_up", "bytes_sent_up")


class Tally:
    """The summary of the requests added so far, overall and per device group, over those that arrived
    after ``warmup_s``; ``bottlenecks`` in the order of the table's category codes."""

    def __init__(self, groups: list[str], strategies: list[str], bottlenecks: list[str], splits: int,
                 deadline_s: float | None, warmup_s: float):
        self.groups, self.strategies, self.bottlenecks = groups, strategies, bottlenecks
        self._width = len(bottlenecks)
        self._options = (splits + 1) * self._width
        self.deadline_s, self.warmup_s = deadline_s, warmup_s
        self.group_scopes = [_Scope(self._options) for _ in groups]
        """Each group's accumulators, in group order (the whole run's, their sum, is made when asked)."""

    def add(self, columns) -> None:
        """Add a chunk of the per-request table: a DataFrame, or its columns by name
        (:func:`~simsplit.output.results.request_columns`)."""
        def load(name: str) -> np.ndarray:
            column = columns[name]
            if hasattr(column, "cat"):
                column = column.cat
            return column.codes if hasattr(column, "codes") else np.asarray(column)
        measured = load("arrival_at_s") >= self.warmup_s
        status = load("status")[measured]
        group = load("group")[measured]
        completed = status == STATUS_NAMES.index("completed")
        chosen = measured.copy()  # measured and completed, as one mask of the chunk's rows
        chosen[measured] = completed
        every = chosen.all()  # as usual past the warm-up: no copies
        chosen_at = np.flatnonzero(chosen)  # their indices, found once for every column
        done = {name: load(name) if every else load(name).take(chosen_at) for name in
                ("latency_s", "split", "bottleneck", *LATENCY_PARTS, *_MEAN_COLUMNS)}
        switched = load("switched")[measured]
        handovers = load("handovers")[measured]
        done_group = group[completed]
        if len(self.groups) == 1:
            self._add(self.group_scopes[0], status, switched, handovers, done)
        else:
            for g, scope in enumerate(self.group_scopes):
                rows, done_rows = group == g, done_group == g
                self._add(scope, status[rows], switched[rows], handovers[rows],
                          {k: v[done_rows] for k, v in done.items()})

    def _overall(self) -> _Scope:
        """The whole run: the groups' accumulators added in group order."""
        overall = _Scope(self._options)
        for scope in self.group_scopes:
            overall.merge(scope)
        return overall

    def _add(self, scope: _Scope, status: np.ndarray, switched: np.ndarray, handovers: np.ndarray,
             done: dict) -> None:
        scope.statuses += np.bincount(status, minlength=len(STATUS_NAMES))
        scope.switches += int(switched.sum())
        scope.handovers += int(handovers.sum())
        latency = done["latency_s"]
        scope.latency_sum += float(latency.sum())
        scope.latency.add(latency)
        if self.deadline_s is not None:
            scope.late += int((latency > self.deadline_s).sum())
        for k, part in enumerate(LATENCY_PARTS):
            values = done[part]
            scope.parts[k] += float(values[~np.isnan(values)].sum())
        for k, name in enumerate(_MEAN_COLUMNS):
            values = np.asarray(done[name], dtype=float)
            known = values[~np.isnan(values)]
            scope.sums[k] += float(known.sum())
            scope.counts[k] += known.size
        option = done["split"] * self._width + done["bottleneck"]
        scope.options += np.bincount(option, minlength=self._options)[: self._options]
        scope.bytes_up.add(np.asarray(done["bytes_up"], dtype=float))

    def merge(self, other: Tally) -> None:
        """Add ``other``'s requests (a tally of the same scenario's groups)."""
        for mine, theirs in zip(self.group_scopes, other.group_scopes, strict=True):
            mine.merge(theirs)

    def scope(self, index: int) -> _Scope:
        """The accumulators of scope ``index`` (0: the whole run; g + 1: group g)."""
        return self._overall() if index == 0 else self.group_scopes[index - 1]

    def block(self, index: int) -> dict:
        """The summary block of scope ``index`` (0: the whole run; g + 1: group g), in the keys of a run's
        summary; quantiles sketched (``latency_s.relative_error``)."""
        scope = self.scope(index)
        counts = {name: int(scope.statuses[k]) for k, name in enumerate(STATUS_NAMES)}
        done = counts["completed"]
        block: dict[str, Any] = {"generated": int(scope.statuses.sum()), "completed": done,
                                 "dropped": counts["dropped"], "lost": counts["lost"],
                                 "timed_out": counts["timed_out"], "in_flight": counts["in_flight"]}
        latency: dict[str, float] = {"mean": scope.latency_sum / done if done else math.nan}
        latency.update({name: scope.latency.quantile(q) for name, q in QUANTILES.items()})
        latency["relative_error"] = scope.latency.relative_error
        block["latency_s"] = latency
        block["latency_parts_s"] = {p: scope.parts[k] / done if done else math.nan for k, p in enumerate(LATENCY_PARTS)}
        mean = {name: scope.sums[k] / scope.counts[k] if scope.counts[k] else math.nan for k, name in enumerate(MEANS)}
        block["energy_j"] = {name: mean[name] for name in MEANS[: len(ENERGY_PARTS) + 1]}
        block["accuracy"] = mean["accuracy"]
        block["switches"] = scope.switches
        block["handovers_during_transfers"] = scope.handovers
        block["option_share"] = {f"{key // self._width}/{self.bottlenecks[key % self._width]}": int(n) / max(done, 1)
                                 for key, n in enumerate(scope.options.tolist()) if n}
        block["bytes_up"] = mean["bytes_up"]
        block["bytes_up_p95"] = scope.bytes_up.quantile(0.95)
        block["bytes_sent_up"] = mean["bytes_sent_up"]
        failed = counts["dropped"] + counts["lost"] + counts["timed_out"]
        block["deadline_miss_rate"] = None if self.deadline_s is None or done + failed == 0 else \
            (scope.late + failed) / (done + failed)
        return block
