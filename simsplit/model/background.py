"""Other tenants' jobs on a server: a Poisson stream whose intensity (jobs/s) may vary in time.

The intensity is a piecewise-constant path with the same interface as a
link's capacity (:class:`~simsplit.model.channel.Channel`), so a non-homogeneous
Poisson process is simulated exactly by a time change: the next job comes
when the integral of the intensity since the last one reaches an Exp(1)
draw. Constant intensity gives a Poisson stream; steps give a step or trace of
target utilisation; a Markov path gives a Markov-modulated Poisson process
(MMPP); a fine step approximation of a sinusoid gives a diurnal profile.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable
from typing import Literal

import numpy as np
import simpy
from pydantic import Field, NonNegativeFloat, PositiveFloat, model_validator

from simsplit.core.config import Config
from simsplit.core.registry import Registry
from simsplit.core.units import MS
from simsplit.model.channel import Channel, ConstantChannel, MarkovChannel, StepChannel
from simsplit.model.channel.markov import check_chain
from simsplit.model.channel.steps import check_steps
from simsplit.model.variability import VariabilityConfig

DIURNAL_STEPS = 96
"""Steps per period of the diurnal profile (15 min for a day)."""


class BackgroundJob:
    """One job of another tenant (``batch_key`` None); times in s."""

    __slots__ = ("base_service_s", "batch_key", "deadline_at_s", "enqueued_at_s", "service_start_at_s",
                 "service_end_at_s", "batch_size")

    def __init__(self, base_service_s: float):
        self.base_service_s = base_service_s
        self.batch_key = None
        self.deadline_at_s = math.inf


def unit_exponentials(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` Exp(1) variates: the gaps of a stream in its intensity's time (a block of them)."""
    return rng.exponential(1.0, n)


class BackgroundSource:
    """One background stream's makings: its intensity path (jobs/s), its own generator, the random factor of
    its service times (a draw of ``n`` from the generator) and their mean (s)."""

    def __init__(self, intensity: Channel, rng: np.random.Generator,
                 factor_draw: Callable[[np.random.Generator, int], np.ndarray], mean_service_s: float):
        self.intensity = intensity
        self.rng = rng
        self.factor_draw = factor_draw
        self.mean_service_s = mean_service_s

    def samplers(self) -> tuple[Callable[[], float], Callable[[], float]]:
        """(unit exponential gaps, service times s), one at a time from blocks of the one generator: the first
        gap's block, then the first services', and so on (each block drawn when its first value is asked for)."""
        from simsplit.core.streams import BlockSampler
        factors = BlockSampler(self.rng, self.factor_draw)
        return BlockSampler(self.rng, unit_exponentials), ServiceTimes(factors, self.mean_service_s)


class ServiceTimes:
    """A stream's service times (s): its mean times the next random factor. An object, not a closure, so that a
    deep copy of a stream (the fast path's checkpoint of a window) copies the factors' sampler with it, sharing
    the one generator as the gaps' sampler does; a closure would be kept as it is and draw on from the original."""

    def __init__(self, factors: Callable[[], float], mean_s: float):
        self.factors = factors
        self.mean_s = mean_s

    def __call__(self) -> float:
        return self.mean_s * self.factors()


class BackgroundDraws:
    """A background stream's jobs, (arrival s, base service s), in order and without events: the draws
    :class:`BackgroundStream` makes, in its order (the next gap, then at each arrival the job's service and
    the gap after it), so that the fast path merges into its server queue the jobs the DES would submit."""

    def __init__(self, intensity: Channel, unit_exponential: Callable[[], float], service_s: Callable[[], float],
                 end_s: float):
        self._intensity = intensity
        self._exp = unit_exponential
        self._service_s = service_s
        self._end_s = end_s
        self._next_at = intensity.finish_time(0.0, unit_exponential())

    def until(self, horizon_s: float) -> tuple[np.ndarray, np.ndarray]:
        """The jobs arriving before ``horizon_s`` (and the run's end) not handed out yet: (arrivals s,
        services s)."""
        arrivals, services = array("d"), array("d")
        stop = min(horizon_s, self._end_s)
        at = self._next_at
        while at < stop:
            arrivals.append(at)
            services.append(self._service_s())
            at = self._intensity.finish_time(at, self._exp())
        self._next_at = at
        return np.frombuffer(arrivals, dtype=float).copy(), np.frombuffer(services, dtype=float).copy()


class BackgroundStream:
    """Submits jobs to ``server`` at the instants of a Poisson process of intensity ``intensity`` (jobs/s)."""

    def __init__(self, env: simpy.Environment, server, intensity: Channel, unit_exponential: Callable[[], float],
                 service_s: Callable[[], float], end_s: float):
        self._env = env
        self._server = server
        self._intensity = intensity
        self._exp = unit_exponential
        self._service_s = service_s
        self._end_s = end_s
        self.generated = 0
        self.rejected = 0
        self.arrivals_at_s = array("d")
        """Arrival instants (s), compact."""

    def start(self) -> None:
        self._schedule(0.0)

    def _schedule(self, now_s: float) -> None:
        at = self._intensity.finish_time(now_s, self._exp())
        if at < self._end_s:
            event = self._env.timeout(at - self._env.now, at)
            event.callbacks.append(self._arrive)

    def _arrive(self, event) -> None:
        at = event._value
        self.generated += 1
        self.arrivals_at_s.append(at)
        if not self._server.submit(BackgroundJob(self._service_s())):
            self.rejected += 1
        self._schedule(at)


