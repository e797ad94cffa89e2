"""Simulation speed against bare SimPy, per request and per event.

Run:  python benchmarks/bench_engine.py [--requests N]

Both sides are measured in the same process: each case between two bare SimPy runs of as many customers,
its ratios taken against their mean (a shared machine's speed drifts within a minute), so the ratios are
comparable across machines. Events are counted the same way on both sides: every event SimPy scheduled
(its event-id counter at the end of the run). A request of the static pipeline costs about 4 events, a bare M/M/1
customer about 6, so the per-request ratio flatters the engine; the per-event ratio does not.

Cases: the static pipeline at 1, 100 and 10,000 devices (the growth in cost from 100 to 10,000 devices
from the medians of three interleaved runs of each); a shared trace-driven cell with loss and the RRC
state machine; the dynamic strategy with load probes. Targets (per event): >= 0.7 of bare SimPy for the
static pipeline, >= 0.6 for the shared cell; per-request cost at 10,000 devices <= 1.3x that at 100.
The engine figure is Engine.run (per request and per event); building the engine (its devices, links and
streams: a cost per device, not per request, which at 10,000 devices includes a full pass of the garbage
collector over what earlier runs in the process left) is printed beside it; the end-to-end figure adds
building, the per-request table and the summary.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import simpy

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simsplit.engine.des import Engine  # noqa: E402
from simsplit.engine.setup import build_setup  # noqa: E402
from simsplit.output.results import build_requests  # noqa: E402
from simsplit.output.summary import summarise  # noqa: E402
from simsplit.scenario import validate_scenario  # noqa: E402

REPEATS = 3
"""Interleaved runs of the 100- and 10,000-device pipelines whose medians give the growth in cost."""


def events_of(env: simpy.Environment) -> int:
    """Events the environment scheduled so far (SimPy numbers every scheduled event)."""
    return next(env._eid)


def bare_simpy_mm1(customers: int, seed: int = 1) -> tuple[float, float]:
    """(customers, events) per wall-second of the textbook SimPy M/M/1 (a process per customer, a Resource)."""
    rng = random.Random(seed)
    env = simpy.Environment()
    server = simpy.Resource(env, capacity=1)
    done = [0]

    def customer():
        with server.request() as request:
            yield request
            yield env.timeout(rng.expovariate(100.0))
        done[0] += 1

    def source():
        for _ in range(customers):
            yield env.timeout(rng.expovariate(50.0))
            env.process(customer())

    env.process(source())
    started = time.perf_counter()
    env.run()
    elapsed = time.perf_counter() - started
    return done[0] / elapsed, events_of(env) / elapsed


def pipeline_scenario(folder: Path, devices: int, requests: int) -> dict:
    """devices phones at a total of 50 requests/s, split 1 of 2, a 2-worker server at utilisation ~0.25."""
    profile, payloads = folder / "profile.csv", folder / "payloads.csv"
    profile.write_text("split,name,head_ms_phone,tail_ms_gpu,output_bytes\n0,in,0,15,150528\n"
                       "1,mid,4,10,8000\n2,out,9,0,4\n")
    payloads.write_text("split,bottleneck,bytes,accuracy,encode_ms,decode_ms\n0,jpeg,20000,0.76,1,0.5\n"
                        "1,bn,300,0.74,0.3,0.2\n2,none,0,0.76,0,0\n")
    rate = 50.0 / devices
    return {
        "name": f"bench-{devices}", "seed": 1, "duration_s": requests / 50.0,
        "model": {"profile": str(profile), "payloads": str(payloads), "result_bytes": 8},
        "devices": [{"name": "phones", "count": devices, "device_class": "phone", "compute_power_w": 1.3,
                     "arrivals": {"kind": "poisson", "rate_hz": rate}}],
        "network": {"uplink": {"kind": "constant", "rate_mbps": 5.85, "delay_ms": 10},
                    "downlink": {"kind": "constant", "rate_mbps": 12.0, "delay_ms": 10},
                    "radio": {"technology": "lte"}},
        "server": {"server_class": "gpu", "workers": 2, "service_variability": {"kind": "exponential"}},
        "strategy": {"kind": "fixed", "split": 1, "bottleneck": "bn"},
    }


def shared_trace_scenario(folder: Path, devices: int, requests: int) -> dict:
    """The same load on one processor-sharing cell whose capacity replays traces/lte-uplink-markov.csv,
    with 1% packet loss and retransmission, and the LTE radio state machine on."""
    scenario = pipeline_scenario(folder, devices, requests)
    scenario["name"] = f"bench-shared-{devices}"
    scenario["network"]["uplink"] = {
        "kind": "trace", "file": str(Path(__file__).resolve().parents[1] / "traces" / "lte-uplink-markov.csv"),
        "format": "csv", "sharing": "processor_sharing", "delay_ms": 10,
        "loss": {"kind": "bernoulli", "p": 0.01}}
    scenario["network"]["radio"] = {"technology": "lte", "state_machine": True}
    return scenario


def dynamic_probe_scenario(folder: Path, devices: int, requests: int) -> dict:
    """The static load with the dynamic strategy choosing among the three options, probing every 0.5 s."""
    scenario = pipeline_scenario(folder, devices, requests)
    scenario["name"] = f"bench-dynamic-{devices}"
    scenario["devices"][0]["probe"] = {"period_s": 0.5}
    scenario["strategy"] = {"kind": "dynamic", "objective": "latency"}
    return scenario


def pipeline_rates(scenario: dict) -> tuple[int, float, float, float, float]:
    """(requests, engine requests/s, end-to-end requests/s, engine events/s, building s): the engine's rates
    from Engine.run alone."""
    setup = build_setup(validate_scenario(scenario))
    started = time.perf_counter()
    engine = Engine(setup, 1)
    built = time.perf_counter()
    output = engine.run()
    engine_s = time.perf_counter() - built
    events = events_of(engine.env)
    requests = build_requests(setup, output, output.columns["tail_j"])
    summarise(setup, requests, output)
    total_s = time.perf_counter() - started
    n = len(requests)
    return n, n / engine_s, n / total_s, events / engine_s, built - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200_000)
    args = parser.parse_args()
    bare, bare_events = bare_simpy_mm1(args.requests)
    print(f"bare SimPy M/M/1: {bare:,.0f} customers/s, {bare_events:,.0f} events/s (measured again around each case)")
    shortfalls = []
    per_request_cost: dict[int, list[float]] = {}
    cases = [("pipeline", pipeline_scenario, devices, 0.7) for devices in (1, 100, 10_000)]
    cases += [("shared trace-driven cell + loss + RRC", shared_trace_scenario, devices, 0.6) for devices in (1, 100)]
    cases += [("dynamic + probes", dynamic_probe_scenario, 100, None)]
    with tempfile.TemporaryDirectory() as folder:
        for label, build, devices, target in cases:
            before = bare_simpy_mm1(args.requests)
            n, engine, end_to_end, events, build_s = pipeline_rates(build(Path(folder), devices, args.requests))
            after = bare_simpy_mm1(args.requests)
            bare, bare_events = (before[0] + after[0]) / 2, (before[1] + after[1]) / 2
            ratio = events / bare_events
            verdict = "" if target is None else f" (target >= {target}: {'met' if ratio >= target else 'SHORT'})"
            print(f"{label}, {devices:>6} device(s): {n:,} requests, {events / engine * n / n:,.1f} events/request; "
                  f"engine {engine:,.0f} req/s (per request {engine / bare:.2f}), per event {ratio:.2f}{verdict}; "
                  f"end to end {end_to_end:,.0f} req/s ({end_to_end / bare:.2f}); building {build_s:.3f} s "
                  f"({build_s / devices * 1e6:,.0f} us a device)")
            if target is not None and ratio < target:
                shortfalls.append(f"{label} at {devices} devices: per-event ratio {ratio:.2f} < {target}")
        for _ in range(REPEATS):  # interleaved, medians: one run of each swings by a fifth here
            for devices in (100, 10_000):
                n, engine, _, _, _ = pipeline_rates(pipeline_scenario(Path(folder), devices, args.requests))
                per_request_cost.setdefault(devices, []).append(1.0 / engine)
    growth = statistics.median(per_request_cost[10_000]) / statistics.median(per_request_cost[100])
    print(f"per-request cost at 10,000 devices / at 100 (medians of {REPEATS} interleaved runs): {growth:.2f} "
          f"(target <= 1.3: {'met' if growth <= 1.3 else 'SHORT'})")
    if growth > 1.3:
        shortfalls.append(f"per-request cost grows {growth:.2f}x from 100 to 10,000 devices")
    print("falls short: " + ("; ".join(shortfalls) if shortfalls else "nothing"))


if __name__ == "__main__":
    main()
