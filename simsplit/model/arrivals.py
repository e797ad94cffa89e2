"""When each device's inputs arrive: periodic with jitter, Poisson, or closed loop (blocks and processes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
from pydantic import NonNegativeFloat, PositiveFloat, model_validator

from simsplit.core.config import Config, FieldValueError
from simsplit.core.registry import Registry
from simsplit.core.streams import BlockSampler
from simsplit.model.strategies.predict import Workload


class ArrivalsConfig(Config):
    """The base of an arrivals block: it tells the device its own request process (:meth:`workload`), which
    the radio's cost model and the run's feasibility estimate read."""

    def workload(self) -> Workload:
        """The process as ``periodic`` or ``poisson`` at a rate, or a ``closed_loop`` with a think time."""
        raise NotImplementedError(f"arrivals kind {getattr(self, 'kind', '?')!r} defines no workload()")


arrivals = Registry("arrivals", base=ArrivalsConfig)
"""The arrival processes (:func:`register_arrivals`)."""


def register_arrivals(kind: str, config: type[Config], build: Callable | None = None):
    """When a device's inputs arrive. ``build(config, rng)`` returns an object with ``next_at(now_s) -> s``
    and a ``closed_loop`` flag (True: ``next_at`` is called when the previous result returns; False: the
    instants depend on nothing the run does, and may be drawn ahead, ``now_s`` being the previous instant,
    0 for the first), and optionally ``ahead(n)``, the next ``n`` instants at once. The block subclasses
    :class:`ArrivalsConfig` and gives its ``workload()``."""
    return arrivals.register(kind, config, build)


class PeriodicArrivalsConfig(ArrivalsConfig):
    """One input every 1/rate_hz seconds, each delayed by U(0, jitter_s); phase random per device unless set."""

    kind: Literal["periodic"]
    rate_hz: PositiveFloat
    jitter_s: NonNegativeFloat = 0.0
    phase_s: NonNegativeFloat | None = None

    @model_validator(mode="after")
    def _jitter_below_period(self):
        if self.jitter_s >= 1.0 / self.rate_hz:
            raise FieldValueError("jitter_s", f"expected a number < the period 1/rate_hz = {1.0 / self.rate_hz:g} s, "
                                  f"got {self.jitter_s:g}")
        return self

    def workload(self) -> Workload:
        return Workload("periodic", rate_hz=self.rate_hz)


class PoissonArrivalsConfig(ArrivalsConfig):
    """Exponential inter-arrival times with mean 1/rate_hz."""

    kind: Literal["poisson"]
    rate_hz: PositiveFloat

    def workload(self) -> Workload:
        return Workload("poisson", rate_hz=self.rate_hz)


class ClosedLoopArrivalsConfig(ArrivalsConfig):
    """The next input comes think_s after the previous result returns."""

    kind: Literal["closed_loop"]
    think_s: NonNegativeFloat = 0.0

    def workload(self) -> Workload:
        return Workload("closed_loop", think_s=self.think_s)


class PeriodicArrivals:
    """Nominal instants ``phase_s + k / rate_hz``, each delayed by U(0, jitter_s) (s)."""

    closed_loop = False

    def __init__(self, rate_hz: float, jitter_s: float, phase_s: float | None, rng: np.random.Generator):
        self._period_s = 1.0 / rate_hz
        self._phase_s = rng.uniform(0.0, self._period_s) if phase_s is None else phase_s
        self._jitter = BlockSampler(rng, lambda g, n: g.uniform(0.0, jitter_s, n), grow=True) if jitter_s > 0 else None
        self._k = 0

    def next_at(self, now_s: float) -> float:
        """Instant (s) of the next arrival."""
        at = self._phase_s + self._k * self._period_s
        self._k += 1
        return at + self._jitter() if self._jitter is not None else at

    def ahead(self, n: int) -> np.ndarray:
        """The next ``n`` instants :meth:`next_at` would give (s), at once, with the same arithmetic."""
        at = self._phase_s + np.arange(self._k, self._k + n, dtype=float) * self._period_s
        if self._jitter is not None:
            at = at + self._jitter.take(n)
        self._k += n
        return at

    @staticmethod
    def ahead_rows(processes: list[PeriodicArrivals], n: int) -> np.ndarray:
        """Each process's next ``n`` instants (s), a row each: what ``ahead(n)`` gives, with the same
        arithmetic elementwise, for many devices at once."""
        k = np.array([process._k for process in processes], dtype=float)
        phase = np.array([process._phase_s for process in processes])
        period = np.array([process._period_s for process in processes])
        at = phase[:, None] + (k[:, None] + np.arange(n, dtype=float)) * period[:, None]
        for row, process in enumerate(processes):
            if process._jitter is not None:
                at[row] = at[row] + process._jitter.take(n)
            process._k += n
        return at


class PoissonArrivals:
    """Exponential gaps with mean 1/rate_hz (s)."""

    closed_loop = False

    def __init__(self, rate_hz: float, rng: np.random.Generator):
        self._gap = BlockSampler(rng, lambda g, n: g.exponential(1.0 / rate_hz, n), grow=True)
        self._last_s = 0.0

    def next_at(self, now_s: float) -> float:
        self._last_s += self._gap()
        return self._last_s

    def ahead(self, n: int) -> np.ndarray:
        """The next ``n`` instants :meth:`next_at` would give (s), at once: the same running sum, left to
        right."""
        at = np.cumsum(np.concatenate(([self._last_s], self._gap.take(n))))[1:]
        if n:
            self._last_s = float(at[-1])
        return at

    @staticmethod
    def ahead_rows(processes: list[PoissonArrivals], n: int) -> np.ndarray:
        """Each process's next ``n`` instants (s, ``n`` > 0), a row each: the same running sums as
        ``ahead(n)`` (a cumulative sum along a row adds left to right, as along a vector)."""
        sums = np.empty((len(processes), n + 1))
        for row, process in enumerate(processes):
            sums[row, 0] = process._last_s
            sums[row, 1:] = process._gap.take(n)
        at = np.cumsum(sums, axis=1)[:, 1:]
        for process, last in zip(processes, at[:, -1].tolist(), strict=True):
            process._last_s = last
        return at


class ClosedLoopArrivals:
    """First input at 0; each next one ``think_s`` (s) after the previous result returns."""

    closed_loop = True

    def __init__(self, think_s: float):
        self.think_s = think_s
        self._started = False

    def next_at(self, now_s: float) -> float:
        if not self._started:
            self._started = True
            return 0.0
        return now_s + self.think_s


register_arrivals("periodic", PeriodicArrivalsConfig,
                  lambda config, rng: PeriodicArrivals(config.rate_hz, config.jitter_s, config.phase_s, rng))
register_arrivals("poisson", PoissonArrivalsConfig, lambda config, rng: PoissonArrivals(config.rate_hz, rng))
register_arrivals("closed_loop", ClosedLoopArrivalsConfig, lambda config, rng: ClosedLoopArrivals(config.think_s))
