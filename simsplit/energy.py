"""Device energy: compute power x time, and the linear radio model of Huang et al. (MobiSys 2012).

Radio power while sending at throughput R is ``P = alpha * R + beta``
(BottleNet, Table 3). Over a transfer of ``bits`` lasting ``seconds`` the
mean throughput is ``bits / seconds``, so the energy is
``(alpha * bits / seconds + beta) * seconds = alpha * bits + beta * seconds``,
which stays exact when the rate changes during the transfer. All functions
accept numpy arrays.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LinearRadio:
    """Radio power coefficients in SI: W per bit/s, and W."""

    alpha_up_w_per_bps: float
    alpha_down_w_per_bps: float
    beta_w: float

    def uplink_power_w(self, rate_bps):
        """Transmit power (W) at uplink throughput ``rate_bps``."""
        return self.alpha_up_w_per_bps * rate_bps + self.beta_w

    def uplink_j(self, bits, seconds):
        """Energy (J) to send ``bits`` in ``seconds`` of transmission."""
        return self.alpha_up_w_per_bps * bits + self.beta_w * seconds

    def downlink_j(self, bits, seconds):
        """Energy (J) to receive ``bits`` in ``seconds``."""
        return self.alpha_down_w_per_bps * bits + self.beta_w * seconds


def compute_j(power_w, seconds):
    """Energy (J) of computing for ``seconds`` at ``power_w``."""
    return power_w * seconds
