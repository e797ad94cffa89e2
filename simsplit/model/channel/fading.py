"""SNR-driven capacity: path loss with distance, block fading, and a rate from Shannon or an LTE CQI table.

Each coherence interval draws a small-scale power gain g (Rayleigh: g ~ Exp(1);
Rician with factor K: |h|^2 with a line-of-sight part; none: g = 1) and, if
set, a log-normal shadowing term. Then

    SNR (dB) = P_tx (dBm) - PL(d) (dB) + 10 log10(g) + shadowing - N (dBm)
    PL(d)    = PL(d0) + 10 n log10(d / d0)                (log-distance path loss)
    N (dBm)  = -174 + 10 log10(B) + noise figure

and the capacity is ``efficiency * B * log2(1 + SNR)`` (``shannon``) or
``efficiency * B * se(CQI)`` where the CQI is the highest whose SNR threshold
the SNR reaches (``cqi``; no CQI: rate 0, an outage).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from typing import Literal

import numpy as np
from pydantic import Field, NonNegativeFloat, PositiveFloat

from simsplit.core.units import MHZ
from simsplit.model.channel.link import LinkConfig, register_channel
from simsplit.model.channel.sampled import SampledPathChannel

# LTE 4-bit CQI table (3GPP TS 36.213 Table 7.2.3-1): spectral efficiency (bit/s/Hz) for CQI 1..15,
# with the SNR (dB) at which each reaches 10% BLER in AWGN (a common link-level mapping).
CQI_EFFICIENCY = (0.1523, 0.2344, 0.3770, 0.6016, 0.8770, 1.1758, 1.4766, 1.9141, 2.4063, 2.7305,
                  3.3223, 3.9023, 4.5234, 5.1152, 5.5547)
CQI_SNR_DB = (-6.7, -4.7, -2.3, 0.2, 2.4, 4.3, 5.9, 8.1, 10.3, 11.7, 14.1, 16.3, 18.7, 21.0, 22.7)


class RadioLinkConfig(LinkConfig):
    """The radio fields of an SNR-driven link: transmit power, bandwidth, log-distance path loss, noise,
    block fading every coherence_s, and the rate mapping."""

    bandwidth_mhz: PositiveFloat = 10.0
    tx_power_dbm: float = 23.0
    path_loss_exponent: PositiveFloat = 3.76
    reference_loss_db: float = 15.3
    noise_figure_db: NonNegativeFloat = 9.0
    fading: Literal["none", "rayleigh", "rician"] = "rayleigh"
    rician_k: NonNegativeFloat = 0.0
    coherence_s: PositiveFloat = 0.01
    mapping: Literal["shannon", "cqi"] = "cqi"
    efficiency: float = Field(default=0.75, gt=0, le=1)

    @property
    def peak_rate_bps(self) -> float:
        return self.bandwidth_mhz * MHZ * 30.0  # beyond any modulation's bits per symbol

    @property
    def segments_per_s(self) -> float:
        return 1.0 / self.coherence_s

    @property
    def radio_options(self) -> dict:
        """Keyword arguments of :class:`FadingChannel` (SI units) but the distance and shadowing."""
        return {"bandwidth_hz": self.bandwidth_mhz * MHZ, "tx_power_dbm": self.tx_power_dbm,
                "path_loss_exponent": self.path_loss_exponent, "reference_loss_db": self.reference_loss_db,
                "noise_figure_db": self.noise_figure_db, "fading": self.fading, "rician_k": self.rician_k,
                "coherence_s": self.coherence_s, "mapping": self.mapping, "efficiency": self.efficiency}


class FadingLinkConfig(RadioLinkConfig):
    """Capacity from the SNR: log-distance path loss (defaults: 3GPP macro 128.1 + 37.6 log10(d/km)),
    block fading every coherence_s, rate by Shannon (x efficiency) or the LTE CQI table (x efficiency)."""

    kind: Literal["fading"]
    distance_m: PositiveFloat = 300.0
    shadowing_db: NonNegativeFloat = 0.0


def thermal_noise_dbm(bandwidth_hz: float, noise_figure_db: float) -> float:
    """Noise power (dBm) over ``bandwidth_hz`` at 290 K plus the receiver's noise figure."""
    return -174.0 + 10.0 * math.log10(bandwidth_hz) + noise_figure_db


