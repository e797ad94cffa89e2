"""The adaptive policies against the bound, on LTE-like uplinks with outages and fades and on public traces.

Each case is the study researchers run: six Raspberry-Pi-class cameras, Poisson 2 Hz each, ResNet-50 split
with the shipped BottleNet payload table, a 2-GPU edge server, one uplink each replaying the case's trace from
its own random offset. Three server loads: none, other tenants at 50% of the GPUs, and a step to 97% for a
third of the run. For every case and seed the same work runs under every policy (``simsplit compare``'s
variants: local, full offload, fixed splits, Neurosurgeon, Edgent, dynamic, distribution with and without the
late-upload fallback, MPC, LinUCB, the greedy oracle, the oracle that knows only the present, and the planned
bound where compare can plan); the **bound** per seed is the best of the planned bound, the oracle and every
static strategy. Printed per case: each policy's mean latency (or energy, ``--objective energy``) with its 95%
interval over seeds, its regret against the bound (paired by seed, with its interval), and the paired p-value
of its difference from the best fixed split and from Neurosurgeon; then the targets, each with what falls
short, beside the regret of the oracle that knows the channel's capacity now (exactly) but not its future: what
measuring alone, with no forecast, reaches. ``--figure`` draws the regrets.

    python benchmarks/policies.py              # 300 s runs, 5 seeds (about 20 minutes on 2 cores)
    python benchmarks/policies.py --quick      # 120 s runs, 5 seeds, the synthetic cases only
    python benchmarks/policies.py --planned    # the planned bound too (its exact DP takes minutes a seed here)

Synthetic traces are generated here (seeded); the public traces in ``../shared/traces-real`` are read in place
when present (never copied).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import stats

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from simsplit.scenario import validate_scenario  # noqa: E402  (after the checkout is on the path)
from simsplit.studies.compare import compare  # noqa: E402

SHARED = REPO.parent / "shared" / "traces-real"
POLICIES = ("neurosurgeon", "edgent", "dynamic", "distribution", "distribution+fallback", "mpc", "linucb", "oracle",
            "oracle(present)", "planned")
LOADS = {"idle": [],
         "half": [{"kind": "utilisation_steps", "times_s": [0], "utilisation": [0.5], "service_ms": 10}],
         "step": [{"kind": "utilisation_steps", "times_s": [0, 1 / 3, 2 / 3], "utilisation": [0.0, 0.97, 0.0],
                   "service_ms": 10}]}
"""Other tenants' jobs on the server (10 ms each): none, half the GPUs, or 97% for the middle third of the run."""


def markov_trace(folder: Path, name: str, levels_mbps, sojourn_s, seed: int, duration_s: float = 900.0) -> Path:
    """A trace of our own: a Markov chain over rate levels (Mbit/s), moving to a uniformly chosen other level
    after an exponential sojourn of the level's mean; written as CSV."""
    rng = np.random.default_rng(seed)
    t, state, rows = 0.0, len(levels_mbps) // 2, []
    while t < duration_s:
        rows.append(f"{t:.6f},{levels_mbps[state]:.6f}")
        t += rng.exponential(sojourn_s[state])
        state = int(rng.choice([s for s in range(len(levels_mbps)) if s != state]))
    rows.append(f"{duration_s:.6f},{levels_mbps[state]:.6f}")
    path = folder / f"{name}.csv"
    path.write_text(f"# {name}: levels {list(levels_mbps)} Mbps, sojourns {list(sojourn_s)} s, seed {seed}\n"
                    "time_s,rate_mbps\n" + "\n".join(rows) + "\n")
    return path


def cases(folder: Path, quick: bool) -> dict[str, dict]:
    """Uplink blocks by case name."""
    found = {
        "lte-outages": {"kind": "trace", "format": "csv", "file": str(markov_trace(
            folder, "lte-outages", [0.0, 0.3, 1.0, 2.5, 6.0, 15.0], [3.0, 2.0, 2.0, 2.0, 1.5, 1.0], 7))},
        "fades": {"kind": "trace", "format": "csv", "file": str(markov_trace(
            folder, "fades", [0.5, 2.0, 6.0, 12.0], [2.0, 2.0, 2.0, 2.0], 11))},
    }
    verizon = SHARED / "mahimahi-saturator" / "Verizon-LTE-short.up"
    if not quick and verizon.is_file():
        found["verizon-lte"] = {"kind": "trace", "format": "mahimahi", "file": str(verizon)}
    return found


