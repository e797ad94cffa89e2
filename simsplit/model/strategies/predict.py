"""What a device can predict about one option from its own knowledge: latency (s) and energy (J).

Inputs are the device's static knowledge (its profile, the payload table, its
radio and compute power, the links' delays) and its current estimates
(uplink and downlink throughput, the server's wait from its last probe, its own
compute backlog). The dynamic strategy prices options with :func:`predict`; the
oracle prices them with :func:`offload_cost` on the true transfer times and
server wait (:mod:`simsplit.model.strategies.truth`): one energy and radio formula
for both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from simsplit.model.energy import transfer_j
from simsplit.model.strategies.base import Decision


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
    compute_power_w: float
    """Mean device power (W) while computing the head (see :attr:`simsplit.engine.setup.Plan.compute_power_w`)."""
    delay_to_server_s: float = 0.0
    """The part of ``fixed_delay_s`` before the server: uplink propagation plus half the extra round trip."""


@dataclass(frozen=True, slots=True)
class Workload:
    """The device's own request process, which it knows: ``periodic`` or ``poisson`` at ``rate_hz``, or a
    ``closed_loop`` with ``think_s`` between a result and the next input."""

    kind: str
    rate_hz: float = 0.0
    think_s: float = 0.0


@dataclass(frozen=True, slots=True)
class DeviceModel:
    """What a device knows about its own hardware (W, W per bit/s, s) and workload: compute power, the
    linear radio model, and its radio's RRC state machine (no promotion and no tail when it has none)."""

    compute_power_w: float
    alpha_up_w_per_bps: float
    alpha_down_w_per_bps: float
    beta_w: float
    promotion_s: float = 0.0
    promotion_w: float = 0.0
    tail_stages_s: tuple[float, ...] = ()
    tail_stages_w: tuple[float, ...] = ()
    workload: Workload = Workload("poisson", 0.0)

    @property
    def has_rrc(self) -> bool:
        """Whether the radio has an RRC state machine (a promotion or a tail)."""
        return bool(self.tail_stages_s) or bool(self.promotion_s)

    @property
    def tail_s(self) -> float:
        """The whole tail (s): how long the radio stays connected after its last transfer."""
        return sum(self.tail_stages_s)

    def tail_j(self, gap_s: float) -> float:
        """Tail energy (J) the radio spends over an idle gap of ``gap_s`` after a transfer (the stages it
        passes through, at most the whole tail)."""
        energy, elapsed = 0.0, 0.0
        # equal lengths (RadioConfig checks); no strict=: a keyword makes zip ~2x slower on this per-decision path
        for duration, power in zip(self.tail_stages_s, self.tail_stages_w):  # noqa: B905
            if gap_s <= elapsed:
                break
            energy += power * min(gap_s - elapsed, duration)
            elapsed += duration
        return energy

    def expected_tail_j(self, rate_hz: float, shift_s: float) -> float:
        """E[tail energy over an idle gap (G - shift)+] for G exponential with ``rate_hz`` (J): each stage
        [a, b) at power p contributes p e^(-rate shift) (e^(-rate a) - e^(-rate b)) / rate."""
        if rate_hz <= 0:
            return self.tail_j(math.inf)
        energy, start = 0.0, 0.0
        for duration, power in zip(self.tail_stages_s, self.tail_stages_w):  # noqa: B905 (as in tail_j)
            energy += power * (math.exp(-rate_hz * start) - math.exp(-rate_hz * (start + duration))) / rate_hz
            start += duration
        return energy * math.exp(-rate_hz * shift_s)


@dataclass(frozen=True, slots=True)
class RadioCost:
    """What the RRC state machine costs one offloaded request in the long run: expected promotion delay (s)
    and energy (J), and its share of tail energy (J)."""

    promotion_s: float
    promotion_j: float
    tail_j: float


def radio_cost(device: DeviceModel, server_gap_s: float, span_s: float, latency_s: float) -> RadioCost:
    """Promotion and tail a request costs when the device keeps choosing the same option.

    A radio's tail and promotions are shared by consecutive requests: a request that finds the radio
    still in its tail pays no promotion, and the tail after a transfer lasts until the next one. So each
    request is charged, as the records charge it, the tail after its own download until the next
    request's upload (at most the whole tail T) and a promotion when the radio went idle before it, with
    the gap from the device's own workload: ``1/rate - span`` (periodic), exponential with the rate
    shifted by the span (Poisson), ``think_s`` (closed loop); plus the tail and a possible promotion in
    the ``server_gap_s`` between its upload and download. ``span_s``: upload start to download end;
    ``latency_s``: the request's latency (s). Charging the marginal cost instead (the whole tail to a
    request that finds the radio idle) would never leave an idle radio, whatever offloading saves.
    """
    if not device.has_rrc:
        return RadioCost(0.0, 0.0, 0.0)
    whole = device.tail_s
    workload = device.workload
    if workload.kind == "poisson":
        idle_chance = math.exp(-workload.rate_hz * (whole + span_s)) if workload.rate_hz > 0 else 1.0
        tail = device.expected_tail_j(workload.rate_hz, span_s)
    else:
        gap = (max(1.0 / workload.rate_hz - span_s, 0.0) if workload.kind == "periodic"
               else workload.think_s + max(latency_s - span_s, 0.0))
        idle_chance = 1.0 if gap >= whole else 0.0
        tail = device.tail_j(min(gap, whole))
    promotions = idle_chance + (1.0 if server_gap_s >= whole else 0.0)
    tail += device.tail_j(min(server_gap_s, whole))
    return RadioCost(promotions * device.promotion_s, promotions * device.promotion_s * device.promotion_w, tail)


