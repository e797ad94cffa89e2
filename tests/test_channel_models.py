"""Random channel models against their distributions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate

from simsplit.model.channel import FadingChannel, MarkovChannel
from simsplit.model.channel.fading import rate_from_snr
from simsplit.model.channel.markov import stationary_time_fractions


def test_markov_time_in_state_matches_stationary_distribution():
    transitions = [[0, 0.7, 0.3], [0.5, 0, 0.5], [0.9, 0.1, 0]]
    channel = MarkovChannel([20e6, 5e6, 0.0], [3.0, 1.0, 0.4], transitions, np.random.default_rng(5))
    starts, _ = channel.segments(200_000.0)
    durations = np.diff(np.append(starts, channel._starts[-1]))
    states = np.array(channel.state_path)
    observed = np.array([durations[states == i].sum() for i in range(3)]) / durations.sum()
    expected = stationary_time_fractions([3.0, 1.0, 0.4], np.array(transitions, dtype=float))
    assert observed == pytest.approx(expected, abs=0.01)
    # mean capacity = sum of pi_i r_i, through the channel interface
    assert channel.bits_between(0, 200_000.0) / 200_000.0 == pytest.approx(float(expected @ [20e6, 5e6, 0]), rel=0.02)


def test_gilbert_elliott_two_states():
    channel = MarkovChannel([10e6, 0.5e6], [4.0, 1.0], None, np.random.default_rng(2))
    assert channel.time_fractions == pytest.approx([0.8, 0.2])
    channel.finish_time(0.0, 1e6)  # draws the path lazily
    assert channel.rate_bps_at(0.0) in (10e6, 0.5e6)


def test_markov_rejects_bad_matrices():
    with pytest.raises(ValueError, match="zero diagonal"):
        MarkovChannel([1, 2], [1, 1], [[0.5, 0.5], [1, 0]], np.random.default_rng(1))
    with pytest.raises(ValueError, match="summing to 1"):
        MarkovChannel([1, 2], [1, 1], [[0, 0.5], [1, 0]], np.random.default_rng(1))


def make_fading(fading="rayleigh", mapping="shannon", k=0.0):
    return FadingChannel(bandwidth_hz=10e6, tx_power_dbm=23, distance_m=300, path_loss_exponent=3.76,
                         reference_loss_db=15.3, noise_figure_db=9, fading=fading, rician_k=k, shadowing_db=0,
                         coherence_s=0.01, mapping=mapping, efficiency=0.75, rng=np.random.default_rng(11))


def test_macro_path_loss_gives_the_3gpp_value():
    # 3GPP macro: 128.1 + 37.6 log10(0.3 km) = 108.44 dB; noise -174 + 70 + 9 = -95 dBm; SNR = 23 - 108.44 + 95
    assert make_fading().mean_snr_db == pytest.approx(23 - (128.1 + 37.6 * math.log10(0.3)) + 95, abs=0.01)


@pytest.mark.parametrize("fading,k", [("rayleigh", 0.0), ("rician", 5.0)])
def test_fading_mean_rate_matches_the_ergodic_capacity(fading, k):
    channel = make_fading(fading, "shannon", k)
    _, rates = channel.segments(2000.0)  # 200,000 coherence blocks
    snr = 10 ** (channel.mean_snr_db / 10)
    if fading == "rayleigh":
        density = lambda g: math.exp(-g)  # noqa: E731
    else:  # Rician power gain with mean 1: non-central chi-square, 2 degrees of freedom
        from scipy.stats import ncx2
        density = lambda g: 2 * (k + 1) * ncx2.pdf(2 * (k + 1) * g, 2, 2 * k)  # noqa: E731
    expected = integrate.quad(lambda g: 0.75 * 10e6 * math.log2(1 + snr * g) * density(g), 0, np.inf)[0]
    assert np.mean(rates) == pytest.approx(expected, rel=0.01)


def test_cqi_table_mapping():
    assert rate_from_snr(-10.0, 10e6, "cqi", 1.0) == 0.0  # below CQI 1: outage
    assert rate_from_snr(0.2, 10e6, "cqi", 1.0) == pytest.approx(0.6016 * 10e6)  # CQI 4
    assert rate_from_snr(30.0, 10e6, "cqi", 0.75) == pytest.approx(0.75 * 5.5547 * 10e6)  # CQI 15
