"""The ``linucb`` strategy: the split as a contextual bandit, after ANS's µLinUCB (Zhang, Chen and Xu,
"Autodidactic Neurosurgeon: Collaborative Deep Inference for Mobile Edge Intelligence via Online Learning",
WWW 2021; code: github.com/letian-zhang/ANS).

Each option is an arm. As in ANS, a request's latency is the part the device knows (its processor backlog and
the option's head) plus an offloading delay learnt by one linear model shared by every offloading arm: delay ≈
theta · x, where the arm's context x (s) is

    (1, bits_up / B, service_s, w, U / B)

with B the device's uplink throughput estimate (``estimator``), ``service_s`` the option's tail on its server,
w the probed server's recent wait (0 for another server, or with ``server_wait: none``) and U the bits its
uplink has not yet had acknowledged. theta is the ridge regression of the offloading delays returned so far on
their contexts: A = ``ridge_s2`` I + sum x x^T, b = sum x d, theta = A^-1 b, each returned request's d its
latency less its known part, matched to the context it was decided in (the oldest pending request with that
decision). An arm is valued at its lower confidence bound, known + theta · x - ``alpha_s`` sqrt(x^T A^-1 x)
(ANS minimises latency, so optimism is the lower bound); the local arm at its known latency, and it teaches
nothing. The least value wins (the first of equal values).

Forced sampling as ANS does it: every ``forced_every``-th request (by default ANS's period ceil(T^0.25), T = 200
doubled until it reaches the request count) offloads, the local arm left out, so the model keeps learning while
running locally looks best. Before the bound decides, each offloading arm may be played ``initial_samples``
times in turn (default none: the shared model needs no arm tried to value it, and trying every split of a deep
network costs their heads; ANS starts from a random diagonal A instead). ANS's key-frame weighting of the
exploration does not apply here (every request counts the same). The objective is latency only: a request's
energy is predictable from its option and B alone (what ``dynamic`` prices), so there is nothing for a bandit to
learn about it.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Annotated, Literal, cast

import numpy as np
from pydantic import Field, PositiveFloat

from simsplit.core.registry import KindBlock
from simsplit.core.units import MBPS
from simsplit.model.strategies.base import (
    SAMPLES_KEPT,
    Decision,
    Observation,
    added_since,
    probed_wait_s,
    register_strategy,
)
from simsplit.model.strategies.context import AdaptiveConfig, StrategyContext, adaptive_defaults
from simsplit.model.strategies.estimators import EwmaConfig, Feed, build_estimator, estimators
from simsplit.model.strategies.predict import Option

FEATURES = 5
"""Entries of an arm's context: 1, upload time, tail, server wait, uplink backlog time."""

ANS_FIRST_HORIZON = 200
"""T of ANS's forced-sampling period ceil(T^0.25) at the start (doubled whenever the requests exceed it)."""


class LinUcbConfig(AdaptiveConfig):
    """ANS's µLinUCB: a linear model of the offloading delay shared by the options, valued at its lower
    confidence bound, with forced offloading (docs/strategies.md)."""

    kind: Literal["linucb"]
    alpha_s: float = Field(default=0.01, ge=0, le=10)
    """Exploration (s per unit of sqrt(x^T A^-1 x)): about the latency's noise."""
    ridge_s2: PositiveFloat = Field(default=1e-3, le=1e6)
    """lambda of A = lambda I + sum x x^T (s^2): the contexts' weight before any return."""
    initial_samples: int = Field(default=0, ge=0, le=100)
    """Plays of each offloading option, in turn, before the bound decides."""
    forced_every: int | None = Field(default=None, ge=1)
    """Offload every this many requests, the local option left out (default: ANS's growing period)."""
    estimator: Annotated[KindBlock, estimators.by_kind] = EwmaConfig(kind="ewma")
    server_wait: Literal["probe", "none"] = "probe"


def ans_forced_period(request: int) -> int:
    """ANS's forced-sampling period for the ``request``-th request (from 1): ceil(T^0.25), T = 200 doubled until
    it is at least ``request``."""
    horizon = ANS_FIRST_HORIZON
    while request > horizon:
        horizon *= 2
    return math.ceil(horizon ** 0.25)