def log_distance_path_loss_db(distance_m: float, reference_loss_db: float, exponent: float,
                              reference_m: float = 1.0) -> float:
    """PL(d) = PL(d0) + 10 n log10(d/d0), in dB."""
    return reference_loss_db + 10.0 * exponent * math.log10(distance_m / reference_m)


def rate_from_snr(snr_db: float, bandwidth_hz: float, mapping: str, efficiency: float) -> float:
    """Capacity (bits/s) at ``snr_db`` by ``shannon`` or the LTE ``cqi`` table."""
    if mapping == "shannon":
        return efficiency * bandwidth_hz * math.log2(1.0 + 10.0 ** (snr_db / 10.0))
    cqi = bisect_right(CQI_SNR_DB, snr_db)
    return 0.0 if cqi == 0 else efficiency * bandwidth_hz * CQI_EFFICIENCY[cqi - 1]


class FadingChannel(SampledPathChannel):
    """Block-fading capacity: a new gain every ``coherence_s`` (s). See the module docstring for the model."""

    def __init__(self, *, bandwidth_hz: float, tx_power_dbm: float, distance_m: float, path_loss_exponent: float,
                 reference_loss_db: float, noise_figure_db: float, fading: str, rician_k: float,
                 shadowing_db: float, coherence_s: float, mapping: str, efficiency: float,
                 rng: np.random.Generator):
        if fading not in ("none", "rayleigh", "rician"):
            raise ValueError(f"fading must be none, rayleigh or rician, got {fading!r}")
        if mapping not in ("shannon", "cqi"):
            raise ValueError(f"mapping must be shannon or cqi, got {mapping!r}")
        self.bandwidth_hz = bandwidth_hz
        self.mean_snr_db = (tx_power_dbm - log_distance_path_loss_db(distance_m, reference_loss_db, path_loss_exponent)
                            - thermal_noise_dbm(bandwidth_hz, noise_figure_db))
        """SNR (dB) without fading or shadowing."""
        self.fading, self.rician_k, self.shadowing_db = fading, rician_k, shadowing_db
        self.coherence_s, self.mapping, self.efficiency = coherence_s, mapping, efficiency
        self._rng = rng
        self._snrs_db: list[float] = []
        """SNR (dB) of each drawn segment, in the order of the path's segments."""
        super().__init__(self._next)

    def snr_db_at(self, at_s: float) -> float:
        """SNR (dB) of the fading block at ``at_s`` (s)."""
        self._extend_to_time(at_s)
        return self._snrs_db[bisect_right(self._starts, at_s) - 1]

    def draw_gain(self) -> float:
        """One small-scale power gain, mean 1."""
        if self.fading == "rayleigh":
            return self._rng.exponential(1.0)
        if self.fading == "rician":
            k = self.rician_k
            los = math.sqrt(k / (k + 1.0))
            scatter = math.sqrt(1.0 / (2.0 * (k + 1.0)))
            re, im = self._rng.normal(los, scatter), self._rng.normal(0.0, scatter)
            return re * re + im * im
        return 1.0

    def _next(self) -> tuple[float, float]:
        gain = self.draw_gain()
        snr_db = self.mean_snr_db + 10.0 * math.log10(max(gain, 1e-300))
        if self.shadowing_db > 0:
            snr_db += self._rng.normal(0.0, self.shadowing_db)
        self._snrs_db.append(snr_db)
        return self.coherence_s, rate_from_snr(snr_db, self.bandwidth_hz, self.mapping, self.efficiency)


@register_channel("fading", FadingLinkConfig, per_device=True)
def _build(config: FadingLinkConfig, context) -> FadingChannel:
    return FadingChannel(distance_m=config.distance_m, shadowing_db=config.shadowing_db, rng=context.rng,
                         **config.radio_options)
