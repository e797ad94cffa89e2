"""The fast path at scale: requests/s against a bare numpy Lindley queue and against the DES, the speed-up
with workers, and (with --city) the whole city scenario.

Run:  python benchmarks/bench_scale.py [--seconds S] [--city]

Every ratio is measured in one process, one side after the other, on the same machine (shared machines are
noisy; absolute rates are not comparable across runs). Cases:
- fast path vs bare numpy: one city site (100 cameras at 10 Hz) for ``--seconds`` simulated seconds, the
  fast path with its per-request table and tally, against numpy's vectorised Lindley recursion of an M/M/1
  queue with as many customers (arrivals, services and waits, one stage); three sites, each followed by
  the numpy run, and the medians compared (a single cold run of either side is far noisier). The fast path runs
  four stages per request (device compute, uplink, server, downlink), so its per-stage ratio is
  4 x fast rate / numpy rate. Target >= 0.15.
- fast path vs DES: the same site, both engines end to end (table and summary), same requests.
- workers: eight city sites of ``--site-seconds`` (half the moonshot's hour by default, so that starting
  the pool is not most of the work) with 1 and with 2 worker processes (forked after the kernels are
  loaded). Target speed-up >= 1.8 (on 2 free cores).
- --city: scenarios/city.yaml as shipped (100 sites x 100 cameras x 1 hour, about 360 million requests)
  with 2 workers: wall time (target < 120 s) and the largest worker's peak RSS plus the parent's (target
  < 4 GB); then with 1 worker, for the city's own speed-up (target >= 1.8).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing simsplit

from simsplit.scenario import load_scenario  # noqa: E402  (after the sys.path line above)
from simsplit.studies.simulation import simulate  # noqa: E402
from simsplit.studies.sites import run_site, run_sites, site_scenario  # noqa: E402

CITY = REPO / "scenarios" / "city.yaml"
STAGES = 4
REPEATS = 3
"""Runs of each side of the one-site comparison (interleaved; the medians are compared)."""


def lindley_rate(customers: int, seed: int = 1) -> float:
    """Customers per wall-second of a vectorised numpy M/M/1 (load 0.5): arrivals, services, waits."""
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(1.0, customers)
    service = rng.exponential(0.5, customers)
    arrivals = np.cumsum(gaps)
    drift = np.cumsum(service[:-1] - gaps[1:])  # Lindley: W = C - running minimum of C, C the drift
    waits = np.concatenate(([0.0], drift - np.minimum.accumulate(np.minimum(drift, 0.0))))
    latency = waits + service
    assert latency.size == arrivals.size
    return customers / (time.perf_counter() - started)


def verdict(value: float, target: float, higher_is_better: bool = True) -> str:
    ok = value >= target if higher_is_better else value <= target
    return "meets" if ok else f"SHORT by {abs(target - value) / target:.0%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=300.0, help="simulated seconds of the one-site cases")
    parser.add_argument("--site-seconds", type=float, default=1800.0,
                        help="simulated seconds of each of the eight sites of the speed-up case")
    parser.add_argument("--city", action="store_true", help="also run the whole city (minutes)")
    args = parser.parse_args()
    short = load_scenario(CITY, [f"duration_s={args.seconds}", "warmup_s=1", "sites.count=8"])
    run_site(load_scenario(CITY, ["duration_s=2", "warmup_s=1", "sites.count=1"]), 0, None)  # load compiled kernels

    fast_rates, numpy_rates = [], []
    for site in range(REPEATS):  # interleaved, so both sides see the same machine; medians
        started = time.perf_counter()
        outcome = run_site(short, site, None)
        requests = int(outcome.tally.scope(0).statuses.sum())
        fast_rates.append(requests / (time.perf_counter() - started))
        numpy_rates.append(lindley_rate(requests))
    fast_rate, numpy_rate = float(np.median(fast_rates)), float(np.median(numpy_rates))
    ratio = STAGES * fast_rate / numpy_rate
    print(f"one site (median of {REPEATS} sites, interleaved), {requests:,} requests: "
          f"fast path {fast_rate:,.0f} req/s, bare numpy Lindley {numpy_rate:,.0f} customers/s; "
          f"per stage {ratio:.3f} (target >= 0.15: {verdict(ratio, 0.15)})")

    single = site_scenario(short, 0)
    times = {}
    for engine in ("fast", "des"):
        variant = single.model_copy(update={"engine": engine})
        variant._source = single.source
        started = time.perf_counter()
        result = simulate(variant)
        times[engine] = time.perf_counter() - started
        assert result.summary["engine"]["used"] == engine
    print(f"same site end to end (table and summary): fast {times['fast']:.2f} s, DES {times['des']:.2f} s: "
          f"fast path {times['des'] / times['fast']:.1f}x the DES")

    eight = load_scenario(CITY, [f"duration_s={args.site_seconds}", "warmup_s=1", "sites.count=8"])
    walls = {}
    for workers in (1, 2):
        started = time.perf_counter()
        run_sites(eight, workers=workers)
        walls[workers] = time.perf_counter() - started
    speedup = walls[1] / walls[2]
    print(f"eight sites of {args.site_seconds:g} s: 1 worker {walls[1]:.2f} s, 2 workers {walls[2]:.2f} s: "
          f"speed-up {speedup:.2f} "
          f"(target >= 1.8: {verdict(speedup, 1.8)})")

    if args.city:
        city = load_scenario(CITY)
        started = time.perf_counter()
        with tempfile.TemporaryDirectory() as folder:
            summary = run_sites(city, Path(folder) / "city", workers=2)
        wall = time.perf_counter() - started
        peak = (resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
                + resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1e6
        print(f"city: {summary['generated']:,} requests at {summary['sites']} sites in {wall:.0f} s "
              f"({summary['generated'] / wall:,.0f} req/s; target < 120 s: {verdict(wall, 120, False)}); "
              f"peak RSS of a worker plus the parent {peak:.2f} GB (target < 4 GB: {verdict(peak, 4, False)}); "
              f"latency mean {summary['latency_s']['mean'] * 1e3:.2f} ms, p99 {summary['latency_s']['p99'] * 1e3:.2f} "
              f"ms, deadline miss rate {summary['deadline_miss_rate']:.4f}")
        started = time.perf_counter()
        run_sites(city, workers=1)
        alone = time.perf_counter() - started
        print(f"city with 1 worker: {alone:.0f} s; speed-up with 2 workers {alone / wall:.2f} "
              f"(target >= 1.8: {verdict(alone / wall, 1.8)})")


if __name__ == "__main__":
    main()
