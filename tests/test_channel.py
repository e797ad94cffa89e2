"""Exact arithmetic of the link models: bits / rate, integrals across rate changes, outages, loop, hold."""

from __future__ import annotations

import math

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from simsplit.model.channel import ConstantChannel, DedicatedLink, StepChannel


def test_constant_takes_bits_over_rate():
    channel = ConstantChannel(5.85e6)
    assert channel.finish_time(2.0, 8 * 10_092) == 2.0 + 8 * 10_092 / 5.85e6


@given(rate=st.floats(1e3, 1e10), start=st.floats(0, 1e6), bits=st.floats(0, 1e9))
def test_constant_property(rate, start, bits):
    assert ConstantChannel(rate).finish_time(start, bits) == start + bits / rate


def test_step_across_one_change():
    # 10 Mbit/s until 1 s, then 2 Mbit/s: 12 Mbit from 0.5 s = 5 Mbit by 1 s + 7 Mbit at 2 Mbit/s = 3.5 s more
    channel = StepChannel([0, 1], [10e6, 2e6])
    assert channel.finish_time(0.5, 12e6) == pytest.approx(4.5, abs=1e-12)


def test_step_waits_through_outage():
    channel = StepChannel([0, 1, 3], [8e6, 0, 4e6])
    # 8 Mbit from 0.5: 4 Mbit by 1 s, nothing until 3 s, then 4 Mbit at 4 Mbit/s: 4 s
    assert channel.finish_time(0.5, 8e6) == pytest.approx(4.0, abs=1e-12)
    # a transfer that starts inside the outage begins when it ends
    assert channel.finish_time(2.0, 4e6) == pytest.approx(4.0, abs=1e-12)


def test_hold_at_zero_never_finishes():
    channel = StepChannel([0, 1], [1e6, 0])
    assert channel.finish_time(0.0, 2e6) == math.inf


def test_loop_repeats_the_pattern():
    channel = StepChannel([0, 1], [4e6, 0], end="loop", period_s=2)
    # 4 Mbit per 2 s period delivered in its first second: 10 Mbit from 0 -> two periods + 0.5 s
    assert channel.finish_time(0.0, 10e6) == pytest.approx(4.5, abs=1e-12)
    assert channel.rate_bps_at(4.5) == 4e6 and channel.rate_bps_at(5.5) == 0
    # a transfer that ends exactly at a period's last delivered bit ends then, not after the gap
    assert channel.finish_time(0.0, 4e6) == pytest.approx(1.0, abs=1e-12)


@settings(max_examples=200)
# the example: a remainder an ulp past a pass ending in an outage
@example(rates=[44739243.2850499, 0.0], start=6.0, bits=44739243.2850499, loop=True)
@given(rates=st.lists(st.one_of(st.just(0.0), st.floats(1.0, 1e8)), min_size=1, max_size=8)
       .filter(lambda r: sum(r) > 0),
       start=st.floats(0, 50), bits=st.floats(1, 1e8), loop=st.booleans())
def test_step_finish_inverts_the_integral(rates, start, bits, loop):
    times = [float(i) for i in range(len(rates))]
    if not loop and rates[-1] == 0:
        rates = rates[:-1] + [1e6]
    channel = StepChannel(times, rates, "loop" if loop else "hold", period_s=len(rates) + 0.5 if loop else None)
    end = channel.finish_time(start, bits)
    assert end >= start
    assert channel.bits_between(start, end) == pytest.approx(bits, rel=1e-9, abs=1e-3)


@pytest.mark.parametrize("times,rates,message", [
    ([1, 2], [1, 1], "start at 0"),
    ([0, 2, 1], [1, 1, 1], "strictly increase"),
    ([0, 1], [1, -1], ">= 0"),
    ([0, 1], [1], "equal length"),
])
def test_step_rejects_bad_breakpoints(times, rates, message):
    with pytest.raises(ValueError, match=message):
        StepChannel(times, rates)


def test_dedicated_link_is_fifo():
    link = DedicatedLink(ConstantChannel(1e6))
    assert link.reserve(0.0, 1e6) == (0.0, 1.0)
    assert link.reserve(0.5, 1e6) == (1.0, 2.0)  # waits for the first transfer
    assert link.reserve(3.0, 0.0) == (3.0, 3.0)


def test_vanishing_rate_gives_infinity_not_an_error():
    assert StepChannel([0], [1e-320], "loop", period_s=1).finish_time(0, 1e6) == math.inf
    assert StepChannel([0], [1e-320]).finish_time(0, 1e6) == math.inf
