"""The fast path under load: the load studies on the fast path against the DES, a calibration's fit, and the
city under load.

Run:  python benchmarks/bench_load.py [--repeats N] [--city-sites N] [--city-seconds S]

Every ratio is measured in one process, the two sides interleaved, the medians compared (shared machines are
noisy; absolute times are not comparable across runs). Cases:
- server-load-step, lte-trace-tail, mobilenet-measured as shipped: the run (table and summary) on the fast
  path (engine auto) against the DES (engine des), the same requests on both sides; their request tables must
  be identical. Target >= 4x. A scenario the fast path cannot take says why (its DES reasons) and falls short.
- the same for variants that exercise what the fast path now replays: server-load-step with batching, a queue
  limit and drop_expired; mobilenet-measured with a fixed split and no probes (its processor-sharing cell);
  lte-trace-tail run for 3,000 s (its RRC state machine on a shared cell). Reported, no target.
- calibrate scenarios/calibration/bottlenet-3g.yaml: the fit as shipped (each evaluation a run's columns and
  its groups' two numbers, seed words kept across runs) against the fit as it was (each evaluation a full
  simulate() with its summary, its means through pandas Series, every seed hashed afresh), the same candidates
  evaluated; the fitted parameters must agree to 1e-9 relative. Target >= 5x.
- city-under-load: a few of its sites for 300 s each (``--city-seconds``), run as the city runs them (run_site:
  the fast path, rows tallied), in this process, extrapolated to the whole city (100 sites x 1 h) on 2 cores.
  Target < 3 min and < 4 GB. One site for a minute also on the DES: the tables must be identical (reported, no
  target).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing simsplit

from simsplit.engine.eligibility import why_not  # noqa: E402  (after the sys.path line above)
from simsplit.engine.setup import build_setup  # noqa: E402
from simsplit.scenario import load_scenario  # noqa: E402
from simsplit.studies.calibration.fit import Problem, _copy, calibrate  # noqa: E402
from simsplit.studies.simulation import simulate  # noqa: E402

LOAD_STUDIES = ("server-load-step", "lte-trace-tail", "mobilenet-measured")
CALIBRATION = REPO / "scenarios" / "calibration" / "bottlenet-3g.yaml"


def verdict(value: float, target: float) -> str:
    return "meets" if value >= target else f"SHORT by {(target - value) / target:.0%}"


def timed(function) -> tuple[float, object]:
    started = time.perf_counter()
    value = function()
    return time.perf_counter() - started, value


VARIANTS = {
    "server-load-step + batching, queue limit, drop_expired": (
        "server-load-step", ["server.batching={max_batch: 8, max_wait_ms: 4}", "server.queue_capacity=50",
                             "server.drop_expired=true"]),
    "mobilenet-measured, fixed split, no probes": (
        "mobilenet-measured", ["strategy={kind: fixed, split: 3, bottleneck: raw-int8}", "devices.0.probe=null"]),
    "lte-trace-tail for 3,000 s": ("lte-trace-tail", ["duration_s=3000"]),
}


def load_study(name: str, repeats: int, overrides: list[str] | None = None, label: str | None = None,
               target: float | None = 4.0) -> None:
    """One load study on both engines, interleaved; the medians' ratio and the tables compared."""
    label = label or name
    scenario = load_scenario(REPO / "scenarios" / f"{name}.yaml", overrides or [])
    reasons = why_not(build_setup(scenario))
    if reasons:
        print(f"{label}: on the DES ({'; '.join(reasons)}): SHORT of the 4x target (no fast run)")
        return
    des_scenario = scenario.model_copy(update={"engine": "des"})
    simulate(scenario, stream=False)  # the compiled kernels loaded before timing
    fast_s, des_s = [], []
    for _ in range(repeats):
        seconds, fast = timed(lambda: simulate(scenario, stream=False))
        fast_s.append(seconds)
        seconds, des = timed(lambda: simulate(des_scenario, stream=False))
        des_s.append(seconds)
    pd.testing.assert_frame_equal(fast.requests, des.requests, check_exact=True)  # type: ignore[attr-defined]
    requests = len(fast.requests)  # type: ignore[attr-defined]
    ratio = statistics.median(des_s) / statistics.median(fast_s)
    goal = f" (target >= {target:.0f}x: {verdict(ratio, target)})" if target is not None else ""
    print(f"{label}: {requests:,} requests, identical tables; fast {statistics.median(fast_s) * 1e3:,.0f} ms "
          f"({requests / statistics.median(fast_s):,.0f} req/s), DES {statistics.median(des_s) * 1e3:,.0f} ms: "
          f"{ratio:.1f}x{goal}")


