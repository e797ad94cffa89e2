"""What a device can predict about one option from its own knowledge: latency (s) and energy (J).

Inputs are the device's static knowledge (its profile, the payload table, its
radio and compute power, the links' delays) and its current estimates
(uplink and downlink throughput, the server's wait from its last probe, its own
compute backlog). The same model serves the dynamic strategy and, with true
values substituted, the oracle.
"""

from __future__ import annotations

from dataclasses import dataclass

from simsplit.strategies.base import Decision


@dataclass(frozen=True, slots=True)
class Option:
    """One (split, bottleneck, server) with its static costs for one device class."""

    decision: Decision
    local: bool
    head_s: float
    bits_up: float
    service_s: float
    bits_down: float
    accuracy: float
    fixed_delay_s: float
    """Propagation both ways plus the server's extra round trip (s)."""
    server: int


@dataclass(frozen=True, slots=True)
class DeviceModel:
    """What a device knows about its own hardware (W, W per bit/s)."""

    compute_power_w: float
    alpha_up_w_per_bps: float
    alpha_down_w_per_bps: float
    beta_w: float


def predict(option: Option, device: DeviceModel, up_bps: float, down_bps: float, wait_s: float,
            backlog_s: float = 0.0) -> tuple[float, float]:
    """(latency s, device energy J) of ``option`` under the given estimates (tail energy not included)."""
    if option.local:
        return backlog_s + option.head_s, device.compute_power_w * option.head_s
    up_s = option.bits_up / up_bps if option.bits_up else 0.0
    down_s = option.bits_down / down_bps if option.bits_down else 0.0
    latency = backlog_s + option.head_s + up_s + wait_s + option.service_s + down_s + option.fixed_delay_s
    energy = (device.compute_power_w * option.head_s
              + device.alpha_up_w_per_bps * option.bits_up + device.beta_w * up_s
              + device.alpha_down_w_per_bps * option.bits_down + device.beta_w * down_s)
    return latency, energy


def score(objective: str, latency_s: float, energy_j: float, weight_s_per_j: float) -> float:
    """The quantity to minimise: latency (s), energy (J), or latency + weight x energy (s)."""
    if objective == "latency":
        return latency_s
    if objective == "energy":
        return energy_j
    return latency_s + weight_s_per_j * energy_j
