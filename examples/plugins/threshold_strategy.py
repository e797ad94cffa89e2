"""A plugin strategy: offload at one split while the uplink looks alive and fast enough, else run locally.

The device offloads while the throughput of its last finished upload (its probes' included) is at least
``threshold_mbps`` (before the first: ``initial_uplink_mbps``) and, with ``stale_s``, while the server read
its last returned probe at most ``stale_s`` ago (a link that stopped delivering leaves probes unanswered).
One file, nothing in simsplit touched: load it with ``plugins: [path/to/threshold_strategy.py]`` and use
``kind: threshold``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import NonNegativeInt, PositiveFloat

from simsplit import register_strategy
from simsplit.core.config import Config
from simsplit.model.strategies import Decision


class ThresholdConfig(Config):
    """Split at (split, bottleneck) while the last upload ran at >= threshold_mbps (and the last probe was read
    at most stale_s ago), else run locally."""

    kind: Literal["threshold"]
    split: NonNegativeInt
    bottleneck: str
    threshold_mbps: PositiveFloat
    stale_s: PositiveFloat | None = None
    initial_uplink_mbps: PositiveFloat = 5.0


class ThresholdStrategy:
    def __init__(self, context):
        self.label = context.label
        self.local, self.offload = context.decisions
        self.threshold_bps = context.config.threshold_mbps * 1e6
        self.prior_bps = context.config.initial_uplink_mbps * 1e6
        self.stale_s = context.config.stale_s

    def decide(self, now_s: float, observation) -> Decision:
        samples = observation.uplink_samples_bps
        last_bps = samples[-1] if samples else self.prior_bps
        stale = self.stale_s is not None and now_s - observation.probe_read_at_s > self.stale_s  # False while NaN
        return self.offload if last_bps >= self.threshold_bps and not stale else self.local


def decisions(context) -> list[Decision]:
    """Local, and the configured split on the first server (both must be rows of the payload table)."""
    config, payloads, local_split = context.config, context.payloads, context.profile.local_split
    if payloads.get(config.split, config.bottleneck) is None or config.split == local_split:
        raise context.error("split", f"expected a (split, bottleneck) row of {payloads.source} below the local "
                            f"split {local_split}, got ({config.split}, {config.bottleneck!r})")
    server = context.server_names[0]
    return [Decision(local_split, payloads.at_split(local_split)[0].bottleneck, server),
            Decision(config.split, config.bottleneck, server)]


register_strategy("threshold", ThresholdConfig, ThresholdStrategy, decisions=decisions,
                  label=lambda context: f"threshold({context.config.threshold_mbps:g} Mbps)")
