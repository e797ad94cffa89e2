"""The scenario's server blocks: workers, queue discipline, batching, other tenants' load."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    field_validator,
    model_validator,
)

from simsplit.core.config import Config, FieldValueError
from simsplit.core.registry import KindBlock
from simsplit.core.units import MS
from simsplit.model.background import background as background_kinds
from simsplit.model.queues import disciplines
from simsplit.model.variability import VariabilityConfig


class BatchScalingConfig(Config):
    """How a batch of b tail inferences scales the time of one: ``linear`` t(b) = t(1) (1 + per_item (b - 1)),
    or ``table`` t(b) = t(1) factors[b - 1] (factors[0] = 1)."""

    kind: Literal["linear", "table"] = "linear"
    per_item: NonNegativeFloat = 1.0
    factors: list[PositiveFloat] | None = None

    @model_validator(mode="after")
    def _table(self):
        if self.kind == "table" and (not self.factors or self.factors[0] != 1.0):
            raise FieldValueError("factors", "a table needs factors starting with 1.0 (a batch of one)")
        if self.kind == "linear" and self.factors is not None:
            raise FieldValueError("factors", "only a table takes factors")
        return self

    def factor(self, size: int) -> float:
        """t(size) / t(1)."""
        if self.factors is not None:  # a table (only a table has factors)
            return self.factors[size - 1]
        return 1.0 + self.per_item * (size - 1)


class BatchingConfig(Config):
    """Dynamic batching: up to max_batch queued jobs of one kind start together once the batch is full or its
    oldest job has waited max_wait_ms; kinds (split, bottleneck) batch together only with mix_kinds."""

    max_batch: PositiveInt = 1
    max_wait_ms: NonNegativeFloat = 0.0
    mix_kinds: bool = False
    scaling: BatchScalingConfig = BatchScalingConfig()

    @model_validator(mode="after")
    def _table_long_enough(self):
        if self.scaling.kind == "table" and len(self.scaling.factors) < self.max_batch:
            raise FieldValueError("scaling", f"expected {self.max_batch} factors (one per batch size up to "
                                  f"max_batch), got {len(self.scaling.factors)}")
        return self


class ServerPowerConfig(Config):
    """Electrical power of one worker (GPU or CPU with its share of the host): ``idle_w`` when idle,
    ``busy_w`` while it runs a job or a batch (linear in utilisation between them; a batch costs one
    service time at ``busy_w`` however many requests it holds)."""

    idle_w: NonNegativeFloat
    busy_w: NonNegativeFloat

    @model_validator(mode="after")
    def _busy_at_least_idle(self):
        if self.busy_w < self.idle_w:
            raise FieldValueError("busy_w", f"expected a power >= idle_w ({self.idle_w:g}), got {self.busy_w:g}")
        return self


class ServerConfig(Config):
    """A server: workers identical GPUs sharing one queue (FIFO or earliest deadline first) of at most
    queue_capacity waiting jobs, with optional dynamic batching and other tenants' load. extra_rtt_ms is a
    round trip beyond the device's links (a cloud tier behind the edge)."""

    name: str = Field(default="edge", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    server_class: str
    workers: PositiveInt = 1
    queue_capacity: NonNegativeInt | None = None
    discipline: str = "fifo"
    drop_expired: bool = False
    service_variability: VariabilityConfig = VariabilityConfig()
    batching: BatchingConfig = BatchingConfig()
    background: list[Annotated[KindBlock, background_kinds.by_kind]] = []
    extra_rtt_ms: NonNegativeFloat = 0.0
    power: ServerPowerConfig | None = None
    """Per-worker power; with it the summary reports the server's energy (the operator's view)."""

    @field_validator("discipline")
    @classmethod
    def _registered_discipline(cls, name: str) -> str:
        if name not in disciplines:
            raise ValueError(f"expected one of {disciplines.expected()}, got {name!r}")
        return name

    @property
    def extra_rtt_s(self) -> float:
        return self.extra_rtt_ms * MS
