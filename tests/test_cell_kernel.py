"""The compiled shared-uplink replay (simsplit.engine.cell_kernel) against the Python replay it stands in for
(simsplit.engine.fastpath_cells, itself checked against the DES in test_fastpath_queues): the same transfers,
in the same order, with the same start, end, clock and setting instant, bit for bit, on random cells."""

from __future__ import annotations

import numpy as np
import pytest
import simpy
from hypothesis import example, given, settings
from hypothesis import strategies as st

from simsplit.engine.cell_kernel import CompiledUplinks
from simsplit.engine.fastpath_cells import SharedUplinks
from simsplit.engine.fastpath_links import LinkArrays
from simsplit.model.channel.constant import ConstantChannel
from simsplit.model.channel.shared import ProcessorSharingLink, SharedFifoLink
from simsplit.model.channel.shifted import ShiftedChannel
from simsplit.model.channel.steps import StepChannel


def _channel(kind: int, rng: np.random.Generator):
    if kind == 0:
        return ConstantChannel(float(rng.choice([1e6, 3e6, 8e3])))
    times = np.concatenate(([0.0], np.cumsum(rng.choice([0.05, 0.1, 0.3, 1.0], size=5))))
    rates = rng.choice([0.0, 1e5, 1e6, 4e6], size=times.size)
    rates[0] = 2e6
    loop = bool(rng.integers(2))
    channel = StepChannel(times.tolist(), rates.tolist(), "loop" if loop else "hold",
                          float(times[-1] + 0.2) if loop else None)
    return ShiftedChannel(channel, float(rng.choice([0.1, 0.37, 1.3]))) if kind == 2 else channel


def _links(seed: int, cells: int) -> list:
    rng = np.random.default_rng(seed)
    env = simpy.Environment()
    return [(SharedFifoLink if rng.integers(3) == 0 else ProcessorSharingLink)(env, _channel(int(rng.integers(3)),
                                                                                             rng))
            for _ in range(cells)]


def _replay(replay, seed: int, cells: int, windows: int) -> list[np.ndarray]:
    """Submit random payloads window by window (ties in time and size on purpose) and run each window."""
    rng = np.random.default_rng(seed + 1)
    out: list[np.ndarray] = []
    number = 0
    for w in range(windows):
        n = int(rng.integers(0, 40))
        ready = np.sort(w + np.round(rng.uniform(0, 1.0, n), 2))
        scheduled = ready - np.round(rng.uniform(0, 0.2, n), 2)
        bits = rng.choice([0.0, 800.0, 8e3, 8e4, 6e5], size=n)
        replay.submit(rng.integers(0, cells, n), np.arange(number, number + n), scheduled, ready, bits)
        number += n
        out.extend(replay.run(w + 1.0 + float(rng.uniform(0, 0.5))))
    out.extend(replay.run(np.inf if rng.integers(2) else windows + 5.0))
    return out


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31), cells=st.integers(1, 4), windows=st.integers(1, 6))
@example(seed=3, cells=1, windows=6)
def test_compiled_cells_equal_the_python_replay(seed, cells, windows):
    links = _links(seed, cells)
    assert LinkArrays(links).compiles
    compiled = _replay(CompiledUplinks(LinkArrays(links)), seed, cells, windows)
    python = _replay(SharedUplinks(links), seed, cells, windows)
    assert len(compiled) == len(python)
    for got, want in zip(compiled, python, strict=True):
        np.testing.assert_array_equal(got, want)


def test_room_grows_for_many_flows_and_a_long_queue():
    """More flows in one cell, and more waiting in a queue, than the first room holds."""
    env = simpy.Environment()
    links = [ProcessorSharingLink(env, ConstantChannel(1e6)), SharedFifoLink(env, ConstantChannel(1e6))]
    n = 100
    results = []
    for replay in (CompiledUplinks(LinkArrays(links)), SharedUplinks(links)):
        replay.submit(np.repeat([0, 1], n), np.arange(2 * n), np.zeros(2 * n), np.tile(np.arange(n) * 1e-4, 2),
                      np.full(2 * n, 8e3))
        results.append(replay.run(np.inf))
    for got, want in zip(*results, strict=True):
        np.testing.assert_array_equal(got, want)
    assert results[0][0].size == 2 * n


def test_other_channels_are_not_compiled():
    class Other(ConstantChannel):
        pass
    assert not LinkArrays([ProcessorSharingLink(simpy.Environment(), Other(1e6))]).compiles


@pytest.mark.parametrize("stop", [0.5, np.inf])
def test_an_outage_keeps_transfers_in_flight(stop):
    """A channel that never delivers again: nothing leaves, on both sides."""
    env = simpy.Environment()
    links = [ProcessorSharingLink(env, StepChannel([0.0, 0.1], [1e6, 0.0])),
             SharedFifoLink(env, StepChannel([0.0, 0.1], [1e6, 0.0]))]
    results = []
    for replay in (CompiledUplinks(LinkArrays(links)), SharedUplinks(links)):
        replay.submit(np.array([0, 0, 1, 1]), np.arange(4), np.zeros(4), np.array([0.0, 0.01, 0.0, 0.01]),
                      np.full(4, 1e6))
        results.append(replay.run(stop))
    for got, want in zip(*results, strict=True):
        np.testing.assert_array_equal(got, want)
    assert results[0][0].size == 0