class BackgroundConfig(Config):
    """Every background stream's jobs: mean service_ms each, times a random factor."""

    service_ms: PositiveFloat
    service_variability: VariabilityConfig = VariabilityConfig(kind="exponential")

    def peak_rate_hz(self, workers: int) -> float:
        """The highest job rate (jobs/s) the stream can reach, for the run's feasibility estimate."""
        raise NotImplementedError(f"background kind {getattr(self, 'kind', '?')!r} defines no peak_rate_hz()")


background = Registry("background", base=BackgroundConfig)
"""Other tenants' load models (:func:`register_background`)."""


def register_background(kind: str, config: type[Config], build: Callable | None = None):
    """Other tenants' load on a server: a Poisson stream of intensity given as a path. ``build(config, workers,
    rng)`` returns that intensity (jobs/s) as a :class:`~simsplit.model.channel.Channel`; the block subclasses
    :class:`BackgroundConfig` (service time and its variability) and gives its ``peak_rate_hz(workers)``."""
    return background.register(kind, config, build)


class PoissonLoadConfig(BackgroundConfig):
    """Jobs at a constant rate rate_hz."""

    kind: Literal["poisson"]
    rate_hz: PositiveFloat

    def peak_rate_hz(self, workers: int) -> float:
        return self.rate_hz


class UtilisationStepsConfig(BackgroundConfig):
    """Target utilisation utilisation[k] (of all workers) from times_s[k]; the rate is u * workers / service."""

    kind: Literal["utilisation_steps"]
    times_s: list[float]
    utilisation: list[NonNegativeFloat]
    end: Literal["hold", "loop"] = "hold"
    period_s: PositiveFloat | None = None

    @model_validator(mode="after")
    def _valid_steps(self):
        check_steps(self.times_s, self.utilisation, self.end, self.period_s, "utilisation")
        return self

    def peak_rate_hz(self, workers: int) -> float:
        return max(self.utilisation) * workers / (self.service_ms * MS)


class MmppLoadConfig(BackgroundConfig):
    """Markov-modulated Poisson: rate rates_hz[i] in state i, exponential sojourns mean_sojourn_s[i]."""

    kind: Literal["mmpp"]
    rates_hz: list[NonNegativeFloat] = Field(min_length=1)
    mean_sojourn_s: list[PositiveFloat] = Field(min_length=1)
    transitions: list[list[NonNegativeFloat]] | None = None

    @model_validator(mode="after")
    def _valid_chain(self):
        check_chain(self.rates_hz, self.mean_sojourn_s, self.transitions, "rates_hz")
        return self

    def peak_rate_hz(self, workers: int) -> float:
        return max(self.rates_hz)


class DiurnalLoadConfig(BackgroundConfig):
    """Rate mean_rate_hz * (1 + amplitude sin(2 pi (t + phase_s) / period_s)), in 96 steps per period."""

    kind: Literal["diurnal"]
    mean_rate_hz: PositiveFloat
    amplitude: float = Field(ge=0, le=1)
    period_s: PositiveFloat = 86400.0
    phase_s: float = 0.0

    def peak_rate_hz(self, workers: int) -> float:
        return self.mean_rate_hz * (1.0 + self.amplitude)


def intensity_path(config: BackgroundConfig, workers: int, rng: np.random.Generator) -> Channel:
    """The intensity (jobs/s) of a scenario ``background`` entry, from its registered kind."""
    return background.of(config).build(config, workers, rng)


def _utilisation_path(config: UtilisationStepsConfig, workers: int, rng) -> Channel:
    mean_s = config.service_ms * MS
    return StepChannel(config.times_s, [u * workers / mean_s for u in config.utilisation], config.end,
                       config.period_s)


def _diurnal_path(config: DiurnalLoadConfig, workers: int, rng) -> Channel:
    step = config.period_s / DIURNAL_STEPS
    middles = (np.arange(DIURNAL_STEPS) + 0.5) * step
    phases = 2 * np.pi * (middles + config.phase_s) / config.period_s
    rates = config.mean_rate_hz * (1 + config.amplitude * np.sin(phases))
    return StepChannel(np.arange(DIURNAL_STEPS) * step, rates, "loop", config.period_s)


register_background("poisson", PoissonLoadConfig, lambda config, workers, rng: ConstantChannel(config.rate_hz))
register_background("utilisation_steps", UtilisationStepsConfig, _utilisation_path)
register_background("mmpp", MmppLoadConfig, lambda config, workers, rng: MarkovChannel(
    config.rates_hz, config.mean_sojourn_s, config.transitions, rng))
register_background("diurnal", DiurnalLoadConfig, _diurnal_path)
