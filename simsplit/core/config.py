"""The base of every configuration block read from a scenario: strict, bounded, immutable.

Each pluggable kind (a channel, a strategy, an arrival process, ...) declares its block as a subclass of
:class:`Config` with a ``kind: Literal[...]`` field and registers it (:mod:`simsplit.core.registry`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from simsplit.core.errors import MAX_INPUT_MAGNITUDE


class FieldValueError(ValueError):
    """A check across fields of one block that blames one of them (``field``, relative to that block)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def _too_large(value: Any) -> bool:
    if isinstance(value, float):
        return abs(value) > MAX_INPUT_MAGNITUDE
    if isinstance(value, (list, tuple)):
        return any(_too_large(v) for v in value)
    return False


class Config(BaseModel):
    """A scenario block. Unknown fields, ``inf``/``nan``, ``true`` for a number, ``1.0`` for an integer and
    numbers beyond :data:`~simsplit.core.errors.MAX_INPUT_MAGNITUDE` are all errors."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    @field_validator("*", mode="after")
    @classmethod
    def _bounded(cls, value):
        if _too_large(value):
            raise ValueError(f"expected numbers of magnitude <= {MAX_INPUT_MAGNITUDE:g}, got {value!r}")
        return value
