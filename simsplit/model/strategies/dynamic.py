"""Adaptive strategies: dynamic partitioning, Neurosurgeon, and the oracle (Edgent: :mod:`.edgent`).

All but the oracle decide from the device's :class:`Observation` only; the
oracle is handed the simulator's true state (``bind``) and is the bound the
others are measured against.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Annotated, Literal, cast

import numpy as np
from pydantic import Field, NonNegativeFloat, PositiveFloat

from simsplit.core.registry import KindBlock
from simsplit.core.units import MBPS
from simsplit.model.energy import transfer_j
from simsplit.model.strategies.base import Decision, Observation, probed_wait_s, register_strategy
from simsplit.model.strategies.context import (
    AdaptiveConfig,
    StrategyContext,
    adaptive_decisions,
    adaptive_defaults,
    objective_name,
)
from simsplit.model.strategies.estimators import EwmaConfig, Feed, build_estimator, estimators
from simsplit.model.strategies.predict import (
    DeviceModel,
    Option,
    OptionArrays,
    predict,
    score,
)

Objective = Literal["latency", "energy", "weighted", "accuracy"]

ARRAY_OPTIONS = 32
"""From this many options on, the dynamic strategy prices them as arrays (fewer cost less one by one)."""


class DynamicConfig(AdaptiveConfig):
    """Re-decide split, bottleneck and server from the device's own estimates (see docs/strategies.md)."""

    kind: Literal["dynamic"]
    objective: Objective = "latency"
    energy_weight_s_per_j: NonNegativeFloat = 0.0
    estimator: Annotated[KindBlock, estimators.by_kind] = EwmaConfig(kind="ewma")
    server_wait: Literal["probe", "none"] = "probe"
    hysteresis: float = Field(default=0.1, ge=0, lt=1)
    min_dwell_s: NonNegativeFloat = 0.0
    decision_period_s: PositiveFloat | None = None
    forget_on_handover: bool = False


class NeurosurgeonConfig(AdaptiveConfig):
    """Neurosurgeon's rule at the last observed bandwidth; load_factor K fixed, or from the probe if unset."""

    kind: Literal["neurosurgeon"]
    objective: Literal["latency", "energy"] = "latency"
    load_factor: float | None = Field(default=None, ge=1)


class OracleConfig(AdaptiveConfig):
    """The bound: each request's option chosen with the true channel and queue state (``knows: present``: the
    channel's capacity now, not its future)."""

    kind: Literal["oracle"]
    objective: Objective = "latency"
    energy_weight_s_per_j: NonNegativeFloat = 0.0
    knows: Literal["future", "present"] = "future"
    """``future``: every transfer priced on the true channel to come; ``present``: at the capacity each link
    delivered over the last ``present_window_s``, held (a perfect measurement of now, no forecast)."""
    present_window_s: PositiveFloat = Field(default=0.1, allow_inf_nan=False)


class _Adaptive:
    """What every adaptive strategy holds: its options, the device's model of itself, its configuration."""

    needs_truth = False

    def __init__(self, options: list[Option], device: DeviceModel, config, deadline_s: float | None, label: str):
        self.options = options
        self.device = device
        self.config = config
        self.deadline_s = deadline_s
        self.label = label


