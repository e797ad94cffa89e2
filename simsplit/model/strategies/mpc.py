"""The ``mpc`` strategy: robust model-predictive control of the split, after RobustMPC's bitrate control (Yin et
al., "A Control-Theoretic Approach for Dynamic Adaptive Video Streaming over HTTP", SIGCOMM 2015).

The uplink throughput is forecast as the harmonic mean of the last ``samples`` throughput samples (its uploads' and
probes') divided by 1 + the largest relative error of the last ``samples`` forecasts (each harmonic mean against
the sample that came next: |forecast - sample| / sample, 0 for the first sample), as RobustMPC discounts its
forecast by its recent error (``robust: false``: the harmonic mean alone, the paper's plain MPC). Over the next
``horizon`` requests, spaced by the device's own mean inter-arrival time (1 / rate for periodic and Poisson
arrivals; for a closed loop each comes ``think_s`` after the previous one's predicted latency), it chooses the
sequence of options with the least summed predicted latency given the device's queues: its processor (busy until
``compute_free_at_s``, each head after the previous) and its uplink (a FIFO holding its unacknowledged bits,
``uplink_unacked_bits``, draining at the forecast rate, each upload after the previous). The first option of the
best sequence is applied; the next request plans anew. A request's latency is the prediction of
:func:`~simsplit.model.strategies.predict.predict` at the forecast (its processor backlog, head, upload, the probed
server's recent wait, tail, download, propagation) plus its upload's wait behind the uplink queue. Each step
searches only the ``candidates`` options fastest for the request now: candidates^horizon sequences in all.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Literal, cast

from pydantic import Field

from simsplit.core.units import MBPS
from simsplit.model.strategies.base import SAMPLES_KEPT, Decision, Observation, probed_wait_s, register_strategy
from simsplit.model.strategies.context import AdaptiveConfig, StrategyContext, adaptive_defaults
from simsplit.model.strategies.estimators import Feed, HarmonicMean
from simsplit.model.strategies.predict import DeviceModel, Option, predict


class MpcConfig(AdaptiveConfig):
    """RobustMPC: the best sequence of options over the next ``horizon`` requests at a forecast discounted by its
    recent error, given the device's processor and uplink queues; the first is applied (docs/strategies.md)."""

    kind: Literal["mpc"]
    horizon: int = Field(default=3, ge=1, le=6)
    """Requests planned ahead, this one included."""
    samples: int = Field(default=5, ge=1, le=SAMPLES_KEPT)
    """Throughput samples in the harmonic mean, and forecast errors in the discount."""
    candidates: int = Field(default=4, ge=1, le=16)
    """Options searched at each step: those with the least predicted latency for the request now."""
    robust: bool = True
    """Discount the harmonic mean by its recent error (RobustMPC); false: the plain harmonic mean (the paper's MPC)."""
    server_wait: Literal["probe", "none"] = "probe"


def harmonic_mean(values) -> float:
    """n / sum(1 / v) of positive ``values`` (bits/s)."""
    return len(values) / math.fsum(1.0 / v for v in values)


class RobustForecast:
    """RobustMPC's throughput forecast (bits/s): the harmonic mean of the last ``n`` samples over 1 + the largest
    relative error of the last ``n`` harmonic-mean forecasts (without ``robust``, the harmonic mean alone); NaN
    before the first sample."""

    def __init__(self, n: int, robust: bool = True):
        self.robust = robust
        self.samples: deque[float] = deque(maxlen=n)
        self.errors: deque[float] = deque(maxlen=n)
        """|forecast - sample| / sample of each sample against the harmonic mean before it (0 for the first)."""

    def update(self, sample_bps: float) -> None:
        if not sample_bps > 0:
            return
        error = abs(harmonic_mean(self.samples) - sample_bps) / sample_bps if self.samples else 0.0
        self.errors.append(error)
        self.samples.append(sample_bps)

    def estimate(self) -> float:
        if not self.samples:
            return math.nan
        return harmonic_mean(self.samples) / (1.0 + max(self.errors) if self.robust else 1.0)


