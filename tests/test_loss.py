"""Packet erasures: retransmission overhead and delay, lost payloads without retransmission."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_engine import one_device

from simsplit import simulate
from simsplit.model.channel.loss import PacketLoss
from simsplit.scenario import validate_scenario


def lossy(tmp_path, loss, split_bytes=15_000, rate_hz=20.0, duration_s=200.0):
    scenario = one_device(tmp_path, split_bytes=split_bytes, encode_ms=0, up_mbps=50,
                          arrivals={"kind": "periodic", "rate_hz": rate_hz, "phase_s": 0.0}, duration_s=duration_s)
    scenario["network"]["uplink"]["loss"] = loss
    scenario["deadline_s"] = 1.0
    return simulate(validate_scenario(scenario))


def test_arq_sends_one_over_one_minus_p_times_the_payload(tmp_path):
    result = lossy(tmp_path, {"kind": "bernoulli", "p": 0.2, "feedback_ms": 0})
    r = result.requests
    assert (r["status"] == "completed").all()
    ratio = r["bytes_sent_up"].sum() / r["bytes_up"].sum()
    assert ratio == pytest.approx(1 / 0.8, rel=0.02)  # 4,000 requests x 10 packets
    # energy and time follow the bytes actually sent: alpha x bits + beta x time, time = bits / rate
    assert r["uplink_s"].to_numpy() == pytest.approx(r["bytes_sent_up"].to_numpy() * 8 / 50e6)
    assert r["uplink_j"].to_numpy() == pytest.approx(
        (0.43839 / 1e6 * r["bytes_sent_up"] * 8 + 1.28804 * r["uplink_s"]).to_numpy())


def test_feedback_delay_per_retransmission_round(tmp_path):
    r = lossy(tmp_path, {"kind": "bernoulli", "p": 0.3, "feedback_ms": 8}).requests
    transmit_s = r["bytes_sent_up"].to_numpy() * 8 / 50e6
    rounds = (r["uplink_s"].to_numpy() - transmit_s) / 0.008
    assert np.allclose(rounds, np.round(rounds), atol=1e-6)
    rounds = np.round(rounds)
    assert rounds.min() == 0 and rounds.max() >= 2
    assert ((rounds > 0) == (r["bytes_sent_up"] > r["bytes_up"])).all()


def test_without_retransmission_a_payload_is_lost_with_any_packet(tmp_path):
    result = lossy(tmp_path, {"kind": "bernoulli", "p": 0.05, "retransmit": False})
    r = result.requests
    measured = r[r["status"] != "in_flight"]
    expected = 1 - 0.95**10  # 15,000 bytes = 10 packets of 1500 bytes
    n = len(measured)
    observed = float((measured["status"] == "lost").mean())
    assert abs(observed - expected) < 3 * math.sqrt(expected * (1 - expected) / n)
    s = result.summary
    assert s["lost"] == int((measured["status"] == "lost").sum())
    assert s["generated"] == s["completed"] + s["dropped"] + s["lost"] + s["in_flight"]
    assert s["deadline_miss_rate"] == pytest.approx(observed, abs=1e-3)
    assert (r.loc[r["status"] == "lost", "server_s"].isna()).all()


def test_gilbert_elliott_mean_erasure():
    loss = PacketLoss(np.random.default_rng(4), mtu_bytes=1500, retransmit=False, feedback_s=0,
                      loss_good=0.01, loss_bad=0.6, p_good_bad=0.05, p_bad_good=0.25)
    erased = np.mean([loss._erased() for _ in range(200_000)])
    assert loss.mean_erasure == pytest.approx((5 / 6) * 0.01 + (1 / 6) * 0.6)
    assert erased == pytest.approx(loss.mean_erasure, rel=0.03)


def test_bernoulli_needs_p(tmp_path):
    from simsplit.core.errors import InputError
    with pytest.raises(InputError, match=r"network\.uplink\.loss\.p: a bernoulli loss needs p"):
        lossy(tmp_path, {"kind": "bernoulli"})


def test_one_packet_with_retransmission_replays_the_uniform_stream():
    """A one-packet payload (a bottleneck's few hundred bytes) against a replay of the same uniforms: two
    per attempt (the chain's step, then the erasure), resent until one gets through."""
    feedback_s = 0.004
    loss = PacketLoss(np.random.default_rng(9), mtu_bytes=1500, retransmit=True, feedback_s=feedback_s,
                      loss_good=0.3, loss_bad=0.9, p_good_bad=0.2, p_bad_good=0.3)
    uniforms = iter(np.random.default_rng(9).random(200_000))
    bad = False
    for size_bits in [2400.0, 12_000.0, 1.0] * 3000:
        attempts = 0
        while True:
            attempts += 1
            bad = next(uniforms) >= 0.3 if bad else next(uniforms) < 0.2
            if not next(uniforms) < (0.9 if bad else 0.3):
                break
        assert loss.transmit(size_bits) == (size_bits * attempts, (attempts - 1) * feedback_s, False)


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), mtu=st.sampled_from([100, 1500]), retransmit=st.booleans(),
       loss_good=st.sampled_from([0.0, 0.01, 0.3, 0.9]), loss_bad=st.sampled_from([0.0, 0.5, 0.95]),
       p_good_bad=st.sampled_from([0.0, 0.1, 0.5]), p_bad_good=st.sampled_from([1.0, 0.2, 0.05]),
       batches=st.lists(st.lists(st.sampled_from([0.0, 8.0, 800.0, 12000.0, 1.2e5, 3e6]), max_size=25),
                        max_size=4))
def test_transmit_many_equals_transmit_one_at_a_time(seed, mtu, retransmit, loss_good, loss_bad, p_good_bad,
                                                     p_bad_good, batches):
    """The compiled batch (the fast path's) draws the same numbers as the scalar calls (the DES's), the chain's
    state carried, with scalar calls in between; a batch longer than its first draws (3 MB payloads of 100-byte
    packets at 90% loss) draws more."""
    options = dict(mtu_bytes=mtu, retransmit=retransmit, feedback_s=0.008, loss_good=loss_good, loss_bad=loss_bad,
                   p_good_bad=p_good_bad, p_bad_good=p_bad_good)
    one, many = PacketLoss(np.random.default_rng(seed), **options), PacketLoss(np.random.default_rng(seed), **options)
    for sizes in batches:
        want = [one.transmit(size) for size in sizes]
        sent, extra, lost = many.transmit_many(np.array(sizes))
        assert list(zip(sent.tolist(), extra.tolist(), lost.tolist(), strict=True)) == want
        assert one.transmit(800.0) == many.transmit(800.0)