def scenario(uplink: dict, load: list[dict], duration_s: float, objective: str = "latency") -> dict:
    background = [{**block, "times_s": [t * duration_s for t in block["times_s"]]} for block in load]
    return {
        "name": "policies", "seed": 1, "duration_s": duration_s, "warmup_s": 5.0,
        "model": {"profile": str(REPO / "scenarios/profiles/resnet50-bottlenet.csv"),
                  "payloads": str(REPO / "scenarios/payloads/resnet50-bottlenet.csv"), "result_bytes": 8},
        "devices": [{"name": "cameras", "count": 6, "device_class": "rpi4", "compute_power_w": 6.4,
                     "arrivals": {"kind": "poisson", "rate_hz": 2}}],
        "network": {"uplink": {**uplink, "offset_s": "random", "delay_ms": 15},
                    "downlink": {"kind": "constant", "rate_mbps": 12.74, "delay_ms": 15},
                    "radio": {"technology": "lte"}},
        "server": {"server_class": "gtx1080ti", "workers": 2, "background": background},
        "strategy": {"kind": "dynamic", "estimator": {"kind": "ewma", "alpha": 0.5}, "initial_uplink_mbps": 6,
                     "objective": objective},
    }


UNIT = {"energy": False}
"""Whether the objective is energy (printed in mJ; else latency, in ms)."""


def run_case(data: dict, seeds: list[int], plan: bool) -> dict[str, np.ndarray]:
    """Each policy's mean objective per seed (latency s or energy J a request), and the bound's."""
    chosen = validate_scenario(data)
    runs, _, _ = compare(chosen, seeds, plan=plan)
    by = runs.pivot(index="seed", columns="strategy", values="objective")
    static = [name for name in by.columns if name.startswith(("local", "full_offload", "fixed"))]
    out = {name: by[name].to_numpy() for name in by.columns}
    bounds = [*static, "oracle"] + (["planned"] if "planned" in by.columns else [])
    out["bound"] = by[bounds].min(axis=1).to_numpy()
    out["best fixed"] = by[min(static, key=lambda name: by[name].mean())].to_numpy()
    return out


def report(name: str, latency: dict[str, np.ndarray]) -> list[tuple[str, str, float, float, float]]:
    """Print the case's table; return (case, policy, relative regret, p vs best fixed, p vs Neurosurgeon)."""
    bound, fixed, neuro = latency["bound"], latency["best fixed"], latency.get("neurosurgeon")
    unit = "mJ" if UNIT["energy"] else "ms"
    print(f"\n{name}: bound {1e3 * bound.mean():.1f} {unit}, best fixed {1e3 * fixed.mean():.1f} {unit}")
    print(f"  {'policy':<21} {'mean ' + unit:>9} {'95% CI':>17} {'regret':>8} {'regret CI':>17} {'p fixed':>8} "
          f"{'p NS':>8}")
    rows = []
    for policy in POLICIES:
        if policy not in latency:
            continue
        values = latency[policy]
        low, high = _interval(values)
        gap = (values - bound) / bound.mean()
        g_low, g_high = _interval(gap)
        p_fixed = _paired_p(values, fixed)
        p_neuro = _paired_p(values, neuro) if neuro is not None and policy != "neurosurgeon" else math.nan
        print(f"  {policy:<21} {1e3 * values.mean():9.1f} [{1e3 * low:7.1f},{1e3 * high:7.1f}] "
              f"{100 * gap.mean():7.1f}% [{100 * g_low:6.1f}%,{100 * g_high:6.1f}%] {p_fixed:8.3f} {p_neuro:8.3f}")
        rows.append((name, policy, float(gap.mean()), p_fixed, p_neuro))
    return rows


