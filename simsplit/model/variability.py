"""Random multipliers with mean 1 that turn a profiled mean time into a random one.

A compute time is ``mean_s * X`` with ``E[X] = 1`` and coefficient of
variation ``cv``, so ``E[X**2] = 1 + cv**2``. The models carry these moments so
that queueing formulas (Pollaczek-Khinchine) can read them from the model
under test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import NonNegativeFloat, model_validator

from simsplit.core.config import Config, FieldValueError

KINDS = ("deterministic", "exponential", "gamma", "lognormal", "uniform")
MAX_CV = 100.0
MIN_CV = 1e-6


@dataclass(frozen=True)
class Multiplier:
    """A positive random factor with mean 1.

    ``kind`` is one of :data:`KINDS`; ``cv`` is its coefficient of variation
    (0 for deterministic, 1 for exponential). Raise a ValueError for an
    unknown kind or a cv the kind cannot have.
    """

    kind: str = "deterministic"
    cv: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown variability kind {self.kind!r}; expected one of {', '.join(KINDS)}")
        if self.kind == "deterministic" and self.cv != 0:
            raise ValueError("a deterministic multiplier has cv 0")
        if self.kind == "exponential" and self.cv != 1:
            raise ValueError("an exponential multiplier has cv 1")
        if self.kind in ("gamma", "lognormal", "uniform") and not self.cv > 0:
            raise ValueError(f"a {self.kind} multiplier needs cv > 0")
        if self.kind in ("gamma", "lognormal", "uniform") and self.cv < MIN_CV:
            raise ValueError(f"expected cv >= {MIN_CV:g} (use kind deterministic for no variability), "
                             f"got {self.cv:g}")
        if self.cv > MAX_CV:
            raise ValueError(f"expected cv <= {MAX_CV:g} (beyond it the distribution's parameters overflow), "
                             f"got {self.cv:g}")
        if self.kind == "uniform" and self.cv > 1 / math.sqrt(3):
            raise ValueError("a uniform multiplier needs cv <= 1/sqrt(3) = 0.577 to stay non-negative")

    @property
    def mean(self) -> float:
        """E[X], always 1."""
        return 1.0

    @property
    def second_moment(self) -> float:
        """E[X^2] = 1 + cv^2."""
        return 1.0 + self.cv**2

    @property
    def is_random(self) -> bool:
        """Whether draws vary (False for deterministic)."""
        return self.kind != "deterministic"

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` independent multipliers."""
        cv = self.cv
        if self.kind == "deterministic":
            return np.ones(n)
        if self.kind == "exponential":
            return rng.exponential(1.0, n)
        if self.kind == "gamma":
            shape = 1.0 / cv**2
            return rng.gamma(shape, 1.0 / shape, n)
        if self.kind == "lognormal":
            sigma2 = math.log1p(cv**2)
            return rng.lognormal(-sigma2 / 2.0, math.sqrt(sigma2), n)
        half_width = math.sqrt(3.0) * cv
        return rng.uniform(1.0 - half_width, 1.0 + half_width, n)


class VariabilityConfig(Config):
    """Random factor (mean 1) on profiled compute times: deterministic, exponential, gamma, lognormal or uniform."""

    kind: Literal["deterministic", "exponential", "gamma", "lognormal", "uniform"] = "deterministic"
    cv: NonNegativeFloat | None = None

    @model_validator(mode="after")
    def _valid(self):
        try:
            _ = self.multiplier  # building it checks kind and cv
        except ValueError as exc:
            raise FieldValueError("cv", str(exc)) from None
        return self

    @property
    def multiplier(self) -> Multiplier:
        default_cv = {"deterministic": 0.0, "exponential": 1.0}.get(self.kind)
        cv = self.cv if self.cv is not None else default_cv
        if cv is None:
            raise ValueError(f"a {self.kind} variability needs cv > 0")
        return Multiplier(self.kind, cv)
