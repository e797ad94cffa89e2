"""Confidence intervals for simulation output.

Successive latencies in a queue are correlated, so an i.i.d. interval would be
too narrow. Within one run we use *batch means* (sectioning): split the
observations, in arrival order, into ``n_batches`` contiguous batches, compute
the statistic on each, and take a Student-t interval on the batch values,
centred on the statistic of the whole sample. Across replications the same
t-interval applies to the per-replication values.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import stats as scipy_stats

DEFAULT_BATCHES = 20
MIN_PER_BATCH = 10


def t_interval(values, confidence: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high) of a Student-t interval for the mean of independent ``values``."""
    values = np.asarray(values, dtype=float)
    n = values.size
    mean = float(values.mean())
    if n < 2:
        return mean, math.nan, math.nan
    half = float(scipy_stats.t.ppf(0.5 + confidence / 2, n - 1) * values.std(ddof=1) / math.sqrt(n))
    return mean, mean - half, mean + half


def batch_interval(values, statistic: Callable[[np.ndarray], float] = np.mean, confidence: float = 0.95,
                   n_batches: int = DEFAULT_BATCHES) -> tuple[float, float, float]:
    """(point, low, high): ``statistic`` of ``values`` with a batch-means interval.

    The interval is NaN when there are fewer than ``MIN_PER_BATCH`` values per batch.
    """
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return math.nan, math.nan, math.nan
    point = float(statistic(values))
    if values.size < n_batches * MIN_PER_BATCH:
        return point, math.nan, math.nan
    size = values.size // n_batches
    batches = np.array([statistic(values[i * size:(i + 1) * size]) for i in range(n_batches)])
    half = float(scipy_stats.t.ppf(0.5 + confidence / 2, n_batches - 1) * batches.std(ddof=1)
                 / math.sqrt(n_batches))
    return point, point - half, point + half


def quantile(q: float) -> Callable[[np.ndarray], float]:
    """The ``q``-quantile (0..1) as a statistic."""
    return lambda values: float(np.quantile(values, q))
