"""The ``linucb`` strategy (ANS's µLinUCB, Zhang et al. WWW 2021): its arms, ridge regression and forced sampling
computed by hand, its block's validation, and a run through the engine."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import REPO

from simsplit.core.errors import InputError
from simsplit.model.channel import Channel
from simsplit.model.server import EdgeServer
from simsplit.model.strategies import Decision, Observation
from simsplit.model.strategies.linucb import LinUcbConfig, LinUcbStrategy, ans_forced_period
from simsplit.model.strategies.predict import Option
from simsplit.scenario import load_scenario

TRACE = REPO / "scenarios" / "trace-driven-lte.yaml"

# Contexts (1, upload s, tail s, wait s, backlog s) at the prior 8 Mbit/s, no probe, nothing unacknowledged:
# EARLY x = (1, 1, 0, 0, 0) (8 Mbit to send, no tail), INPUT x = (1, 0, 1, 0, 0) (nothing to send, a 1 s tail).
# Neither has a head, so its latency is all offloading delay; LOCAL takes 1.5 s on the device.
LOCAL = Option(Decision(2, "none", "edge"), True, 1.5, 0, 0, 0, 0.76, 0.0, 0, 2.0)
EARLY = Option(Decision(1, "bn", "edge"), False, 0.0, 8e6, 0.0, 64, 0.74, 0.004, 0, 2.0)
INPUT = Option(Decision(0, "jpeg", "edge"), False, 0.0, 0.0, 1.0, 64, 0.76, 0.004, 0, 2.0)


def returned(observation: Observation, option: Option, latency_s: float) -> Observation:
    observation.results.append((option.decision, latency_s))
    observation.completed += 1
    return observation


def bandit(alpha_s: float, **fields) -> LinUcbStrategy:
    config = LinUcbConfig(kind="linucb", alpha_s=alpha_s, ridge_s2=1.0, initial_uplink_mbps=8, **fields)
    return LinUcbStrategy([LOCAL, EARLY, INPUT], config, "linucb")


def test_ans_forced_sampling_period():
    """ceil(T^0.25): T = 200 up to the 200th request (3.76 -> 4), then 400 (4.47 -> 5), 800 (5.32 -> 6),
    1600 (6.32 -> 7)."""
    assert [ans_forced_period(t) for t in (1, 200, 201, 400, 401, 800, 801, 1600)] == [4, 4, 5, 5, 6, 6, 7, 7]


def test_arms_and_ridge_regression_by_hand():
    """lambda = 1, every offloading arm played once first (EARLY, then INPUT).

    Request 3, EARLY's delay 2 s back: A = I + x x^T, theta = r x / (lambda + |x|^2) = 2 (1, 1, 0) / 3. Values:
    EARLY 4/3, INPUT 2/3, LOCAL 1.5; with alpha 0.5 less 0.5 sqrt(x^T A^-1 x), x^T A^-1 x = |x|^2 -
    (x . e)^2 / 3: EARLY 2 - 4/3 = 2/3, INPUT 2 - 1/3 = 5/3. INPUT either way.
    Request 4, INPUT's delay 4 s back (the older of its two pending): on the first three entries A = [[3, 1, 1],
    [1, 2, 0], [1, 0, 2]], det 8, A^-1 = [[4, -2, -2], [-2, 5, 1], [-2, 1, 5]] / 8, b = (6, 2, 4), theta =
    (12, 2, 10) / 8 = (1.5, 0.25, 1.25): EARLY 1.75, INPUT 2.75, each x^T A^-1 x = 5/8. The 4th request is
    forced (ANS's period 4): LOCAL left out, EARLY.
    Request 5: LOCAL 1.5 beats EARLY 1.75 with alpha 0; with alpha 0.5 EARLY is worth 1.75 - 0.5 sqrt(5/8) =
    1.355 and is explored."""
    for alpha, fifth in [(0.0, LOCAL), (0.5, EARLY)]:
        strategy = bandit(alpha, initial_samples=1)
        observation = Observation(0)
        assert strategy.decide(0.0, observation) == EARLY.decision
        assert strategy.decide(0.1, observation) == INPUT.decision
        returned(observation, EARLY, 2.0)
        assert strategy.decide(0.2, observation) == INPUT.decision
        assert strategy.theta == pytest.approx([2 / 3, 2 / 3, 0, 0, 0], abs=1e-12)
        e, i = strategy.context(EARLY, 8e6, 0.0, 0.0), strategy.context(INPUT, 8e6, 0.0, 0.0)
        assert strategy.bound(e) == pytest.approx(4 / 3 - alpha * math.sqrt(2 / 3), abs=1e-12)
        assert strategy.bound(i) == pytest.approx(2 / 3 - alpha * math.sqrt(5 / 3), abs=1e-12)
        returned(observation, INPUT, 4.0)
        assert strategy.decide(0.3, observation) == EARLY.decision  # forced
        expected_a = np.eye(5)
        expected_a[:3, :3] = [[3, 1, 1], [1, 2, 0], [1, 0, 2]]
        assert np.array_equal(strategy.A, expected_a) and np.array_equal(strategy.b, [6, 2, 4, 0, 0])
        assert strategy.theta == pytest.approx([1.5, 0.25, 1.25, 0, 0], abs=1e-12)
        assert strategy.bound(e) == pytest.approx(1.75 - alpha * math.sqrt(5 / 8), abs=1e-12)
        assert strategy.bound(i) == pytest.approx(2.75 - alpha * math.sqrt(5 / 8), abs=1e-12)
        assert strategy.decide(0.4, observation) == fifth.decision
        assert strategy.learnt == 2  # each return learnt once, though the observation was read three times


def test_a_return_is_matched_to_the_context_it_was_decided_in():
    """Two EARLY requests decided with 0 and 2 s of the probed server's wait (contexts (1, 1, 0, 0, 0) and
    (1, 1, 0, 2, 0)), then a LOCAL one; the LOCAL result teaches nothing, the EARLY ones are matched oldest
    first: b = 3 (1, 1, 0, 0, 0) + 5 (1, 1, 0, 2, 0) = (8, 8, 0, 10, 0). The known part (the processor's
    backlog, 1 s at the second decision) is taken off the second's latency 6 s: 5 s."""
    strategy = bandit(0.0, forced_every=1)  # every request offloads: EARLY (1 + w) or INPUT (2 + w)
    first = Observation(0)
    first.probe_server, first.probe_recent_wait_s = 0, 0.0
    assert strategy.decide(0.0, first) == EARLY.decision
    second = Observation(0)
    second.probe_server, second.probe_recent_wait_s, second.compute_free_at_s = 0, 2.0, 2.0
    assert strategy.decide(1.0, second) == EARLY.decision
    late = Observation(0)
    returned(late, LOCAL, 1.5)
    returned(late, EARLY, 3.0)
    returned(late, EARLY, 6.0)
    strategy.decide(2.0, late)
    assert strategy.learnt == 2
    assert np.array_equal(strategy.b, [8, 8, 0, 10, 0])


