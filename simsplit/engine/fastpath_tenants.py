"""Other tenants' jobs for the fast path: each background stream's arrivals and service times, drawn as the
DES's :class:`~simsplit.model.background.BackgroundStream` draws them (the same generator, the same blocks in the
same order, the same clock arithmetic), a window at a time.

A stream whose intensity is constant or a step path uses nothing of its generator but its two samplers, which
take whole blocks in turn (the first gaps' block, the first services', the next gaps', ...): those blocks are
drawn here in that order and the arrivals computed by a compiled loop (:func:`~simsplit.engine.kernels.
tenant_arrivals`). Any other intensity (a Markov path draws its sojourns from the same generator as it grows)
goes through the samplers one job at a time (:class:`~simsplit.model.background.BackgroundDraws`).
"""

from __future__ import annotations

import math

import numpy as np

from simsplit.core.streams import BLOCK_SIZE
from simsplit.engine import kernels
from simsplit.model.background import BackgroundDraws, BackgroundSource, unit_exponentials
from simsplit.model.channel import ConstantChannel, StepChannel
from simsplit.model.channel.steps import ROUNDING


def tenant_jobs(source: BackgroundSource, end_s: float):
    """The jobs of ``source`` until ``end_s``: an object whose ``until(horizon)`` hands out (arrivals s, services
    s) of the jobs arriving before ``horizon`` not yet handed out."""
    if type(source.intensity) in (ConstantChannel, StepChannel):  # a subclass (a plugin's) may count differently
        return _BlockTenant(source, end_s)
    return BackgroundDraws(source.intensity, *source.samplers(), end_s)


class _BlockTenant:
    """A stream on a constant or step intensity, its gaps and services drawn a block of each at a time."""

    def __init__(self, source: BackgroundSource, end_s: float):
        self._source = source
        self._end_s = end_s
        intensity = source.intensity
        if isinstance(intensity, ConstantChannel):
            self._rate = intensity.rate_bps
            self._steps = (np.zeros(0), np.zeros(0), np.zeros(0), math.nan, math.nan)
        else:
            assert isinstance(intensity, StepChannel)  # tenant_jobs sends no other kind here
            times, rates, cumulative, period_bits = intensity.arrays()
            period_s = math.nan if intensity.period_s is None else intensity.period_s
            self._rate = math.nan
            self._steps = (np.asarray(times, dtype=float), np.asarray(rates, dtype=float),
                           np.asarray(cumulative, dtype=float), period_s, period_bits)
        self._gaps = np.zeros(0)
        self._services = np.zeros(0)
        self._draw_blocks()
        self._next_at = intensity.finish_time(0.0, float(self._gaps[0]))
        self._gaps = self._gaps[1:]

    def _draw_blocks(self) -> None:
        """The next block of gaps, then the next block of services (the samplers' order)."""
        rng = self._source.rng
        self._gaps = np.concatenate((self._gaps, unit_exponentials(rng, BLOCK_SIZE)))
        factors = self._source.factor_draw(rng, BLOCK_SIZE)
        self._services = np.concatenate((self._services, self._source.mean_service_s * factors))

    def until(self, horizon_s: float) -> tuple[np.ndarray, np.ndarray]:
        stop = min(horizon_s, self._end_s)
        times, rates, cumulative, period_s, period_bits = self._steps
        arrivals, services = [], []
        while self._next_at < stop:
            if not self._gaps.size:
                self._draw_blocks()
            at, self._next_at, used = kernels.tenant_arrivals(self._next_at, self._gaps, stop, self._rate, times,
                                                              rates, cumulative, period_s, period_bits, ROUNDING)
            arrivals.append(at)
            services.append(self._services[:used])
            self._gaps, self._services = self._gaps[used:], self._services[used:]
        if not arrivals:
            return np.zeros(0), np.zeros(0)
        return np.concatenate(arrivals), np.concatenate(services)
