"""The engine against queueing theory: the server alone as M/M/1, M/D/1, M/G/1, M/M/c and M/M/1/K.

Each check runs R independent replications (seeds spawned from one root), cuts a warm-up, and asserts
that the closed-form value lies inside the 99% Student-t interval of the per-replication estimates.
A failure prints the interval.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import queue_scenario, replication_seeds

from simsplit import simulate
from simsplit.core.stats import t_interval
from simsplit.scenario import validate_scenario

REPLICATIONS = 10
CONFIDENCE = 0.99


def replicate(scenario: dict, *statistics):
    """Each statistic over the same REPLICATIONS runs: one array, or a tuple of arrays for several."""
    base = validate_scenario(scenario)
    values = [[] for _ in statistics]
    for seed in replication_seeds(REPLICATIONS):
        result = simulate(base, seed=seed)
        for column, statistic in zip(values, statistics, strict=True):
            column.append(statistic(result))
    arrays = tuple(np.array(column) for column in values)
    return arrays[0] if len(arrays) == 1 else arrays


def mean_wait(result) -> float:
    r = result.requests
    done = r[(r["status"] == "completed") & (r["arrival_at_s"] >= result.scenario.warmup_s)]
    return float(done["server_wait_s"].mean())


def assert_inside(theory: float, values: np.ndarray, what: str) -> None:
    mean, low, high = t_interval(values, CONFIDENCE)
    assert low <= theory <= high, \
        f"{what}: theory {theory:.6g} outside 99% interval [{low:.6g}, {high:.6g}] (mean {mean:.6g})"
    # the interval must be narrow enough to catch a real error: within 10% of the value
    assert (high - low) / 2 < 0.1 * theory, f"{what}: interval [{low:.6g}, {high:.6g}] too wide to test anything"


def erlang_c(servers: int, offered: float) -> float:
    """Probability that an arrival waits in M/M/c with offered load a = lambda/mu (Erlang C)."""
    rho = offered / servers
    top = offered**servers / math.factorial(servers) / (1 - rho)
    return top / (sum(offered**k / math.factorial(k) for k in range(servers)) + top)


@pytest.mark.slow
def test_mm1_mean_wait(tmp_path):
    lam, service_s = 70.0, 0.010  # rho = 0.7
    scenario = queue_scenario(tmp_path, rate_hz=lam, service_ms=service_s * 1e3, duration_s=500, warmup_s=20)
    mu = 1 / service_s
    assert_inside(lam / (mu * (mu - lam)), replicate(scenario, mean_wait), "M/M/1 Wq")


@pytest.mark.slow
def test_md1_mean_wait(tmp_path):
    lam, service_s = 70.0, 0.010
    scenario = queue_scenario(tmp_path, rate_hz=lam, service_ms=service_s * 1e3, duration_s=500, warmup_s=20,
                              variability={"kind": "deterministic"})
    rho = lam * service_s
    assert_inside(rho * service_s / (2 * (1 - rho)), replicate(scenario, mean_wait), "M/D/1 Wq")


@pytest.mark.slow
@pytest.mark.parametrize("variability", [
    {"kind": "gamma", "cv": 2.0},
    {"kind": "uniform", "cv": 0.5},
    {"kind": "lognormal", "cv": 0.8},
])
def test_mg1_pollaczek_khinchine(tmp_path, variability):
    lam, service_s = 50.0, 0.010  # rho = 0.5
    scenario = queue_scenario(tmp_path, rate_hz=lam, service_ms=service_s * 1e3, duration_s=800, warmup_s=20,
                              variability=variability)
    # moments read from the model under test
    multiplier = validate_scenario(scenario).server.service_variability.multiplier
    mean_s = service_s * multiplier.mean
    second = service_s**2 * multiplier.second_moment
    rho = lam * mean_s
    assert_inside(lam * second / (2 * (1 - rho)), replicate(scenario, mean_wait), f"M/G/1 {variability} Wq")


@pytest.mark.slow
def test_mmc_erlang_c(tmp_path):
    servers, lam, service_s = 3, 210.0, 0.010  # rho = 0.7
    scenario = queue_scenario(tmp_path, rate_hz=lam, service_ms=service_s * 1e3, workers=servers,
                              duration_s=300, warmup_s=10)
    mu = 1 / service_s
    theory = erlang_c(servers, lam / mu) / (servers * mu - lam)
    assert_inside(theory, replicate(scenario, mean_wait), "M/M/3 Wq")


@pytest.mark.slow
def test_mm1k_blocking_probability(tmp_path):
    lam, service_s, capacity = 90.0, 0.010, 4  # rho = 0.9, K = 1 in service + 3 waiting
    scenario = queue_scenario(tmp_path, rate_hz=lam, service_ms=service_s * 1e3, queue_capacity=capacity - 1,
                              duration_s=300, warmup_s=10)
    rho = lam * service_s
    theory = (1 - rho) * rho**capacity / (1 - rho ** (capacity + 1))

    def blocked(result):
        r = result.requests
        measured = r[(r["arrival_at_s"] >= result.scenario.warmup_s) & (r["status"] != "in_flight")]
        return float((measured["status"] == "dropped").mean())

    assert_inside(theory, replicate(scenario, blocked), "M/M/1/4 blocking")


@pytest.mark.slow
def test_utilisation_is_offered_load(tmp_path):
    servers, lam, service_s = 2, 120.0, 0.010
    scenario = queue_scenario(tmp_path, rate_hz=lam, service_ms=service_s * 1e3, workers=servers,
                              duration_s=300, warmup_s=10, variability={"kind": "gamma", "cv": 0.5})
    values = replicate(scenario, lambda r: r.summary["server_utilisation"])
    assert_inside(lam * service_s / servers, values, "utilisation")


@pytest.mark.slow
def test_littles_law_on_one_run(tmp_path):
    """L = lambda W over a window: the time-average of the number-in-system step function N(t)
    (integrated from arrival and departure instants) against arrival rate x mean sojourn."""
    scenario = queue_scenario(tmp_path, rate_hz=80.0, service_ms=10.0, duration_s=3000, warmup_s=0)
    result = simulate(validate_scenario(scenario))
    r = result.requests
    served = r[r["status"] == "completed"]
    arrive, leave = served["server_arrival_at_s"].to_numpy(), served["service_end_at_s"].to_numpy()
    low, high = 100.0, 2900.0
    instants = np.concatenate([arrive, leave])
    steps = np.concatenate([np.ones(arrive.size), -np.ones(leave.size)])
    order = np.argsort(instants, kind="stable")
    instants, count = instants[order], np.cumsum(steps[order])
    clipped = np.clip(instants, low, high)
    time_average_number = float((count[:-1] * np.diff(clipped)).sum()) / (high - low)
    inside = (arrive >= low) & (arrive < high)
    arrival_rate = inside.sum() / (high - low)
    mean_sojourn = float((leave[inside] - arrive[inside]).mean())
    assert time_average_number == pytest.approx(arrival_rate * mean_sojourn, rel=0.01)
    # and both match the M/M/1 value rho/(1-rho) = 4 within 5%
    assert time_average_number == pytest.approx(4.0, rel=0.05)


@pytest.mark.slow
def test_background_load_mg1_combined_stream(tmp_path):
    """Project jobs (deterministic 10 ms, 30/s) share a FIFO server with another tenant's Poisson stream
    (exponential 5 ms, 60/s): the project's mean wait is the M/G/1 wait of the combined stream (PASTA)."""
    lam1, s1, lam2, s2 = 30.0, 0.010, 60.0, 0.005
    scenario = queue_scenario(tmp_path, rate_hz=lam1, service_ms=s1 * 1e3, duration_s=600, warmup_s=20,
                              variability={"kind": "deterministic"})
    scenario["server"]["background"] = [{"kind": "poisson", "rate_hz": lam2, "service_ms": s2 * 1e3,
                                         "service_variability": {"kind": "exponential"}}]
    lam = lam1 + lam2
    mean = (lam1 * s1 + lam2 * s2) / lam
    second = (lam1 * s1**2 + lam2 * 2 * s2**2) / lam
    rho = lam * mean
    assert_inside(lam * second / (2 * (1 - rho)), replicate(scenario, mean_wait), "M/G/1 with background Wq")


@pytest.mark.slow
def test_background_load_mmc_combined_stream(tmp_path):
    """Two workers, project and background both exponential 10 ms (the server's factor), 70/s each: M/M/2."""
    servers, lam1, lam2, service_s = 2, 70.0, 70.0, 0.010
    scenario = queue_scenario(tmp_path, rate_hz=lam1, service_ms=service_s * 1e3, workers=servers,
                              duration_s=300, warmup_s=10)
    scenario["server"]["background"] = [{"kind": "poisson", "rate_hz": lam2, "service_ms": service_s * 1e3,
                                         "service_variability": {"kind": "deterministic"}}]
    mu, lam = 1 / service_s, lam1 + lam2
    theory = erlang_c(servers, lam / mu) / (servers * mu - lam)
    waits, utilisations = replicate(scenario, mean_wait, lambda r: r.summary["server_utilisation"])
    assert_inside(theory, waits, "M/M/2 with background Wq")
    assert_inside(lam * service_s / servers, utilisations, "utilisation with background")
