"""The ``distribution`` strategy: each option's latency as a distribution, from recent uplink throughputs and the
device's own uplink backlog, as Fugu predicts a video chunk's transfer time as a distribution for its size
(Yan et al., NSDI 2020) rather than a point throughput.

The throughput samples (the newest ``samples``, each counting for ``memory_s``) are the device's finished
uploads and probes and, while its uplink had data to send all along since its last decision, the rate its
transport saw meanwhile: the bits acknowledged between the two decisions over the time between them (all
along: fewer bits were acknowledged than were waiting at the first, so the link never ran dry and the rate is
its capacity, not the demand). That transport sample tells an outage at once, where a finished upload's sample
arrives only after the upload waited the outage out. Under each sample ``r`` an option's latency is the
prediction at ``r`` (:func:`~simsplit.model.strategies.predict.predict`) plus the wait for the device's
unacknowledged bits to drain at ``r`` ahead of it; under a sample of a silent link, the silence lasts as long
again as it has lasted, then the link carries the samples' median. The strategy chooses the lowest expected
latency, energy or weighted sum, or the highest chance of meeting the deadline (``deadline``, ties by expected
latency). With ``fallback_stall_s`` the engine gives up an upload that has made no progress for that long and
finishes the request on the device (:mod:`simsplit.engine.fallback`); a silent sample then costs no more than
that.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Literal

import numpy as np
from pydantic import Field, NonNegativeFloat, PositiveFloat

from simsplit.core.units import MBPS
from simsplit.model.strategies.base import (
    SAMPLES_KEPT,
    Decision,
    Observation,
    added_since,
    probed_wait_s,
    register_strategy,
)
from simsplit.model.strategies.context import AdaptiveConfig, StrategyContext, adaptive_defaults, objective_name
from simsplit.model.strategies.predict import DeviceModel, Option, predict


class DistributionConfig(AdaptiveConfig):
    """Choose from each option's latency distribution under recent uplink throughputs and the device's own
    uplink backlog (Fugu's transfer-time distribution; see docs/strategies.md)."""

    kind: Literal["distribution"]
    objective: Literal["latency", "energy", "weighted", "deadline"] = "latency"
    energy_weight_s_per_j: NonNegativeFloat = 0.0
    samples: int = Field(default=SAMPLES_KEPT, ge=1, le=SAMPLES_KEPT)
    """Throughput samples the distribution is made of (the newest)."""
    half_life_s: PositiveFloat | None = Field(default=None, allow_inf_nan=False)
    """A sample's weight halves with every this much age (s); None: the samples count equally (measured on
    fading LTE-like traces: equal weights over half a minute keep the risk of a fade in view; a short
    half-life chases the last state and sends large payloads into the next fade)."""
    memory_s: PositiveFloat = Field(default=30.0, allow_inf_nan=False)
    """How long a sample counts (s): with none younger, the prior (``initial_uplink_mbps``) stands again, so a
    device that stopped offloading in an outage tries again."""
    server_wait: Literal["probe", "none"] = "probe"
    fallback_stall_s: PositiveFloat | None = Field(default=None, allow_inf_nan=False)
    """Give up an upload that has made no progress for this long and finish the request on the device (s)."""


class DistributionStrategy:
    """Latency as a distribution over recent throughput samples; the option with the best expected objective
    (or the best chance of meeting the deadline)."""

    reads_uplink = True

    def __init__(self, options: list[Option], device: DeviceModel, config: DistributionConfig,
                 deadline_s: float | None, label: str):
        self.options = options
        self.device = device
        self.config = config
        self.deadline_s = deadline_s
        self.label = label
        self.fallback_stall_s = config.fallback_stall_s
        self._rates: deque[tuple[float, float]] = deque(maxlen=config.samples)
        """(taken at s, uplink throughput bits/s), newest last: finished transfers' and the transport's own."""
        self._seen_uploads = 0
        self._last: tuple[float, float, float] | None = None
        """(instant s, acknowledged bits, unacknowledged bits) at the last decision."""
        self._silent_since_s = math.nan
        """Since when the uplink has had data to send and delivered nothing (NaN: it has not been silent, or has
        had nothing to send since)."""
        self._prior_up_bps = config.initial_uplink_mbps * MBPS
        self._prior_down_bps = config.initial_downlink_mbps * MBPS
        local = [option for option in options if option.local]
        self._local_head_s = local[0].head_s if local else math.inf

    # ------------------------------------------------------------ what the device has seen
    def _refresh(self, now_s: float, observation: Observation) -> None:
        """Take the uploads' new samples, then the transport's rate since the last decision if the uplink had
        data to send all along: fewer bits were acknowledged since then than were waiting then."""
        samples = observation.uplink_samples_bps
        self._rates.extend((now_s, samples[k]) for k in added_since(samples, observation.uploads, self._seen_uploads))
        self._seen_uploads = observation.uploads
        if self._last is not None:
            then, acked_then, unacked_then = self._last
            acked = observation.uplink_acked_bits - acked_then
            busy = acked < unacked_then and now_s > then  # the backlog of then is not through: busy all along
            if busy:
                self._rates.append((now_s, acked / (now_s - then)))
            if busy and acked == 0.0:  # it had data and delivered nothing since then
                self._silent_since_s = then if math.isnan(self._silent_since_s) else self._silent_since_s
            else:
                self._silent_since_s = math.nan
        self._last = (now_s, observation.uplink_acked_bits, observation.uplink_unacked_bits)

    def rates_bps(self, now_s: float) -> tuple[list[float], np.ndarray]:
        """The uplink throughput samples the distribution is made of at ``now_s`` (those younger than
        ``memory_s``, bits/s; else the prior) and their probabilities (equal, or halving every ``half_life_s``
        of age)."""
        oldest = now_s - self.config.memory_s
        kept = [(taken, rate) for taken, rate in self._rates if taken > oldest]
        if not kept:
            return [self._prior_up_bps], np.ones(1)
        half_life = self.config.half_life_s
        weights = np.ones(len(kept)) if half_life is None else np.exp2([(taken - now_s) / half_life
                                                                         for taken, _ in kept])
        return [rate for _, rate in kept], weights / weights.sum()

    # ------------------------------------------------------------ the prediction
    def latencies(self, now_s: float, observation: Observation) -> tuple[np.ndarray, np.ndarray]:
        """Every option's (latency s, energy J) under every sample: arrays of shape (options, samples)."""
        return self._priced(now_s, observation, self.rates_bps(now_s)[0])

    def _priced(self, now_s: float, observation: Observation, rates: list[float]) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`latencies` under the samples ``rates`` (bits/s)."""
        downs = observation.downlink_samples_bps
        down = downs[-1] if downs else self._prior_down_bps
        backlog = max(0.0, observation.compute_free_at_s - now_s)
        wait = probed_wait_s(observation, self.config.server_wait)
        unacked = observation.uplink_unacked_bits
        moving = [rate for rate in rates if rate > 0.0]
        resumed_bps = float(np.median(moving)) if moving else self._prior_up_bps
        silent_s = 0.0 if math.isnan(self._silent_since_s) else now_s - self._silent_since_s
        latency = np.empty((len(self.options), len(rates)))
        energy = np.empty_like(latency)
        for i, option in enumerate(self.options):
            option_wait = wait if option.server == observation.probe_server else 0.0
            for k, rate in enumerate(rates):
                if rate > 0.0 or option.local:
                    latency[i, k], energy[i, k] = self._one(option, rate, down, option_wait, backlog, unacked)
                else:
                    latency[i, k], energy[i, k] = self._silent(option, resumed_bps, silent_s, down, option_wait,
                                                               backlog, unacked)
        return latency, energy

    def _one(self, option: Option, rate: float, down: float, wait: float, backlog: float,
             unacked: float) -> tuple[float, float]:
        """(latency s, energy J) of ``option`` if the uplink carries ``rate`` bits/s (> 0)."""
        latency, energy = predict(option, self.device, rate, down, wait, backlog)
        if option.local:
            return latency, energy
        queued = unacked / rate - (backlog + option.head_s)  # the device's own uploads still ahead of it
        return latency + (queued if queued > 0.0 else 0.0), energy

    def _silent(self, option: Option, resumed_bps: float, silent_s: float, down: float, wait: float,
                backlog: float, unacked: float) -> tuple[float, float]:
        """(latency s, energy J) of offloading ``option`` under a sample of a silent uplink: the silence lasts
        as long again as it has lasted (``silent_s``; the median of a scale-free prior on its length), then the
        link carries ``resumed_bps``; with the fallback, no more than giving the upload up costs."""
        latency, energy = self._one(option, resumed_bps, down, wait, backlog, unacked)
        latency += silent_s
        stall = self.fallback_stall_s
        if stall is not None:
            latency = min(latency, backlog + option.head_s + stall + self._local_head_s)
        return latency, energy

    def decide(self, now_s: float, observation: Observation) -> Decision:
        self._refresh(now_s, observation)
        rates, weights = self.rates_bps(now_s)
        latency, energy = self._priced(now_s, observation, rates)
        with np.errstate(invalid="ignore"):
            mean_latency = latency @ weights
            objective = self.config.objective
            if objective == "deadline" and self.deadline_s is not None:
                met = (latency <= self.deadline_s) @ weights
                best = min(range(len(self.options)), key=lambda i: (-met[i], mean_latency[i]))
                return self.options[best].decision
            if objective == "energy":
                value = energy @ weights
            elif objective == "weighted":
                value = mean_latency + self.config.energy_weight_s_per_j * (energy @ weights)
            else:
                value = mean_latency
        best = min(range(len(self.options)), key=lambda i: (value[i], mean_latency[i]))
        return self.options[best].decision


def _build(context: StrategyContext) -> DistributionStrategy:
    config = context.config
    assert isinstance(config, DistributionConfig) and context.device is not None
    check_fallback(context, config.fallback_stall_s)
    return DistributionStrategy(context.options, context.device, config, context.deadline_s, context.label)


def check_fallback(context: StrategyContext, stall_s: float | None) -> None:
    """Refuse a late-upload fallback where the engine cannot give an upload up: a shared cell (whose transfers
    depend on each other) or a cellular link (handovers); and on a model without a local option."""
    uplink = context.network.uplink
    if stall_s is None:
        return
    if uplink.sharing != "dedicated" or uplink.kind == "cellular":
        raise context.error("fallback_stall_s", "expected a dedicated, non-cellular uplink for the late-upload "
                            f"fallback, got a {uplink.kind} uplink shared as {uplink.sharing!r}")
    if not any(option.local for option in context.options):
        raise context.error("fallback_stall_s", "expected a local option to fall back on (the model has none "
                            "among this strategy's options)")


FALLBACK_STALL_S = 0.1
"""The late-upload fallback of the ``distribution+fallback`` variant ``simsplit compare`` adds where the uplinks
allow it (s). Measured (docs/policies.md): it pays where silences last longer than the local run (an LTE-like
trace with outages of seconds: -24% mean latency) and costs where they are short (the Verizon LTE uplink,
whose silences last a few hundred ms: +13%), so it is not the default."""


def _compared(scenario, setup) -> dict[str, dict]:
    objective = objective_name(scenario)
    block = {"kind": "distribution", **adaptive_defaults(scenario),
             "objective": objective if objective in ("latency", "energy", "weighted") else "latency"}
    found = {"distribution": block}
    uplinks = [scenario.network_of(group).uplink for group in scenario.devices]
    if all(link.sharing == "dedicated" and link.kind != "cellular" for link in uplinks):
        found["distribution+fallback"] = {**block, "fallback_stall_s": FALLBACK_STALL_S}
    return found


register_strategy("distribution", DistributionConfig, _build,
                  label=lambda c: f"distribution({c.config.objective})", compared=_compared)
