"""What a calibration may fit: blocks of parameters, each with its structure, bounds and unit.

Every block is a config (``kind`` names it) that knows its parameters' names, starting values and bounds,
and writes a vector of values into a :class:`Candidate` (the tables and group powers being tried). Values
are in the units people read (ms, mJ, W, a dimensionless factor); the tables hold SI.

Structures keep the fitted profile valid by construction: ``per_block`` fits one non-negative time (or
energy) per block, so the cumulative head is non-decreasing and the remaining tail non-increasing;
``scale`` fits one factor on the scenario's own column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, ClassVar, Literal

import numpy as np
from pydantic import Field, NonNegativeFloat, PositiveFloat, model_validator

from simsplit.core.config import Config, FieldValueError
from simsplit.core.units import MJ, MS
from simsplit.scenario import Scenario
from simsplit.scenario.payloads import PayloadTable
from simsplit.scenario.profiles import ModelProfile

UNBOUNDED = float("inf")


@dataclass
class Candidate:
    """The fitted columns and values being tried, in people's units; what is not here keeps the scenario's."""

    head_ms: dict[str, np.ndarray] = field(default_factory=dict)
    """Device class -> cumulative head time (ms) per split."""
    head_mj: dict[str, np.ndarray] = field(default_factory=dict)
    """Device class -> cumulative head energy (mJ) per split."""
    tail_ms: dict[str, np.ndarray] = field(default_factory=dict)
    """Server class -> remaining tail time (ms) per split."""
    encode_ms: dict[tuple[int, str], float] = field(default_factory=dict)
    decode_ms: dict[tuple[int, str], float] = field(default_factory=dict)
    power_w: dict[str, float] = field(default_factory=dict)
    """Device group name -> compute power (W)."""


@dataclass(frozen=True)
class Base:
    """The scenario and its tables as read, which the blocks start from."""

    scenario: Scenario
    profile: ModelProfile
    payloads: PayloadTable

    def head_ms(self, device_class: str) -> np.ndarray:
        return self.profile.head_s[device_class] / MS

    def head_mj(self, device_class: str) -> np.ndarray:
        """The profile's head energy (mJ), or the first group of the class's power x head time."""
        if device_class in self.profile.head_j:
            return self.profile.head_j[device_class] / MJ
        power = next(g.compute_power_w for g in self.scenario.devices if g.device_class == device_class)
        return power * self.head_ms(device_class)

    def split_names(self) -> list[str]:
        return list(self.profile.names)


MAX_BOUND = 1e9
"""The largest bound a parameter may have, in its unit (ms, mJ, W or a factor)."""


class _Block(Config):
    if TYPE_CHECKING:
        kind: str  # each block's discriminator, a Literal field of its own

    min: NonNegativeFloat = Field(default=0.0, le=MAX_BOUND)
    """Lower bound of every parameter of the block, in its unit."""
    max: PositiveFloat | None = Field(default=None, le=MAX_BOUND)
    """Upper bound (none: unbounded)."""

    @model_validator(mode="after")
    def _ordered_bounds(self):
        if self.max is not None and not self.min < self.max:
            raise FieldValueError("max", f"expected a bound above min ({self.min:g}), got {self.max:g}")
        return self

    def target(self) -> str:
        raise NotImplementedError

    def labels(self, base: Base) -> list[str]:
        raise NotImplementedError

    def initial(self, base: Base) -> np.ndarray:
        raise NotImplementedError

    def apply(self, values: np.ndarray, base: Base, candidate: Candidate) -> None:
        raise NotImplementedError

    def unit(self) -> str:
        """The unit of the block's parameters."""
        raise NotImplementedError

    def check(self, base: Base) -> None:
        """Raise FieldValueError if the block names something the scenario does not have."""

    def bounds(self, base: Base) -> tuple[np.ndarray, np.ndarray]:
        n = len(self.labels(base))
        return np.full(n, self.min), np.full(n, UNBOUNDED if self.max is None else self.max)


class _PerClassCurve(_Block):
    structure: Literal["per_block", "scale"] = "per_block"

    def _curve(self, base: Base) -> np.ndarray:
        raise NotImplementedError

    def labels(self, base: Base) -> list[str]:
        if self.structure == "scale":
            return [f"{self.kind}[{self.target()}] factor"]
        return [f"{self.kind}[{self.target()}] {name}" for name in base.split_names()[1:]]

    block_unit: ClassVar[str] = "ms"

    def unit(self) -> str:
        return "x" if self.structure == "scale" else self.block_unit


class _DeviceCurve(_PerClassCurve):
    """A device class's cumulative head curve: one value per block (cumulative and non-decreasing by
    construction) or one factor on the profile's column."""

    device_class: str

    def target(self) -> str:
        return self.device_class

    def check(self, base: Base) -> None:
        if self.device_class not in base.profile.head_s:
            raise FieldValueError("device_class", f"expected one of {base.profile.device_classes}, "
                                  f"got {self.device_class!r}")

    def initial(self, base: Base) -> np.ndarray:
        return np.ones(1) if self.structure == "scale" else np.diff(self._curve(base))


class HeadTime(_DeviceCurve):
    """The device's head times: one time per block (ms; cumulative and non-decreasing by construction) or one
    factor on the profile's column."""

    kind: Literal["head_time"]

    def _curve(self, base: Base) -> np.ndarray:
        return base.head_ms(self.device_class)

    def apply(self, values: np.ndarray, base: Base, candidate: Candidate) -> None:
        curve = self._curve(base)
        candidate.head_ms[self.device_class] = _cumulative(curve, values, self.structure)


