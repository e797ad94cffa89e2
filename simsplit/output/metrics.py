"""The per-run numbers that sweeps and comparisons average over seeds, each read from a run's summary (SI)."""

from __future__ import annotations

import math
from collections.abc import Callable


def _deadline_hit_rate(summary: dict) -> float:
    miss = summary["deadline_miss_rate"]
    return math.nan if miss is None else 1.0 - miss


RUN_METRICS: dict[str, Callable[[dict], float]] = {
    "latency_mean_s": lambda s: s["latency_s"]["mean"], "latency_p50_s": lambda s: s["latency_s"]["p50"],
    "latency_p95_s": lambda s: s["latency_s"]["p95"], "latency_p99_s": lambda s: s["latency_s"]["p99"],
    "energy_j": lambda s: s["energy_j"]["total"], "compute_j": lambda s: s["energy_j"]["compute"],
    "uplink_j": lambda s: s["energy_j"]["uplink"], "tail_j": lambda s: s["energy_j"]["tail"],
    "accuracy": lambda s: s["accuracy"], "throughput_rps": lambda s: s["throughput_rps"],
    "deadline_miss_rate": lambda s: s["deadline_miss_rate"], "deadline_hit_rate": _deadline_hit_rate,
    "server_utilisation": lambda s: s["server_utilisation"],
    "switches": lambda s: sum(g["switches"] for g in s["groups"].values()),
    "completed": lambda s: s["completed"], "dropped": lambda s: s["dropped"],
}
"""Every metric by name."""

SWEEP_METRICS = ("latency_mean_s", "latency_p50_s", "latency_p95_s", "latency_p99_s", "energy_j", "compute_j",
                 "uplink_j", "tail_j", "accuracy", "throughput_rps", "deadline_miss_rate", "server_utilisation",
                 "completed", "dropped")
"""What a sweep's tables hold per run and per configuration."""

COMPARE_METRICS = ("latency_mean_s", "latency_p95_s", "energy_j", "accuracy", "deadline_hit_rate", "switches")
"""What ``compare`` averages per strategy."""


def run_metrics(summary: dict, names: tuple[str, ...]) -> dict:
    """The metrics ``names`` of one run's summary."""
    return {name: RUN_METRICS[name](summary) for name in names}