def _interval(values: np.ndarray) -> tuple[float, float]:
    """The 95% t-interval of the mean of ``values`` (NaN where they do not vary: the bound's own regret)."""
    scale = stats.sem(values)
    if not scale > 0:
        return math.nan, math.nan
    low, high = stats.t.interval(0.95, len(values) - 1, loc=values.mean(), scale=scale)
    return float(low), float(high)


def _paired_p(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided paired t-test p-value (1 when the pairs are identical)."""
    if np.allclose(a, b, rtol=0, atol=0):
        return 1.0
    return float(stats.ttest_rel(a, b).pvalue)


def targets(rows, latencies: dict[str, dict[str, np.ndarray]], policy: str) -> None:
    """The issue's targets for ``policy``, each with what falls short."""
    print(f"\nTargets for {policy}:")
    for case, latency in latencies.items():
        if policy not in latency:
            continue
        values, bound, fixed = latency[policy], latency["bound"], latency["best fixed"]
        regret = float(((values - bound) / bound.mean()).mean())
        present = latency.get("oracle(present)")
        reference = "" if present is None else (
            f"; the oracle of the present {100 * float(((present - bound) / bound.mean()).mean()):.1f}%, "
            f"{policy} {100 * float(values.mean() / present.mean() - 1):+.1f}% from it")
        limit = 0.20 if case.endswith("/step") or case.endswith("/half") else 0.15
        worse_than_fixed = float(values.mean() / fixed.mean() - 1)
        print(f"  {case:<24} regret {100 * regret:6.1f}% (target <= {100 * limit:.0f}%: "
              f"{'met' if regret <= limit else f'short by {100 * (regret - limit):.1f} points'}); "
              f"vs best fixed {100 * worse_than_fixed:+.1f}% (target <= +2%: "
              f"{'met' if worse_than_fixed <= 0.02 else 'NOT met'}){reference}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="120 s runs, synthetic cases only")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--figure", type=Path, help="write the regrets as a PNG here")
    parser.add_argument("--objective", choices=("latency", "energy"), default="latency",
                        help="what every policy minimises and the bound and regrets are measured in")
    parser.add_argument("--planned", action="store_true",
                        help="also the planned bound (exact per-device DP; minutes per seed on the outage traces)")
    args = parser.parse_args()
    UNIT["energy"] = args.objective == "energy"
    duration = 120.0 if args.quick else 300.0
    seeds = list(range(1, args.seeds + 1))
    rows, latencies = [], {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        for case, uplink in cases(Path(folder), args.quick).items():
            for load, background in LOADS.items():
                name = f"{case}/{load}"
                latencies[name] = run_case(scenario(uplink, background, duration, args.objective), seeds,
                                           args.planned)
                rows += report(name, latencies[name])
    for policy in ("distribution", "distribution+fallback", "dynamic", "mpc", "linucb"):
        targets(rows, latencies, policy)
    print(f"\n{len(latencies)} cases x {len(seeds)} seeds in {time.perf_counter() - started:.0f} s")
    if args.figure is not None:
        draw(rows, args.figure)


def draw(rows, path: Path) -> None:
    """Relative regret of each policy per case, grouped bars."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    cases_ = sorted({case for case, *_ in rows})
    policies = [p for p in POLICIES if any(row[1] == p for row in rows)]
    fig, ax = plt.subplots(figsize=(8, 4.2))
    width = 0.8 / len(policies)
    for k, policy in enumerate(policies):
        values = [next((100 * r[2] for r in rows if r[0] == case and r[1] == policy), np.nan) for case in cases_]
        ax.bar(np.arange(len(cases_)) + k * width, values, width, label=policy)
    ax.set_xticks(np.arange(len(cases_)) + 0.4 - width / 2, cases_, rotation=30, ha="right", fontsize=7)
    ax.set_ylabel(f"mean-{'energy' if UNIT['energy'] else 'latency'} regret vs bound (%)")
    ax.set_yscale("symlog", linthresh=10)
    ax.legend(fontsize=7, ncol=5, frameon=False, loc="lower center", bbox_to_anchor=(0.5, 1.0))  # above, off the bars
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
