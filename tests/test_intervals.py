"""Intervals: quantile intervals cover the true M/M/1 sojourn quantile and are never negative; the mean's
interval never goes below zero; replication intervals stay inside the values a metric can take."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import REPO, queue_scenario, replication_seeds

from simsplit.core.stats import (
    batch_interval,
    batch_quantile_interval,
    median_ranks,
    t_interval,
)
from simsplit.studies.simulation import simulate

LAMBDA, MU = 0.7, 1.0
"""M/M/1 with utilisation 0.7: the sojourn time is exponential with rate MU - LAMBDA."""


def mm1_sojourns(rng: np.random.Generator, n: int) -> np.ndarray:
    """n successive FIFO sojourn times of a stationary M/M/1, by the Lindley recursion in closed form
    (an implementation independent of the simulator): W_k = max(W_0 + C_k, max_j (C_k - C_j))."""
    service = rng.exponential(1 / MU, n)
    gaps = rng.exponential(1 / LAMBDA, n)
    w0 = rng.exponential(1 / (MU - LAMBDA)) if rng.random() < LAMBDA / MU else 0.0
    steps = np.r_[0.0, service[:-1] - gaps[1:]]
    c = np.cumsum(steps)
    wait = np.maximum(w0 + c, c - np.minimum.accumulate(np.minimum(c, 0.0)))
    return wait + service


def test_lindley_reference_matches_theory():
    values = mm1_sojourns(np.random.default_rng(1), 400_000)
    assert values.mean() == pytest.approx(1 / (MU - LAMBDA), rel=0.03)
    assert np.quantile(values, 0.95) == pytest.approx(math.log(20) / (MU - LAMBDA), rel=0.03)


@pytest.mark.parametrize("q,n", [(0.5, 4_000), (0.95, 10_000), (0.99, 50_000)])
def test_quantile_interval_covers_the_true_mm1_quantile(q, n):
    truth = -math.log(1 - q) / (MU - LAMBDA)
    rng = np.random.default_rng(int(q * 1000))
    hits, replications = 0, 300
    for _ in range(replications):
        point, low, high = batch_quantile_interval(mm1_sojourns(rng, n), q)
        assert 0.0 <= low <= high
        hits += low <= truth <= high
    coverage = hits / replications
    # nominal 97.9% (10 batches); batch-quantile bias costs a little: at least 92% in 300 runs, and not
    # a degenerate always-covering interval
    assert 0.92 <= coverage <= 0.995, coverage


def test_the_mean_interval_never_goes_below_zero():
    rng = np.random.default_rng(3)
    skewed = np.concatenate([np.zeros(3800), rng.exponential(50.0, 200)])  # rare huge latencies, one burst
    point, low, high = batch_interval(skewed, np.mean, bounds=(0.0, math.inf))
    assert low == 0.0 and high > point
    assert t_interval([0.0, 0.0, 0.0, 9.0], bounds=(0.0, math.inf))[1] == 0.0
    assert t_interval([0.99, 1.0, 1.0, 1.0], bounds=(0.0, 1.0))[2] == 1.0


def test_median_ranks_are_the_binomial_ones():
    assert median_ranks(20, 0.95) == (6, 15)
    assert median_ranks(10, 0.95) == (2, 9)
    assert median_ranks(4, 0.95) is None


def test_too_few_values_give_no_quantile_interval():
    values = np.random.default_rng(0).exponential(1.0, 5_000)
    assert math.isnan(batch_quantile_interval(values, 0.99)[1])  # needs 10 x 5000 values
    assert math.isnan(batch_quantile_interval(values, 0.95)[1])  # needs 10 x 1000
    assert not math.isnan(batch_quantile_interval(values, 0.5)[1])


def test_engine_latency_intervals_cover_mm1_and_stay_positive(tmp_path):
    """The simulator's own M/M/1 (Poisson into one exponential server): the summary's p50/p95 intervals
    cover the exact sojourn quantiles in most of 12 replications."""
    truth = {"p50": math.log(2) / (MU - LAMBDA) * 0.01, "p95": math.log(20) / (MU - LAMBDA) * 0.01}
    hits = {k: 0 for k in truth}
    for seed in replication_seeds(12):
        data = queue_scenario(tmp_path, rate_hz=LAMBDA * 100, service_ms=10.0, duration_s=250.0, warmup_s=20.0,
                              seed=seed)
        latency = simulate(data).summary["latency_s"]
        for key, value in truth.items():
            low, high = latency["ci95"][key]
            assert 0.0 <= low <= high
            hits[key] += low <= value <= high
    assert hits["p50"] >= 10 and hits["p95"] >= 10, hits


def test_default_scenario_intervals_are_never_negative():
    latency = simulate(REPO / "scenarios" / "default.yaml").summary["latency_s"]
    for key, (low, high) in latency["ci95"].items():
        assert low is None or 0.0 <= low <= high, (key, low, high)


def test_t_quantile_equals_scipy_stats_without_loading_it():
    """The intervals' t quantile (from scipy.special) is scipy.stats's t.ppf to the last bit."""
    from scipy.stats import t

    from simsplit.core.stats import _t
    for dof in (1, 2, 4, 9, 19, 29, 99, 999):
        for confidence in (0.9, 0.95, 0.99):
            assert _t(confidence, dof) == float(t.ppf(0.5 + confidence / 2, dof))