class HeadEnergy(_DeviceCurve):
    """The device's head energies: one energy per block (mJ, cumulative) or one factor on the profile's
    ``head_mj_`` column (or on power x time where it has none). Written as a ``head_mj_<class>`` column,
    which replaces compute power x head time in every run."""

    kind: Literal["head_energy"]
    block_unit: ClassVar[str] = "mJ"

    def _curve(self, base: Base) -> np.ndarray:
        return base.head_mj(self.device_class)

    def apply(self, values: np.ndarray, base: Base, candidate: Candidate) -> None:
        candidate.head_mj[self.device_class] = _cumulative(self._curve(base), values, self.structure)


class TailTime(_PerClassCurve):
    """The server's tail times: one factor on the profile's column (a speed factor, ``scale``) or one time per
    block (ms; the remaining tail is then non-increasing by construction)."""

    kind: Literal["tail_time"]
    server_class: str
    structure: Literal["per_block", "scale"] = "scale"

    def target(self) -> str:
        return self.server_class

    def check(self, base: Base) -> None:
        if self.server_class not in base.profile.tail_s:
            raise FieldValueError("server_class", f"expected one of {base.profile.server_classes}, "
                                  f"got {self.server_class!r}")

    def _curve(self, base: Base) -> np.ndarray:
        return base.profile.tail_s[self.server_class] / MS

    def initial(self, base: Base) -> np.ndarray:
        return np.ones(1) if self.structure == "scale" else -np.diff(self._curve(base))

    def apply(self, values: np.ndarray, base: Base, candidate: Candidate) -> None:
        curve = self._curve(base)
        if self.structure == "scale":
            candidate.tail_ms[self.server_class] = values[0] * curve
        else:  # the remaining tail after split k is the sum of the blocks after it
            remaining = np.concatenate([np.cumsum(values[::-1])[::-1], [0.0]])
            candidate.tail_ms[self.server_class] = curve[-1] + remaining


class _PayloadTime(_Block):
    bottleneck: str
    splits: list[Annotated[int, Field(ge=0)]] | None = None
    """The split points whose rows share the fitted time (default: every row of the bottleneck)."""

    def unit(self) -> str:
        return "ms"

    def target(self) -> str:
        return self.bottleneck

    def rows(self, base: Base) -> list[tuple[int, str]]:
        return [key for key in base.payloads.entries
                if key[1] == self.bottleneck and (self.splits is None or key[0] in self.splits)]

    def check(self, base: Base) -> None:
        known = sorted({b for _, b in base.payloads.entries})
        if self.bottleneck not in known:
            raise FieldValueError("bottleneck", f"expected one of {known}, got {self.bottleneck!r}")
        if not self.rows(base):
            raise FieldValueError("splits", f"expected split points that have a {self.bottleneck} row, "
                                  f"got {self.splits}")

    def labels(self, base: Base) -> list[str]:
        where = "" if self.splits is None else f" at splits {','.join(map(str, self.splits))}"
        return [f"{self.kind}[{self.bottleneck}]{where}"]

    stage: ClassVar[str]
    """``encode`` or ``decode``: which time of the payload rows the block fits."""

    def initial(self, base: Base) -> np.ndarray:
        seconds = [getattr(base.payloads.entries[key], f"{self.stage}_s") for key in self.rows(base)]
        return np.array([np.mean(seconds) / MS])

    def apply(self, values: np.ndarray, base: Base, candidate: Candidate) -> None:
        fitted = getattr(candidate, f"{self.stage}_ms")
        for key in self.rows(base):
            fitted[key] = float(values[0])


class EncodeTime(_PayloadTime):
    """The device's encoding time for a bottleneck (ms), one value shared by its rows."""

    kind: Literal["encode_time"]
    stage: ClassVar[str] = "encode"


class DecodeTime(_PayloadTime):
    """The server's decoding time for a bottleneck (ms), one value shared by its rows."""

    kind: Literal["decode_time"]
    stage: ClassVar[str] = "decode"


class ComputePower(_Block):
    """The compute power (W) of some device groups (default: all), one value shared by them."""

    kind: Literal["compute_power"]
    groups: list[str] | None = Field(default=None, min_length=1)

    def unit(self) -> str:
        return "W"

    def target(self) -> str:
        return "all groups" if self.groups is None else ",".join(self.groups)

    def names(self, base: Base) -> list[str]:
        return [g.name for g in base.scenario.devices] if self.groups is None else list(self.groups)

    def check(self, base: Base) -> None:
        known = [g.name for g in base.scenario.devices]
        unknown = [name for name in self.names(base) if name not in known]
        if unknown:
            raise FieldValueError("groups", f"expected device groups of the scenario, got {unknown[0]!r}")

    def labels(self, base: Base) -> list[str]:
        return [f"compute_power[{self.target()}]"]

    def initial(self, base: Base) -> np.ndarray:
        powers = {g.name: g.compute_power_w for g in base.scenario.devices}
        return np.array([np.mean([powers[name] for name in self.names(base)])])

    def bounds(self, base: Base) -> tuple[np.ndarray, np.ndarray]:
        low, high = super().bounds(base)
        return np.maximum(low, 1e-9), high  # a group's compute power must stay > 0

    def apply(self, values: np.ndarray, base: Base, candidate: Candidate) -> None:
        for name in self.names(base):
            candidate.power_w[name] = float(values[0])


Parameter = Annotated[HeadTime | HeadEnergy | TailTime | EncodeTime | DecodeTime | ComputePower,
                      Field(discriminator="kind")]


def _cumulative(curve: np.ndarray, values: np.ndarray, structure: str) -> np.ndarray:
    """The cumulative curve from per-block values (starting at the curve's split-0 value) or a factor."""
    if structure == "scale":
        return values[0] * curve
    return curve[0] + np.concatenate([[0.0], np.cumsum(values)])
