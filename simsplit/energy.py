"""Device energy: compute power x time, and the linear radio model of Huang et al. (MobiSys 2012).

Radio power while sending at throughput R is ``P = alpha * R + beta``
(BottleNet, Table 3). Over a transfer of ``bits`` lasting ``seconds`` the
mean throughput is ``bits / seconds``, so the energy is
``(alpha * bits / seconds + beta) * seconds = alpha * bits + beta * seconds``,
which stays exact when the rate changes during the transfer. All functions
accept numpy arrays.
"""

from __future__ import annotations

import numpy as np


def transfer_j(alpha_w_per_bps, beta_w, bits, seconds):
    """Energy (J) to send or receive ``bits`` in ``seconds`` of transfer: alpha * bits + beta * seconds."""
    return alpha_w_per_bps * bits + beta_w * seconds


def compute_j(power_w, seconds):
    """Energy (J) of computing for ``seconds`` at ``power_w``."""
    return power_w * seconds


def tail_energy_j(gap_s, stages_s, stages_w):
    """Energy (J) the radio spends in its tail stages during an idle gap of ``gap_s`` (s) after a transfer.

    Stage k lasts ``stages_s[k]`` at ``stages_w[k]``; past the last stage the radio is idle (0 W here).
    """
    gap_s = np.asarray(gap_s, dtype=float)
    energy = np.zeros_like(gap_s)
    elapsed = 0.0
    for duration, power in zip(stages_s, stages_w):
        energy += power * np.clip(gap_s - elapsed, 0.0, duration)
        elapsed += duration
    return energy


def radio_tails(device, starts, ends, stages_s, stages_w) -> np.ndarray:
    """Tail energy (J) charged to each transfer.

    ``device``, ``starts`` and ``ends`` (s) describe transfers, uplink and downlink together. Per device,
    overlapping transfers merge into busy periods; the tail after a busy period (until the next period
    starts, or the whole tail after the device's last) is charged to the last transfer to start in it.
    """
    device, starts, ends = np.asarray(device), np.asarray(starts, dtype=float), np.asarray(ends, dtype=float)
    tail = np.zeros(starts.size)
    if starts.size == 0 or not stages_s:
        return tail
    order = np.lexsort((starts, device))
    d, s, e = device[order], starts[order], ends[order]
    import pandas as pd
    busy_until = pd.Series(e).groupby(d).cummax().to_numpy()
    last_of_device = np.r_[d[1:] != d[:-1], True]
    gap = np.where(last_of_device, np.inf, np.r_[s[1:], np.inf] - busy_until)
    whole_tail = float(sum(stages_s))
    tail[order] = np.where(gap > 0, tail_energy_j(np.minimum(gap, whole_tail), stages_s, stages_w), 0.0)
    return tail