def predict(option: Option, device: DeviceModel, up_bps: float, down_bps: float, wait_s: float,
            backlog_s: float = 0.0) -> tuple[float, float]:
    """(latency s, device energy J) of ``option`` under the given estimates.

    The energy counts compute, transmission (alpha x bits + beta x time) and the radio's promotions and
    tail as :func:`radio_cost` charges them; the latency includes the expected promotion delay.
    """
    if option.local:
        return backlog_s + option.head_s, option.compute_power_w * option.head_s
    up_s = option.bits_up / up_bps if option.bits_up else 0.0
    down_s = option.bits_down / down_bps if option.bits_down else 0.0
    latency = backlog_s + option.head_s + up_s + wait_s + option.service_s + down_s + option.fixed_delay_s
    server_gap = option.delay_to_server_s + wait_s + option.service_s  # upload end to download start
    return offload_cost(device, option, up_s, down_s, server_gap, up_s + server_gap + down_s, latency)


def offload_cost(device: DeviceModel, option: Option, up_s: float, down_s: float, server_gap_s: float,
                 span_s: float, latency_s: float) -> tuple[float, float]:
    """(latency s, device energy J) of an offloaded request whose upload takes ``up_s``, whose download takes
    ``down_s``, with ``server_gap_s`` between them, ``span_s`` from upload start to download end and
    ``latency_s`` without any promotion: compute, transmission (:func:`~simsplit.model.energy.transfer_j`) and
    the radio's promotions and tail as :func:`radio_cost` charges them. Estimates (:func:`predict`) and
    the oracle's true state (:mod:`simsplit.model.strategies.truth`) both cost a request with it."""
    energy = (option.compute_power_w * option.head_s
              + transfer_j(device.alpha_up_w_per_bps, device.beta_w, option.bits_up, up_s)
              + transfer_j(device.alpha_down_w_per_bps, device.beta_w, option.bits_down, down_s))
    if not device.has_rrc:
        return latency_s, energy
    radio = radio_cost(device, server_gap_s, span_s, latency_s)
    return latency_s + radio.promotion_s, energy + radio.promotion_j + radio.tail_j


class OptionArrays:
    """Every option's static costs as arrays, to price them all at once: :meth:`predict` gives, for a device
    whose radio has no RRC state machine, exactly what :func:`predict` gives option by option (the same
    floating-point operations in the same order, elementwise)."""

    def __init__(self, options: list[Option], device: DeviceModel):
        if device.has_rrc:
            raise ValueError("OptionArrays prices radios without an RRC state machine (use predict)")
        self.device = device
        self.local = np.array([o.local for o in options], dtype=bool)
        self.head_s, self.bits_up, self.service_s, self.bits_down, self.fixed_delay_s, self.compute_power_w = (
            np.array([getattr(o, name) for o in options], dtype=float)
            for name in ("head_s", "bits_up", "service_s", "bits_down", "fixed_delay_s", "compute_power_w"))
        self.server = np.array([o.server for o in options], dtype=np.int64)

    def predict(self, up_bps: float, down_bps: float, wait_s: np.ndarray, backlog_s: float = 0.0):
        """(latency s, device energy J) of every option (arrays), ``wait_s`` each option's expected wait."""
        up_s = np.divide(self.bits_up, up_bps, out=np.zeros_like(self.bits_up), where=self.bits_up != 0)
        down_s = np.divide(self.bits_down, down_bps, out=np.zeros_like(self.bits_down), where=self.bits_down != 0)
        compute = self.compute_power_w * self.head_s
        device = self.device
        latency = backlog_s + self.head_s + up_s + wait_s + self.service_s + down_s + self.fixed_delay_s
        energy = (compute + transfer_j(device.alpha_up_w_per_bps, device.beta_w, self.bits_up, up_s)
                  + transfer_j(device.alpha_down_w_per_bps, device.beta_w, self.bits_down, down_s))
        return np.where(self.local, backlog_s + self.head_s, latency), np.where(self.local, compute, energy)


ACCURACY_TIE_PER_S = 1e-6
"""Under the ``accuracy`` objective, equally accurate options are told apart by latency: this much error
rate per second of latency (far below one test sample's share of accuracy)."""


Priced = TypeVar("Priced", float, np.ndarray)
"""One option's latency, energy or score (float), or every option's (array)."""


def score(objective: str, latency_s: Priced, energy_j: Priced, weight_s_per_j: float,
          accuracy: Priced | float = 0.0) -> Priced:
    """The quantity to minimise: latency (s), energy (J), latency + weight x energy (s), or for ``accuracy``
    the error rate 1 - accuracy (the most accurate option, which the deadline filters first; ties by latency).
    Floats, or arrays of every option's (elementwise, the same operations)."""
    if objective == "latency":
        return latency_s
    if objective == "energy":
        return energy_j
    if objective == "accuracy":
        return 1.0 - accuracy + ACCURACY_TIE_PER_S * latency_s
    return latency_s + weight_s_per_j * energy_j
