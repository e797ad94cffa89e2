"""One device's split decisions as a Gymnasium environment.

The scenario runs on the discrete-event engine as usual: every other device decides with its own strategy, the
channels, the server and its other tenants are simulated as always. The chosen device (``device``, an index in
the run's device order) hands each of its decisions to the agent instead: an action is an index into
:attr:`SplitEnv.decisions` (the device's options: its group's (split, bottleneck, server)), an observation is
what the device knows when a request arrives (:data:`FEATURES`, from its
:class:`~simsplit.model.strategies.base.Observation`), and the reward of a step is minus the latency (s) of the
device's requests that returned since the previous step (``objective="latency"``), or minus their count of
missed deadlines (``"deadline"``). An episode is one run of the scenario with the seed given to ``reset``; it
ends when the run does.

The engine runs in a greenlet: the device's strategy switches to the agent with its observation at each
decision and back with the agent's action, so a step costs the events of the simulated time between two of
the device's arrivals and nothing more.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
from greenlet import greenlet

from simsplit.engine.des import Engine
from simsplit.engine.setup import build_setup
from simsplit.engine.uplink_ledger import UplinkLedger
from simsplit.model.strategies.base import Decision, Observation
from simsplit.scenario import Scenario, load_scenario

FEATURES = ("compute_backlog_s", "uplink_mbps", "downlink_mbps", "unacked_kbit", "oldest_unacked_age_s",
            "since_uplink_sample_s", "last_latency_s", "probe_wait_s", "probe_queue_length")
"""The observation vector's entries, in order; -1 where the device has no reading yet."""


class _Agent:
    """The chosen device's strategy: each decision goes to the agent and back."""

    reads_uplink = True

    def __init__(self) -> None:
        self.outside: greenlet | None = None

    def decide(self, now_s: float, observation: Observation) -> Decision:
        assert self.outside is not None
        return self.outside.switch((now_s, observation))


class SplitEnv(gym.Env):
    """The decisions of device ``device`` of ``scenario`` (a file, or a :class:`~simsplit.scenario.Scenario`)."""

    metadata = {"render_modes": []}

    def __init__(self, scenario: str | Scenario, device: int = 0, objective: str = "latency"):
        self.scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        if objective not in ("latency", "deadline"):
            raise ValueError(f"objective: expected 'latency' or 'deadline', got {objective!r}")
        if objective == "deadline" and self.scenario.deadline_s is None:
            raise ValueError("objective: 'deadline' needs the scenario's deadline_s")
        self.objective = objective
        self.setup = build_setup(self.scenario)
        counts = [group.group.count for group in self.setup.groups]
        if not 0 <= device < sum(counts):
            raise ValueError(f"device: expected an index below {sum(counts)} (the scenario's devices), got {device}")
        self.device = device
        group = self.setup.groups[int(np.searchsorted(np.cumsum(counts), device, side="right"))]
        self.decisions: list[Decision] = sorted(group.plans, key=lambda d: group.plans[d].index)
        self.action_space = gym.spaces.Discrete(len(self.decisions))
        self.observation_space = gym.spaces.Box(-1.0, np.inf, shape=(len(FEATURES),), dtype=np.float64)
        self._run: greenlet | None = None
        self._counted = 0

    # ------------------------------------------------------------ the episode
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        engine = Engine(self.setup, self.scenario.seed if seed is None else seed)
        agent = _Agent()
        device = engine.devices[self.device]
        device.strategy, device.fixed_plan = agent, None
        device.uplink_ledger = UplinkLedger(device.uplink.channel, dedicated=not device.uplink.shared)
        engine._keeps_history[self.device] = True
        self._engine, self._counted = engine, 0
        self._run = greenlet(lambda: (engine.run(), None)[1])
        agent.outside = greenlet.getcurrent()
        return self._advance(None)[0], {}

    def step(self, action):
        if self._run is None or self._run.dead:
            raise RuntimeError("step: the episode is over; call reset()")
        try:
            decision = self.decisions[action] if action >= 0 else None
        except (TypeError, IndexError):
            decision = None
        if decision is None or isinstance(action, bool | float):
            raise ValueError(f"action: expected an integer in [0, {len(self.decisions)}), got {action!r}")
        observation, now = self._advance(decision)
        done = self._run.dead
        return observation, self._reward(), done, False, {"now_s": now}

    def _advance(self, decision: Decision | None) -> tuple[np.ndarray, float]:
        """Run the engine until the device's next decision (or the end): its observation vector and the time."""
        assert self._run is not None
        reached = self._run.switch(decision) if decision is not None else self._run.switch()
        if reached is None:  # the run is over
            return np.full(len(FEATURES), -1.0), self.scenario.duration_s
        now_s, observation = reached
        return features(now_s, observation), now_s

    def _reward(self) -> float:
        """Minus what the device's requests that returned since the last step cost."""
        observation = self._engine.devices[self.device].observation
        new = min(observation.completed - self._counted, len(observation.results))
        self._counted = observation.completed
        results = observation.results
        latencies = [results[k][1] for k in range(len(results) - new, len(results))]
        if self.objective == "deadline":
            deadline = self.scenario.deadline_s
            return -float(sum(latency > deadline for latency in latencies))
        return -math.fsum(latencies)


def features(now_s: float, observation: Observation) -> np.ndarray:
    """The observation vector (:data:`FEATURES`) of what the device knows at ``now_s``."""
    ups, downs = observation.uplink_samples_bps, observation.downlink_samples_bps

    def known(value: float) -> float:
        return -1.0 if math.isnan(value) else value

    return np.array([
        max(0.0, observation.compute_free_at_s - now_s),
        ups[-1] / 1e6 if ups else -1.0,
        downs[-1] / 1e6 if downs else -1.0,
        observation.uplink_unacked_bits / 1e3,
        known(now_s - observation.uplink_oldest_ready_s),
        known(now_s - observation.last_uplink_sample_at_s),
        known(observation.last_latency_s),
        known(observation.probe_recent_wait_s),
        known(observation.probe_queue_length),
    ], dtype=np.float64)