class MpcStrategy:
    """Plan the next ``horizon`` requests' options at the robust forecast; apply the first."""

    reads_uplink = True

    def __init__(self, options: list[Option], device: DeviceModel, config: MpcConfig, label: str):
        self.options = options
        self.device = device
        self.config = config
        self.label = label
        self._up = Feed(RobustForecast(config.samples, config.robust))
        self._down = Feed(HarmonicMean(config.samples))
        self._prior_up_bps = config.initial_uplink_mbps * MBPS
        self._prior_down_bps = config.initial_downlink_mbps * MBPS
        workload = device.workload
        self._closed_loop = workload.kind == "closed_loop"
        self._think_s = workload.think_s
        self._spacing_s = 1.0 / workload.rate_hz if workload.rate_hz > 0 else math.inf
        """Mean time (s) between its requests (open loop); inf: unknown, plan this request alone."""
        self._steps = config.horizon if self._closed_loop or math.isfinite(self._spacing_s) else 1
        # per decision: the estimates every step uses
        self._up_bps = self._down_bps = self._wait_s = 0.0
        self._probed = -1

    def forecast_bps(self, observation: Observation) -> float:
        """The robust uplink forecast (bits/s) after taking the new samples (the prior before any)."""
        up = self._up.refresh(observation.uplink_samples_bps, observation.uploads)
        return self._prior_up_bps if math.isnan(up) else up

    def step(self, option: Option, arrival_s: float, compute_free_s: float, uplink_free_s: float
             ) -> tuple[float, float, float]:
        """(latency s, processor free at s, uplink free at s) of a request arriving at ``arrival_s`` that takes
        ``option`` with the processor busy until ``compute_free_s`` and the uplink until ``uplink_free_s``."""
        backlog = max(compute_free_s - arrival_s, 0.0)
        ready = arrival_s + backlog + option.head_s
        wait = self._wait_s if option.server == self._probed else 0.0
        latency = predict(option, self.device, self._up_bps, self._down_bps, wait, backlog)[0]
        if option.local:
            return latency, ready, uplink_free_s
        queued = max(uplink_free_s - ready, 0.0)
        return latency + queued, ready, max(ready, uplink_free_s) + option.bits_up / self._up_bps

    def _next_arrival(self, arrival_s: float, latency_s: float) -> float:
        return arrival_s + latency_s + self._think_s if self._closed_loop else arrival_s + self._spacing_s

    def _least(self, steps: int, arrival_s: float, compute_free_s: float, uplink_free_s: float,
               candidates: list[Option]) -> float:
        """The least summed latency (s) of the next ``steps`` requests, the first arriving at ``arrival_s``."""
        best = math.inf
        for option in candidates:
            latency, compute, uplink = self.step(option, arrival_s, compute_free_s, uplink_free_s)
            if steps > 1:
                latency += self._least(steps - 1, self._next_arrival(arrival_s, latency), compute, uplink,
                                       candidates)
            best = min(best, latency)
        return best

    def plan(self, now_s: float, observation: Observation) -> list[tuple[float, Option]]:
        """(summed predicted latency s over the horizon, first option) of each candidate, in the order searched
        (fastest for this request first)."""
        self._up_bps = self.forecast_bps(observation)
        down = self._down.refresh(observation.downlink_samples_bps, observation.downloads)
        self._down_bps = self._prior_down_bps if math.isnan(down) else down
        self._wait_s = probed_wait_s(observation, self.config.server_wait)
        self._probed = observation.probe_server
        compute = max(observation.compute_free_at_s, now_s)
        uplink = now_s + observation.uplink_unacked_bits / self._up_bps
        first = sorted(((self.step(o, now_s, compute, uplink), k, o) for k, o in enumerate(self.options)),
                       key=lambda entry: (entry[0][0], entry[1]))
        candidates = [option for _, _, option in first[:self.config.candidates]]
        planned = []
        for (latency, free_compute, free_uplink), _, option in first[:self.config.candidates]:
            if self._steps > 1:
                latency += self._least(self._steps - 1, self._next_arrival(now_s, latency), free_compute,
                                       free_uplink, candidates)
            planned.append((latency, option))
        return planned

    def decide(self, now_s: float, observation: Observation) -> Decision:
        planned = self.plan(now_s, observation)
        return min(planned, key=lambda entry: entry[0])[1].decision  # the first of equal sums: the fastest now


# ---------------------------------------------------------------- registration
def _build(context: StrategyContext) -> MpcStrategy:
    assert context.device is not None  # setup gives every adaptive strategy's context its device model
    return MpcStrategy(context.options, context.device, cast(MpcConfig, context.config), context.label)


def _compare(scenario, setup) -> dict[str, dict]:
    if scenario.strategy.kind == "mpc":
        return {"mpc": scenario.strategy.model_dump()}
    return {"mpc": {"kind": "mpc", **adaptive_defaults(scenario)}}


register_strategy("mpc", MpcConfig, _build, label=lambda context: "mpc", compared=_compare)
