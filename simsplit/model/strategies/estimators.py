"""Small reusable estimators of a device's uplink/downlink throughput from its own transfers (bits/s).

Each reads the samples a device has observed (newest last) and keeps whatever
state it needs; ``estimate()`` returns NaN before the first sample.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import Literal

import numpy as np
from pydantic import Field, PositiveInt

from simsplit.core.config import Config
from simsplit.core.registry import Registry
from simsplit.model.strategies.base import added_since

estimators = Registry("estimators")
"""Throughput estimators for adaptive strategies (:func:`register_estimator`)."""


def register_estimator(kind: str, config: type[Config], build: Callable | None = None):
    """A throughput estimator for adaptive strategies. ``build(config)`` returns an object with
    ``update(sample_bps)`` and ``estimate() -> bps`` (NaN before the first sample)."""
    return estimators.register(kind, config, build)


class EwmaConfig(Config):
    """Exponentially weighted mean, weight ``alpha`` on the newest sample."""

    kind: Literal["ewma"]
    alpha: float = Field(default=0.3, gt=0, le=1)


class HarmonicConfig(Config):
    """Harmonic mean of the last ``n`` samples."""

    kind: Literal["harmonic"]
    n: PositiveInt = 5


class QuantileConfig(Config):
    """The lower ``q``-quantile of the last ``n`` samples."""

    kind: Literal["quantile"]
    q: float = Field(default=0.2, ge=0, le=1)
    n: PositiveInt = 5


class Ewma:
    """Exponentially weighted mean with weight ``alpha`` on the newest sample."""

    def __init__(self, alpha: float = 0.3):
        self.alpha = alpha
        self.value = math.nan

    def update(self, sample: float) -> None:
        self.value = sample if math.isnan(self.value) else self.value + self.alpha * (sample - self.value)

    def estimate(self) -> float:
        return self.value


class HarmonicMean:
    """Harmonic mean of the last ``n`` samples (robust to one lucky fast transfer)."""

    def __init__(self, n: int = 5):
        self.samples: deque = deque(maxlen=n)

    def update(self, sample: float) -> None:
        if sample > 0:
            self.samples.append(sample)

    def estimate(self) -> float:
        if not self.samples:
            return math.nan
        return len(self.samples) / sum(1.0 / s for s in self.samples)


class LowerQuantile:
    """The ``q``-quantile of the last ``n`` samples: a conservative estimate."""

    def __init__(self, q: float = 0.2, n: int = 20):
        self.q = q
        self.samples: deque = deque(maxlen=n)

    def update(self, sample: float) -> None:
        self.samples.append(sample)

    def estimate(self) -> float:
        return float(np.quantile(self.samples, self.q)) if self.samples else math.nan


register_estimator("ewma", EwmaConfig, lambda config: Ewma(config.alpha))
register_estimator("harmonic", HarmonicConfig, lambda config: HarmonicMean(config.n))
register_estimator("quantile", QuantileConfig, lambda config: LowerQuantile(config.q, config.n))


def build_estimator(config: Config):
    """The estimator for a scenario ``estimator`` block, from its registered kind."""
    return estimators.of(config).build(config)


class Feed:
    """Passes a device's new throughput samples to an estimator, once each."""

    def __init__(self, estimator):
        self.estimator = estimator
        self._seen = 0
        self._next: object | None = None

    def start_over(self, estimator) -> None:
        """Let ``estimator`` replace the current one at the next new sample (until then the current
        estimate stands): the samples seen so far no longer count."""
        self._next = estimator

    def refresh(self, samples: deque, total: int) -> float:
        """Feed the samples observed since the last call (``total`` counts all ever observed); the estimate."""
        new = added_since(samples, total, self._seen)
        if new and self._next is not None:
            self.estimator, self._next = self._next, None
        for k in new:
            self.estimator.update(samples[k])
        self._seen = total
        return self.estimator.estimate()