class LinUcbStrategy:
    """Each option an arm; a shared ridge regression of the offloading delay on the arm's context; the least
    lower confidence bound wins, with forced offloading."""

    reads_uplink = True

    def __init__(self, options: list[Option], config: LinUcbConfig, label: str):
        self.options = options
        self.config = config
        self.label = label
        self.A = config.ridge_s2 * np.eye(FEATURES)
        self.b = np.zeros(FEATURES)
        self.theta = np.zeros(FEATURES)
        self._a_inv = np.linalg.inv(self.A)
        self.requests = 0
        """Requests decided so far."""
        self.learnt = 0
        """Returned requests the model has learnt from."""
        self._plays = [0] * len(options)
        self._offload = [k for k, option in enumerate(options) if not option.local]
        self._pending: dict[Decision, deque] = {option.decision: deque(maxlen=SAMPLES_KEPT) for option in options}
        """Per decision, (context, known latency s) of its requests not yet returned, oldest first."""
        self._uplink = Feed(build_estimator(config.estimator))
        self._prior_up_bps = config.initial_uplink_mbps * MBPS
        self._seen = 0

    def context(self, option: Option, uplink_bps: float, wait_s: float, unacked_bits: float) -> np.ndarray:
        """The arm's context (s): 1, upload time, tail, server wait, uplink backlog time."""
        return np.array([1.0, option.bits_up / uplink_bps, option.service_s, wait_s, unacked_bits / uplink_bps])

    def learn(self, observation: Observation) -> None:
        """Add the requests returned since the last call to the regression (each with its decision's context)."""
        results = observation.results
        new = added_since(results, observation.completed, self._seen)
        self._seen = observation.completed
        for k in new:
            decision, latency = results[k]
            pending = self._pending.get(decision)
            if not pending:  # a local decision (known exactly), or one decided before a result went missing
                continue
            x, known = pending.popleft()
            self.A += np.outer(x, x)
            self.b += x * (latency - known)
            self.learnt += 1
        if new:
            self._a_inv = np.linalg.inv(self.A)
            self.theta = self._a_inv @ self.b

    def bound(self, x: np.ndarray) -> float:
        """The lower confidence bound of the offloading delay (s) in context ``x``."""
        return float(self.theta @ x) - self.config.alpha_s * math.sqrt(max(float(x @ self._a_inv @ x), 0.0))

    def _forced(self) -> bool:
        every = self.config.forced_every or ans_forced_period(self.requests)
        return self.requests % every == 0

    def _contexts(self, observation: Observation) -> list[np.ndarray]:
        """Every option's context now, in the order of ``options``."""
        estimate = self._uplink.refresh(observation.uplink_samples_bps, observation.uploads)
        uplink = self._prior_up_bps if math.isnan(estimate) else estimate
        wait = probed_wait_s(observation, self.config.server_wait)
        return [self.context(o, uplink, wait if o.server == observation.probe_server else 0.0,
                             observation.uplink_unacked_bits) for o in self.options]

    def _choose(self, backlog_s: float, contexts: list[np.ndarray]) -> int:
        """Index of the arm to play: the next untried offloading arm, else the least bound (offloading arms
        only on a forced request)."""
        untried = [k for k in self._offload if self._plays[k] < self.config.initial_samples]
        if untried:
            return untried[0]
        arms = self._offload if self._offload and self._forced() else range(len(self.options))
        values = {k: backlog_s + self.options[k].head_s + (0.0 if self.options[k].local else self.bound(contexts[k]))
                  for k in arms}
        return min(values, key=values.__getitem__)  # the first of equal values

    def decide(self, now_s: float, observation: Observation) -> Decision:
        self.learn(observation)
        self.requests += 1
        backlog = max(observation.compute_free_at_s - now_s, 0.0)
        contexts = self._contexts(observation)
        chosen = self._choose(backlog, contexts)
        option = self.options[chosen]
        self._plays[chosen] += 1
        if not option.local:
            self._pending[option.decision].append((contexts[chosen], backlog + option.head_s))
        return option.decision


# ---------------------------------------------------------------- registration
def _compare(scenario, setup) -> dict[str, dict]:
    if scenario.strategy.kind == "linucb":
        return {"linucb": scenario.strategy.model_dump()}
    return {"linucb": {"kind": "linucb", **adaptive_defaults(scenario)}}


def _build(context: StrategyContext) -> LinUcbStrategy:
    return LinUcbStrategy(context.options, cast(LinUcbConfig, context.config), context.label)


register_strategy("linucb", LinUcbConfig, _build, label=lambda context: "linucb", compared=_compare)