class DynamicStrategy(_Adaptive):
    """Predict every option's latency and energy from the estimates; choose by the objective under the
    deadline; switch only for a relative gain above ``hysteresis`` and after ``min_dwell_s``."""

    def __init__(self, options: list[Option], device: DeviceModel, config, deadline_s: float | None, label: str):
        super().__init__(options, device, config, deadline_s, label)
        self._up = Feed(build_estimator(config.estimator))
        self._down = Feed(build_estimator(config.estimator))
        self._prior_up_bps = config.initial_uplink_mbps * MBPS
        self._prior_down_bps = config.initial_downlink_mbps * MBPS
        self._current: int | None = None
        """Index in ``options`` of the option in use."""
        self._switched_at_s = -math.inf
        self._decided_at_s = -math.inf
        self._handovers = 0
        """The device's handovers when it last decided."""
        self._arrays = OptionArrays(options, device) if not device.has_rrc and len(options) >= ARRAY_OPTIONS else None
        """The options priced all at once (a radio with an RRC state machine, or a few options, one by one)."""
        self._accuracy = np.array([o.accuracy for o in options], dtype=float)

    def _estimates(self, observation: Observation) -> tuple[float, float]:
        if observation.handovers != self._handovers:
            self._handovers = observation.handovers
            if self.config.forget_on_handover:  # a new cell: throughputs measured in the old one no longer count
                self._up.start_over(build_estimator(self.config.estimator))
                self._down.start_over(build_estimator(self.config.estimator))
        up = self._up.refresh(observation.uplink_samples_bps, observation.uploads)
        down = self._down.refresh(observation.downlink_samples_bps, observation.downloads)
        return (self._prior_up_bps if math.isnan(up) else up, self._prior_down_bps if math.isnan(down) else down)

    def _probed_wait(self, observation: Observation) -> tuple[float, int]:
        """The expected server wait (s) on the probed server (its recent wait, else 0) and that server's
        index (-1: none probed); every other server's wait is 0."""
        return probed_wait_s(observation, self.config.server_wait), observation.probe_server

    def evaluate(self, now_s: float, observation: Observation) -> list[float]:
        """Score of every option now, in the order of ``options`` (lower is better; infeasible options score
        +inf unless none is feasible, when every option scores its latency)."""
        up, down = self._estimates(observation)
        backlog = max(0.0, observation.compute_free_at_s - now_s)
        objective, weight, deadline = self.config.objective, self.config.energy_weight_s_per_j, self.deadline_s
        wait, probed = self._probed_wait(observation)
        if self._arrays is not None:
            waits = np.array([wait if option.server == probed else 0.0 for option in self.options], dtype=float)
            latency_s, energy_j = self._arrays.predict(up, down, waits, backlog)
            priced = score(objective, latency_s, energy_j, weight, self._accuracy)
            if deadline is not None:
                priced = np.where(latency_s <= deadline, priced, math.inf)
            if np.isinf(priced).all():
                return latency_s.tolist()  # nothing meets the deadline: be as fast as possible
            return priced.tolist()
        device = self.device
        scores, latencies = [], []
        for option in self.options:
            latency, energy = predict(option, device, up, down, wait if option.server == probed else 0.0, backlog)
            feasible = deadline is None or latency <= deadline
            scores.append(score(objective, latency, energy, weight, option.accuracy) if feasible else math.inf)
            latencies.append(latency)
        if all(math.isinf(v) for v in scores):
            return latencies  # nothing meets the deadline: be as fast as possible
        return scores

    def decide(self, now_s: float, observation: Observation) -> Decision:
        period = self.config.decision_period_s
        if self._current is not None and period is not None and now_s < self._decided_at_s + period:
            return self.options[self._current].decision
        self._decided_at_s = now_s
        scores = self.evaluate(now_s, observation)
        best = min(range(len(scores)), key=scores.__getitem__)  # the first of equal scores, as before
        current = self._current
        if current is None:
            self._current = current = best
        elif best != current and now_s - self._switched_at_s >= self.config.min_dwell_s:
            keep = scores[current]
            if math.isinf(keep) or scores[best] < keep * (1.0 - self.config.hysteresis):
                self._current = current = best
                self._switched_at_s = now_s
        return self.options[current].decision


class NeurosurgeonStrategy(_Adaptive):
    """Neurosurgeon (Kang et al., ASPLOS 2017): T(p) = head(p) + bytes(p) / B + K tail(p) at the current
    bandwidth B (the device's latest throughput sample, its probes' included), K a server-load factor;
    argmin latency or mobile energy.

    K is ``load_factor`` if given, else from the device's last probe: 1 + queue length / busy workers
    (jobs ahead of a new one per worker, each about one tail) — our reading of the paper's load factor.
    """

    def __init__(self, options: list[Option], device: DeviceModel, config, label: str):
        super().__init__(options, device, config, None, label)
        self._prior_bps = config.initial_uplink_mbps * MBPS

    def _load_factor(self, observation: Observation) -> float:
        if self.config.load_factor is not None:
            return self.config.load_factor
        if math.isnan(observation.probe_queue_length):
            return 1.0
        return 1.0 + observation.probe_queue_length / max(observation.probe_busy_workers, 1.0)

    def decide(self, now_s: float, observation: Observation) -> Decision:
        samples = observation.uplink_samples_bps
        bandwidth = samples[-1] if samples else self._prior_bps
        k = self._load_factor(observation)
        device = self.device

        def cost(option: Option) -> float:
            up_s = option.bits_up / bandwidth
            if self.config.objective == "energy":
                return option.compute_power_w * option.head_s + (
                    0.0 if option.local else transfer_j(device.alpha_up_w_per_bps, device.beta_w, option.bits_up, up_s))
            return option.head_s + (0.0 if option.local else up_s + k * option.service_s)

        return min(self.options, key=cost).decision


