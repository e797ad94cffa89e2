"""Steps per second of the Gymnasium environment (``simsplit.gym.SplitEnv``) under a random policy.

Two cases: one camera alone on trace-driven-lte's uplink (no probes; the agent's device is all there is to
simulate), and the scenario as shipped (six cameras with probes every 0.25 s: every other device's events run
between two of the agent's steps). Target: >= 10,000 steps/s for the first.

    python benchmarks/gym_steps.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from simsplit.gym import SplitEnv  # noqa: E402  (after the checkout is on the path)
from simsplit.scenario import validate_scenario  # noqa: E402

TARGET_STEPS_PER_S = 10_000


def scenario(alone: bool):
    data = yaml.safe_load((REPO / "scenarios" / "trace-driven-lte.yaml").read_text())
    if alone:
        data["devices"][0]["count"] = 1
        data["devices"][0].pop("probe")
        data["duration_s"] = 3000
    return validate_scenario(data, source="trace-driven-lte.yaml", base_dir=REPO / "scenarios")


def steps_per_s(env: SplitEnv, seed: int) -> tuple[int, float]:
    """(steps, steps per second) of one episode under uniformly random actions."""
    env.reset(seed=seed)
    actions = np.random.default_rng(seed).integers(env.action_space.n, size=1_000_000).tolist()
    steps, done, started = 0, False, time.perf_counter()
    while not done:
        _, _, done, _, _ = env.step(actions[steps])
        steps += 1
    return steps, steps / (time.perf_counter() - started)


def main() -> None:
    for name, alone in (("one camera, no probes", True), ("six cameras, probes (as shipped)", False)):
        env = SplitEnv(scenario(alone), device=0)
        rates = [steps_per_s(env, seed) for seed in (1, 2, 3)]
        best = max(rate for _, rate in rates)
        line = f"{name:34s} {rates[0][0]:6d} steps an episode, best of 3: {best:9,.0f} steps/s"
        if alone:
            line += "  (target >= 10,000: " + ("met" if best >= TARGET_STEPS_PER_S else
                                                f"short by {TARGET_STEPS_PER_S - best:,.0f}") + ")"
        print(line)


if __name__ == "__main__":
    main()
