"""Confidence intervals for simulation output.

Successive latencies in a queue are correlated, so an i.i.d. interval would be
too narrow. Within one run we use *batch means* (sectioning): split the
observations, in arrival order, into contiguous batches and compute the
statistic on each.

- The **mean** gets a Student-t interval on the batch means, centred on the
  mean of the whole sample.
- A **quantile** gets a distribution-free interval: the batch quantiles are
  nearly independent and centred on the true quantile, so order statistics of
  the batch quantiles bracket their median with a binomial coverage
  (10 batches: the 2nd and 9th of 10, nominal 97.9%). Ten long batches rather
  than twenty short ones, because a short batch's high quantile is biased low
  under correlation: on a stationary M/M/1 at utilisation 0.7 (tests), twenty
  batches cover the true p99 in only ~75% of runs of 40,000 requests, ten
  batches in 96%. A batch must hold at least ``50 / (1 - q)`` values (fifty
  beyond the quantile: p95 needs 10,000 values, p99 50,000), else the interval
  is NaN. It lies within the observed values, so it is never negative.

Across replications the same t-interval applies to the per-replication values;
``bounds`` clips it to the values the quantity can take (e.g. >= 0), which
keeps its coverage. scipy.special is imported only when an interval is computed.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

DEFAULT_BATCHES = 20
MIN_PER_BATCH = 10
"""Fewest values in a batch for the mean's interval."""
QUANTILE_BATCHES = 10
BEYOND_QUANTILE = 50
"""Fewest values a batch must hold beyond its q-quantile (batch size >= this / (1 - q))."""


def _t(confidence: float, dof: int) -> float:
    """The two-sided Student-t quantile: ``scipy.stats.t.ppf(0.5 + confidence / 2, dof)``, from the special
    function it calls (scipy.special loads in a fraction of scipy.stats's time and memory)."""
    from scipy.special import stdtrit
    return float(stdtrit(dof, 0.5 + confidence / 2))


def _clip(low: float, high: float, bounds: tuple[float, float] | None) -> tuple[float, float]:
    if bounds is None or math.isnan(low):
        return low, high
    return max(low, bounds[0]), min(high, bounds[1])


def t_interval(values, confidence: float = 0.95,
               bounds: tuple[float, float] | None = None) -> tuple[float, float, float]:
    """(mean, low, high) of a Student-t interval for the mean of independent ``values``, clipped to ``bounds``."""
    values = np.asarray(values, dtype=float)
    n = values.size
    mean = float(values.mean())
    if n < 2:
        return mean, math.nan, math.nan
    half = _t(confidence, n - 1) * float(values.std(ddof=1)) / math.sqrt(n)
    return (mean, *_clip(mean - half, mean + half, bounds))


def ratio_interval(sums, counts, confidence: float = 0.95) -> tuple[float, float]:
    """The ``confidence`` t-interval of the pooled mean sum(sums) / sum(counts) over k independent clusters (the
    ratio estimator's standard error: the spread of the residuals sums - mean * counts, over the mean count);
    NaN with fewer than two clusters. With equal counts it is the t-interval of the cluster means."""
    sums, counts = np.asarray(sums, dtype=float), np.asarray(counts, dtype=float)
    k = sums.size
    if k < 2:
        return math.nan, math.nan
    mean = float(sums.sum() / counts.sum())
    residuals = (sums - mean * counts) / counts.mean()
    half = _t(confidence, k - 1) * math.sqrt(float(np.sum(residuals ** 2)) / (k * (k - 1)))
    return mean - half, mean + half


def batch_interval(values, statistic: Callable[[np.ndarray], float] = np.mean, confidence: float = 0.95,
                   n_batches: int = DEFAULT_BATCHES,
                   bounds: tuple[float, float] | None = None) -> tuple[float, float, float]:
    """(point, low, high): ``statistic`` of ``values`` with a batch-means t-interval, clipped to ``bounds``.

    The interval is NaN when there are fewer than ``MIN_PER_BATCH`` values per batch.
    """
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return math.nan, math.nan, math.nan
    point = float(statistic(values))
    if values.size < fewest_for_interval(None, n_batches):
        return point, math.nan, math.nan
    size = values.size // n_batches
    batches = np.array([statistic(values[i * size:(i + 1) * size]) for i in range(n_batches)])
    half = _t(confidence, n_batches - 1) * float(batches.std(ddof=1)) / math.sqrt(n_batches)
    return (point, *_clip(point - half, point + half, bounds))


def median_ranks(n: int, confidence: float) -> tuple[int, int] | None:
    """1-based ranks (k, n + 1 - k) of order statistics of ``n`` i.i.d. values that bracket their median
    with probability >= ``confidence`` (the narrowest such symmetric pair), or None if none does."""
    from math import comb
    pmf = [comb(n, i) / 2.0**n for i in range(n + 1)]
    best = None
    for k in range(1, n // 2 + 1):
        coverage = sum(pmf[k:n - k + 1])  # P(k <= #below median <= n - k)
        if coverage >= confidence:
            best = (k, n + 1 - k)
    return best


def batch_quantile_interval(values, q: float, confidence: float = 0.95,
                            n_batches: int = QUANTILE_BATCHES) -> tuple[float, float, float]:
    """(q-quantile of ``values``, low, high): order statistics of the batch q-quantiles (see the module)."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return math.nan, math.nan, math.nan
    point = float(np.quantile(values, q))
    if values.size < fewest_for_interval(q, n_batches):
        return point, math.nan, math.nan
    size = values.size // n_batches
    estimates = np.sort([np.quantile(values[i * size:(i + 1) * size], q) for i in range(n_batches)])
    ranks = median_ranks(n_batches, confidence)
    if ranks is None:
        return point, math.nan, math.nan
    return point, float(estimates[ranks[0] - 1]), float(estimates[ranks[1] - 1])


def fewest_for_interval(q: float | None, n_batches: int | None = None) -> int:
    """Fewest values that get an interval: the mean's (``q`` None, :func:`batch_interval`; ``MIN_PER_BATCH`` a
    batch) or the q-quantile's (:func:`batch_quantile_interval`; ``BEYOND_QUANTILE`` beyond it a batch), over
    ``n_batches`` (default: each function's own)."""
    if q is None:
        return (DEFAULT_BATCHES if n_batches is None else n_batches) * MIN_PER_BATCH
    per_batch = math.ceil(BEYOND_QUANTILE / max(1.0 - q, 1e-12))
    return (QUANTILE_BATCHES if n_batches is None else n_batches) * per_batch


def metric_bounds(name: str) -> tuple[float, float]:
    """The values a per-run metric can take: shares and rates in [0, 1], every other metric (latency,
    energy, counts, throughput, switches, an objective) >= 0."""
    if name.endswith(("_rate", "accuracy", "utilisation")):
        return 0.0, 1.0
    return 0.0, math.inf
