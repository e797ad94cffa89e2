"""Simulation speed: requests per wall-second of the full pipeline against bare SimPy M/M/1 customers per second.

Run:  python benchmarks/bench_engine.py [--requests N]

Both are measured in the same process, one after the other, so their ratio is comparable across machines.
Target: the full pipeline (head compute, uplink, server queue, downlink, records) at >= 0.4 of the bare
SimPy rate. The pipeline figure is the engine (Engine.run); the end-to-end figure adds building the
per-request table and the summary.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import simpy

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simsplit.engine import Engine  # noqa: E402
from simsplit.results import build_requests, summarise, tail_energy  # noqa: E402
from simsplit.scenario import validate_scenario  # noqa: E402
from simsplit.setup import build_setup  # noqa: E402


def bare_simpy_mm1(customers: int, seed: int = 1) -> float:
    """Customers per wall-second of the textbook SimPy M/M/1 (a process per customer, a Resource)."""
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
    return done[0] / (time.perf_counter() - started)


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


def pipeline_rates(scenario: dict) -> tuple[int, float, float]:
    """(requests, engine requests/s, end-to-end requests/s)."""
    setup = build_setup(validate_scenario(scenario))
    started = time.perf_counter()
    output = Engine(setup, 1).run()
    engine_s = time.perf_counter() - started
    request_tails, _ = tail_energy(setup, output)
    requests = build_requests(setup, output, request_tails)
    summarise(setup, requests, output)
    total_s = time.perf_counter() - started
    n = len(requests)
    return n, n / engine_s, n / total_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200_000)
    args = parser.parse_args()
    bare = bare_simpy_mm1(args.requests)
    print(f"bare SimPy M/M/1: {bare:,.0f} customers/s")
    with tempfile.TemporaryDirectory() as folder:
        for devices in (1, 100):
            n, engine, end_to_end = pipeline_rates(pipeline_scenario(Path(folder), devices, args.requests))
            print(f"pipeline, {devices:>3} device(s): {n:,} requests; engine {engine:,.0f} req/s "
                  f"(ratio {engine / bare:.2f}); end to end {end_to_end:,.0f} req/s (ratio {end_to_end / bare:.2f})")
        for devices in (1, 100):
            n, engine, end_to_end = pipeline_rates(shared_trace_scenario(Path(folder), devices, args.requests))
            print(f"shared trace-driven cell + loss + RRC, {devices:>3} device(s): {n:,} requests; engine "
                  f"{engine:,.0f} req/s (ratio {engine / bare:.2f}); end to end {end_to_end:,.0f} req/s "
                  f"(ratio {end_to_end / bare:.2f})")
    print("target: engine ratio >= 0.40")


if __name__ == "__main__":
    main()