def _predict_as_before(self, candidate, scenario, seeds):
    """A calibration's evaluation as it was: a full simulate() (table, summary, provenance) per seed."""
    import dataclasses
    profile, payloads, scenario = self.tables(candidate, scenario)
    setup = build_setup(scenario, tables=(profile, payloads))
    totals: dict = {}
    for seed in seeds:
        seeded = _copy(scenario, seed=seed)
        setup = dataclasses.replace(setup, scenario=seeded)
        result = simulate(seeded, setup=setup, stream=False)
        for name, group in result.summary["groups"].items():
            latency = group["latency_s"][self.config.latency_statistic]
            totals[name] = totals.get(name, 0.0) + np.array([latency, group["energy_j"]["total"]])
    self.evaluations += 1
    return {name: (float(v[0] / len(seeds)), float(v[1] / len(seeds))) for name, v in totals.items()}


def calibration_fit() -> None:
    """The BottleNet 3G fit as shipped against the fit with the old evaluation, fitted parameters compared."""
    shipped_s, fitted = timed(lambda: calibrate(CALIBRATION))
    from simsplit.core import streams
    from simsplit.output import summary
    shipped = (Problem.predict, summary._mean, streams.HASHED_KEPT)
    Problem.predict = _predict_as_before  # type: ignore[method-assign]
    summary._mean = lambda values: float(pd.Series(values, copy=False).mean())  # as it was
    streams.HASHED_KEPT = 0  # no seed words kept, and none of the shipped run's reused
    streams._HASHED.clear()
    try:
        before_s, before = timed(lambda: calibrate(CALIBRATION))
    finally:
        Problem.predict, summary._mean, streams.HASHED_KEPT = shipped  # type: ignore[method-assign]
    agree = np.allclose(fitted.values, before.values, rtol=1e-9, atol=0.0)  # type: ignore[attr-defined]
    ratio = before_s / shipped_s
    print(f"calibrate bottlenet-3g: shipped {shipped_s:.1f} s, as before {before_s:.1f} s: {ratio:.1f}x "
          f"(target >= 5x: {verdict(ratio, 5.0)}); fitted parameters {'agree' if agree else 'DIFFER'} to 1e-9")


def city_under_load(sites: int, seconds: float) -> None:
    """A few sites of city-under-load run as the city runs them (:func:`~simsplit.studies.sites.run_site`, the
    fast path, each for ``seconds``) in this process, extrapolated to the whole city (every site for the hour)
    on 2 cores; one site for a minute on both engines."""
    import resource

    from simsplit.studies.sites import run_site, site_scenario
    scenario = load_scenario(REPO / "scenarios" / "city-under-load.yaml")
    sample = load_scenario(REPO / "scenarios" / "city-under-load.yaml", [f"duration_s={seconds}", "warmup_s=1"])
    minute = load_scenario(REPO / "scenarios" / "city-under-load.yaml", ["duration_s=60", "warmup_s=1"])
    assert not why_not(build_setup(site_scenario(sample, 0)))
    simulate(site_scenario(minute.model_copy(update={"duration_s": 2.0}), 0), stream=False)  # kernels loaded first
    spent = sum(timed(lambda k=k: run_site(sample, k, None))[0] for k in range(sites))
    site = site_scenario(minute, 0)
    fast_s, fast = timed(lambda: simulate(site, stream=False))
    des_s, des = timed(lambda: simulate(site.model_copy(update={"engine": "des"}), stream=False))
    pd.testing.assert_frame_equal(fast.requests, des.requests, check_exact=True)  # type: ignore[attr-defined]
    print(f"city-under-load, one site x 60 s: identical tables; fast {fast_s:.2f} s, DES {des_s:.2f} s: "
          f"{des_s / fast_s:.1f}x")
    per_second = len(fast.requests) / 60.0  # type: ignore[attr-defined]  # a site's requests per simulated second
    rate = per_second * seconds * sites / spent
    count = scenario.sites.count  # type: ignore[union-attr]
    city_s = count * spent / sites * scenario.duration_s / seconds / 2
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    print(f"city-under-load: {sites} sites x {seconds:g} s as the city runs them, {spent / sites:.2f} s each "
          f"(about {rate:,.0f} req/s on one core); the whole city ({count} sites x {scenario.duration_s:g} s, "
          f"about {per_second * count * scenario.duration_s:,.0f} requests) on 2 cores: about {city_s / 60:,.1f} "
          f"min (target < 3 min: {verdict(180.0 / city_s, 1.0)}); this process peaked at {peak_gb:.2f} GB "
          f"(target < 4 GB: {verdict(4.0 / peak_gb, 1.0)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--city-sites", type=int, default=2)
    parser.add_argument("--city-seconds", type=float, default=300.0)
    options = parser.parse_args()
    for name in LOAD_STUDIES:
        load_study(name, options.repeats)
    for label, (name, overrides) in VARIANTS.items():
        load_study(name, max(1, options.repeats // 2), overrides, label, target=None)
    calibration_fit()
    city_under_load(options.city_sites, options.city_seconds)


if __name__ == "__main__":
    main()
