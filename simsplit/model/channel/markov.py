"""An N-state continuous-time Markov chain of link capacities; Gilbert-Elliott is the two-state case.

State i has capacity ``rates_bps[i]`` and exponentially distributed sojourns
with mean ``mean_sojourn_s[i]``; on leaving it, the next state is drawn from
row i of ``transitions`` (the embedded jump chain, zero diagonal; default:
uniform over the other states). The first state is drawn from the stationary
distribution, so the path needs no warm-up.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import Field, NonNegativeFloat, PositiveFloat, model_validator

from simsplit.core.config import FieldValueError
from simsplit.core.units import MBPS
from simsplit.model.channel.link import LinkConfig, register_channel
from simsplit.model.channel.sampled import SampledPathChannel


def check_chain(rates, mean_sojourn_s, transitions, rates_field: str) -> None:
    """Raise a :class:`~simsplit.core.config.FieldValueError` unless rates, sojourns and the jump matrix make a
    valid Markov chain."""
    if len(rates) != len(mean_sojourn_s):
        raise FieldValueError("mean_sojourn_s", f"expected {len(rates)} values (one per state in "
                              f"{rates_field}), got {len(mean_sojourn_s)}")
    if not any(r > 0 for r in rates):
        raise FieldValueError(rates_field, "expected at least one state with a rate > 0")
    try:
        jump_matrix(len(rates), transitions)
    except ValueError as exc:
        raise FieldValueError("transitions", str(exc)) from None


class MarkovLinkConfig(LinkConfig):
    """Capacity from an N-state Markov chain: rates_mbps per state, exponential sojourns with mean_sojourn_s;
    transitions is the jump matrix (zero diagonal; default uniform). Gilbert-Elliott: two states."""

    kind: Literal["markov"]
    rates_mbps: list[NonNegativeFloat] = Field(min_length=1)
    mean_sojourn_s: list[PositiveFloat] = Field(min_length=1)
    transitions: list[list[NonNegativeFloat]] | None = None

    @model_validator(mode="after")
    def _valid_chain(self):
        check_chain(self.rates_mbps, self.mean_sojourn_s, self.transitions, "rates_mbps")
        return self

    @property
    def peak_rate_bps(self) -> float:
        return max(self.rates_mbps) * MBPS

    @property
    def segments_per_s(self) -> float:
        return 4.0 / min(self.mean_sojourn_s)


def stationary_time_fractions(mean_sojourn_s: Sequence[float], transitions: np.ndarray) -> np.ndarray:
    """Long-run fraction of time in each state: pi_i proportional to nu_i * m_i, nu the jump chain's stationary law."""
    values, vectors = np.linalg.eig(transitions.T)
    nu = np.real(vectors[:, np.argmin(np.abs(values - 1.0))])
    nu = nu / nu.sum()
    weights = nu * np.asarray(mean_sojourn_s, dtype=float)
    return weights / weights.sum()


def jump_matrix(states: int, transitions: Sequence[Sequence[float]] | None) -> np.ndarray:
    """The validated jump-chain matrix. Raise a ValueError unless it is square, stochastic, zero-diagonal."""
    if transitions is None:
        if states == 1:
            return np.ones((1, 1))
        matrix = np.full((states, states), 1.0 / (states - 1))
        np.fill_diagonal(matrix, 0.0)
        return matrix
    matrix = np.asarray(transitions, dtype=float)
    if matrix.shape != (states, states):
        raise ValueError(f"transitions must be {states}x{states}, got shape {matrix.shape}")
    if (matrix < 0).any() or not np.allclose(matrix.sum(axis=1), 1.0):
        raise ValueError("each row of transitions must be probabilities summing to 1")
    if states > 1 and np.any(np.diag(matrix) != 0):
        raise ValueError("transitions must have a zero diagonal (a sojourn already covers staying)")
    return matrix


class MarkovChannel(SampledPathChannel):
    """Capacity following a CTMC over ``rates_bps`` (bits/s) with ``mean_sojourn_s`` (s) per state."""

    def __init__(self, rates_bps: Sequence[float], mean_sojourn_s: Sequence[float],
                 transitions: Sequence[Sequence[float]] | None, rng: np.random.Generator):
        rates = [float(r) for r in rates_bps]
        sojourns = [float(m) for m in mean_sojourn_s]
        if not rates or len(rates) != len(sojourns):
            raise ValueError("rates and mean sojourns must be non-empty and of equal length")
        if any(r < 0 for r in rates) or not any(r > 0 for r in rates):
            raise ValueError("rates must be >= 0 with at least one > 0")
        if any(not m > 0 for m in sojourns):
            raise ValueError("mean sojourn times must be > 0")
        self.rates_bps = rates
        self.mean_sojourn_s = sojourns
        self.transitions = jump_matrix(len(rates), transitions)
        self.time_fractions = stationary_time_fractions(sojourns, self.transitions)
        self._rng = rng
        self._cumulative_rows = np.cumsum(self.transitions, axis=1)
        self._state = int(rng.choice(len(rates), p=self.time_fractions))
        self.state_path: list[int] = []
        """State of each drawn segment, in order."""
        super().__init__(self._next)

    def _next(self) -> tuple[float, float]:
        state = self._state
        duration = self._rng.exponential(self.mean_sojourn_s[state])
        if len(self.rates_bps) > 1:
            self._state = int(np.searchsorted(self._cumulative_rows[state], self._rng.random(), side="right"))
            self._state = min(self._state, len(self.rates_bps) - 1)
        self.state_path.append(state)
        return duration, self.rates_bps[state]


register_channel("markov", MarkovLinkConfig, lambda config, context: MarkovChannel(
    [r * MBPS for r in config.rates_mbps], config.mean_sojourn_s, config.transitions, context.rng), per_device=True)
