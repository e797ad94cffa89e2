"""A link whose capacity replays a bandwidth trace file (see ``traces/README.md``)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import NonNegativeFloat, PositiveFloat, model_validator

from simsplit.core.config import FieldValueError
from simsplit.model.channel.base import Channel, ChannelContext
from simsplit.model.channel.link import LinkConfig, register_channel
from simsplit.model.channel.opportunities import OpportunityChannel
from simsplit.model.channel.shifted import ShiftedChannel
from simsplit.model.channel.steps import StepChannel
from simsplit.model.channel.traces import MAHIMAHI_PACKET_BITS, Trace

TraceFormat = Literal["mahimahi", "pensieve", "csv", "gnettrack", "mecperf"]


class TraceLinkConfig(LinkConfig):
    """Capacity replayed from a bandwidth trace file (path relative to the scenario); see traces/README.md.
    A Mahimahi trace replays its delivery opportunities exactly unless ``window_ms`` bins it into a rate."""

    input_files: ClassVar[tuple[str, ...]] = ("file",)
    kind: Literal["trace"]
    file: str
    format: TraceFormat
    end: Literal["hold", "loop"] = "loop"
    scale: PositiveFloat = 1.0
    offset_s: NonNegativeFloat | Literal["random"] = 0.0
    window_ms: PositiveFloat | None = None
    direction: Literal["down", "up"] | None = None

    @model_validator(mode="after")
    def _format_options(self):
        if self.window_ms is not None and self.format != "mahimahi":
            raise FieldValueError("window_ms", "only a mahimahi trace takes window_ms")
        if self.direction is not None and self.format != "gnettrack":
            raise FieldValueError("direction", "only a gnettrack trace takes direction")
        return self

    @property
    def reader_options(self) -> dict:
        """Keyword arguments for :func:`~simsplit.model.channel.traces.read_trace`."""
        options: dict[str, float | str] = {}
        if self.window_ms is not None:
            options["window_ms"] = self.window_ms
        if self.direction is not None:
            options["direction"] = self.direction
        return options


def trace_channel(trace: Trace, scale: float = 1.0, end: str = "loop") -> Channel:
    """The channel that replays ``trace``: its delivery opportunities exactly where it has them (Mahimahi
    read without a window), else its piecewise-constant rate; capacity times ``scale``."""
    if trace.opportunities_ms is not None:
        return OpportunityChannel(trace.opportunities_ms, MAHIMAHI_PACKET_BITS * scale,
                                  round(trace.period_s * 1e3), end)
    return StepChannel(trace.times_s, trace.rates_bps * scale, end, trace.period_s)


@register_channel("trace", TraceLinkConfig, per_device=lambda config: config.offset_s == "random")
def _build(config: TraceLinkConfig, context: ChannelContext) -> Channel:
    trace = context.trace(config.file, config.format, **config.reader_options)
    channel = trace_channel(trace, config.scale, config.end)
    if config.offset_s == "random":
        assert context.rng is not None  # a random offset makes the channel per device, with its own stream
        offset_s = float(context.rng.uniform(0.0, trace.period_s))
    else:
        offset_s = config.offset_s
    return ShiftedChannel(channel, offset_s) if offset_s else channel
