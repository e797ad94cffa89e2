"""The Gymnasium environment: one device's decisions as actions, checked against the same run with a fixed
strategy (rewards are minus the latencies the run's own table gives), and a random policy's episode."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml
from conftest import REPO

pytest.importorskip("gymnasium", reason="the gym extra (gymnasium, greenlet) runs the environment")
pytest.importorskip("greenlet", reason="the gym extra (gymnasium, greenlet) runs the environment")

from simsplit import simulate  # noqa: E402  (after the extra's check)
from simsplit.gym import SplitEnv  # noqa: E402
from simsplit.gym.env import FEATURES  # noqa: E402
from simsplit.scenario import validate_scenario  # noqa: E402


def one_camera(duration_s: float = 30.0, strategy: dict | None = None):
    """trace-driven-lte with one camera and no probes."""
    data = yaml.safe_load((REPO / "scenarios" / "trace-driven-lte.yaml").read_text())
    data["devices"][0]["count"] = 1
    data["devices"][0].pop("probe")
    data["duration_s"] = duration_s
    if strategy is not None:
        data["strategy"] = strategy
    return validate_scenario(data, source="trace-driven-lte.yaml", base_dir=REPO / "scenarios")


def test_a_fixed_agent_earns_minus_the_latencies_of_the_same_run_with_the_fixed_strategy():
    env = SplitEnv(one_camera(), device=0)
    action = next(k for k, d in enumerate(env.decisions) if d.split == 1)
    observation, _ = env.reset(seed=4)
    rewards, steps, done = [], 1, False
    while not done:
        observation, reward, done, truncated, info = env.step(action)
        assert observation.shape == (len(FEATURES),) and not truncated
        rewards.append(reward)
        steps += not done
    fixed = simulate(one_camera(strategy={"kind": "fixed", "split": 1, "bottleneck": "bottlenet"}), seed=4)
    table = fixed.requests
    done_rows = table[table["status"] == "completed"]
    assert steps == len(table)  # one decision a request
    assert math.fsum(rewards) == pytest.approx(-math.fsum(done_rows["latency_s"]), rel=1e-12)
    with pytest.raises(RuntimeError):
        env.step(action)


def test_a_random_policy_runs_an_episode_and_bad_actions_are_refused():
    env = SplitEnv(one_camera(20.0), device=0)
    rng = np.random.default_rng(1)
    observation, _ = env.reset(seed=2)
    assert env.observation_space.contains(observation)
    for bad in (-1, env.action_space.n, 1.5, "1", True):
        with pytest.raises(ValueError):
            env.step(bad)
    done, total = False, 0.0
    while not done:
        observation, reward, done, _, info = env.step(int(rng.integers(env.action_space.n)))
        assert reward <= 0.0 and 0.0 <= info["now_s"] <= 20.0
        total += reward
    assert total < 0.0


def test_the_environment_refuses_what_it_cannot_run():
    with pytest.raises(ValueError, match="device"):
        SplitEnv(one_camera(), device=1)
    with pytest.raises(ValueError, match="objective"):
        SplitEnv(one_camera(), objective="energy")