class OracleStrategy(_Adaptive):
    """Chooses each request's option with the simulator's true channel and queue state (``bind``)."""

    needs_truth = True

    def __init__(self, options: list[Option], device: DeviceModel, config, deadline_s: float | None, label: str):
        super().__init__(options, device, config, deadline_s, label)
        self._truth: Callable[[Option, float], tuple[float, float]] | None = None
        self.present_window_s = config.present_window_s if config.knows == "present" else None
        """The window (s) whose capacity an oracle that knows only the present holds (None: it knows the future)."""

    def bind(self, truth: Callable[[Option, float], tuple[float, float]]) -> None:
        """``truth(option, now_s) -> (latency s, energy J)`` computed from the true state."""
        self._truth = truth

    def decide(self, now_s: float, observation: Observation) -> Decision:
        truth = self._truth
        assert truth is not None, "bind() gives the oracle the true state before it decides"
        best, best_key = None, None
        for option in self.options:
            latency, energy = truth(option, now_s)
            value = score(self.config.objective, latency, energy, self.config.energy_weight_s_per_j, option.accuracy)
            late = self.deadline_s is not None and latency > self.deadline_s
            key = (late, latency if late else value)
            if best_key is None or key < best_key:
                best, best_key = option, key
        assert best is not None  # there is always an option (adaptive_decisions refuses none)
        return best.decision


# ---------------------------------------------------------------- registration
def _adaptive_blocks(scenario) -> tuple[dict, str]:
    return adaptive_defaults(scenario), objective_name(scenario)


def _compare_neurosurgeon(scenario, setup) -> dict[str, dict]:
    common, objective = _adaptive_blocks(scenario)
    return {"neurosurgeon": {"kind": "neurosurgeon", **common,
                             "objective": objective if objective in ("latency", "energy") else "latency"}}


def _compare_dynamic(scenario, setup) -> dict[str, dict]:
    if scenario.strategy.kind == "dynamic":
        return {"dynamic": scenario.strategy.model_dump()}
    return {"dynamic": {"kind": "dynamic", **adaptive_defaults(scenario)}}


def _compare_oracle(scenario, setup) -> dict[str, dict]:
    common, objective = _adaptive_blocks(scenario)
    oracle = {"kind": "oracle", **common, "objective": objective}
    if scenario.strategy.kind == "dynamic":
        oracle["energy_weight_s_per_j"] = scenario.strategy.energy_weight_s_per_j
    return {"oracle": oracle, "oracle(present)": {**oracle, "knows": "present"}}


def _objective_label(context: StrategyContext) -> str:
    config = cast(NeurosurgeonConfig | DynamicConfig | OracleConfig, context.config)
    present = ", present" if getattr(config, "knows", "future") == "present" else ""
    return f"{config.kind}({config.objective}{present})"


register_strategy("neurosurgeon", NeurosurgeonConfig,
                  lambda c: NeurosurgeonStrategy(c.options, c.device, c.config, c.label),
                  decisions=lambda c: adaptive_decisions(c, first_server_only=True), label=_objective_label,
                  compared=_compare_neurosurgeon)
register_strategy("dynamic", DynamicConfig,
                  lambda c: DynamicStrategy(c.options, c.device, c.config, c.deadline_s, c.label),
                  label=_objective_label, compared=_compare_dynamic)
register_strategy("oracle", OracleConfig,
                  lambda c: OracleStrategy(c.options, c.device, c.config, c.deadline_s, c.label),
                  label=_objective_label, compared=_compare_oracle)