@pytest.mark.parametrize("field,value", [
    ("alpha_s", "-1"), ("alpha_s", ".inf"), ("alpha_s", ".nan"), ("alpha_s", "11"), ("alpha_s", "true"),
    ("ridge_s2", "0"), ("ridge_s2", "-1"), ("ridge_s2", ".nan"), ("ridge_s2", "'x'"),
    ("initial_samples", "-1"), ("initial_samples", "1.5"), ("initial_samples", "101"),
    ("forced_every", "0"), ("forced_every", "1.0"), ("forced_every", "true"),
    ("server_wait", "'sometimes'"), ("estimator", '{"kind": "ewma", "alpha": 0}')])
def test_hostile_blocks_are_refused_naming_the_field(field, value):
    with pytest.raises(InputError, match=rf"strategy\.{field}[.:]") as error:
        load_scenario(TRACE, [f'strategy={{"kind": "linucb", "{field}": {value}}}'])
    assert "\n" not in str(error.value)


def test_a_run_on_the_lte_trace():
    """30 s of scenarios/trace-driven-lte.yaml: nothing of the engine, its channels or servers is reachable from
    a device's strategy; each device learns once from each of its offloaded requests that returned before its
    last decision (counted in the run's request table)."""
    from test_strategies import _reachable

    from simsplit.engine.des import Engine
    from simsplit.engine.setup import build_setup
    scenario = load_scenario(TRACE, ["duration_s=30", 'strategy={"kind": "linucb"}'])
    engine = Engine(build_setup(scenario), 7)
    last = {}
    for device in engine.devices:
        assert not any(isinstance(o, (EdgeServer, Channel, Engine)) for o in _reachable(device.strategy))
        decide = device.strategy.decide

        def spy(now, observation, decide=decide, index=device.index):
            last[index] = now
            return decide(now, observation)

        device.strategy.decide = spy
    c = engine.run().columns
    for device in engine.devices:
        mine = (c["device"] == device.index) & (c["payload_bits"] > 0) & (c["status"] == 1)
        back = int((mine & (c["finish_at_s"] < last[device.index])).sum())
        assert device.strategy.learnt == back > 0
        assert np.isfinite(device.strategy.theta).all()
