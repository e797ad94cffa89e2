"""The edge server: batching against hand-computed cases, EDF, timeouts, background load, several servers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import simpy
from conftest import queue_scenario
from test_engine import one_device

from simsplit import simulate
from simsplit.model.server import EdgeServer
from simsplit.scenario import validate_scenario


class Job:
    def __init__(self, name, service_s, key="a", deadline_at_s=math.inf):
        self.name, self.base_service_s, self.batch_key, self.deadline_at_s = name, service_s, key, deadline_at_s


def serve(jobs_at, **options):
    """Submit (time, job) pairs to one server; return {name: (start, end, batch size)} and expired names."""
    env = simpy.Environment()
    done, expired = {}, []
    server = EdgeServer(env, on_done=lambda j: done.__setitem__(j.name, (j.service_start_at_s, j.service_end_at_s,
                                                                         j.batch_size)),
                        on_expired=lambda j: expired.append(j.name), **options)
    for at, job in jobs_at:
        env.timeout(at, job).callbacks.append(lambda e: server.submit(e._value))
    env.run()
    return done, expired


def test_full_batch_starts_at_once_and_scales_linearly():
    jobs = [(0.001 * i, Job(i, 0.010)) for i in range(4)]
    done, _ = serve(jobs, workers=1, max_batch=4, max_wait_s=0.010, batch_factor=lambda b: 1 + 0.5 * (b - 1))
    for i in range(4):
        assert done[i] == (pytest.approx(0.003), pytest.approx(0.003 + 0.025), 4)


def test_batch_leaves_when_the_oldest_has_waited_max_wait():
    jobs = [(0.0, Job("x", 0.010)), (0.002, Job("y", 0.010)), (0.050, Job("z", 0.010))]
    done, _ = serve(jobs, workers=1, max_batch=4, max_wait_s=0.005, batch_factor=lambda b: 1 + 0.5 * (b - 1))
    assert done["x"] == (pytest.approx(0.005), pytest.approx(0.020), 2)
    assert done["y"] == done["x"]
    assert done["z"] == (pytest.approx(0.055), pytest.approx(0.065), 1)


def test_kinds_batch_only_with_their_own_unless_mixed():
    jobs = [(0.0, Job("a", 0.010, "a")), (0.001, Job("b", 0.004, "b"))]
    done, _ = serve(jobs, workers=1, max_batch=2, max_wait_s=0.005)
    assert done["a"] == (pytest.approx(0.005), pytest.approx(0.015), 1)
    assert done["b"] == (pytest.approx(0.015), pytest.approx(0.019), 1)
    mixed, _ = serve(jobs, workers=1, max_batch=2, max_wait_s=0.005, mix_kinds=True,
                     batch_factor=lambda b: 1.2 if b == 2 else 1.0)
    assert mixed["a"] == mixed["b"] == (pytest.approx(0.001), pytest.approx(0.001 + 0.012), 2)  # max(10, 4) ms x 1.2


def test_earliest_deadline_first():
    jobs = [(0.0, Job("busy", 0.010)), (0.001, Job("late", 0.001, deadline_at_s=0.5)),
            (0.002, Job("urgent", 0.001, deadline_at_s=0.1)), (0.003, Job("none", 0.001))]
    fifo, _ = serve(jobs, workers=1)
    edf, _ = serve(jobs, workers=1, discipline="edf")
    assert [n for n, _ in sorted(fifo.items(), key=lambda kv: kv[1][0])] == ["busy", "late", "urgent", "none"]
    assert [n for n, _ in sorted(edf.items(), key=lambda kv: kv[1][0])] == ["busy", "urgent", "late", "none"]


def test_expired_jobs_are_removed_and_reported():
    jobs = [(0.0, Job("busy", 0.010)), (0.001, Job("doomed", 0.001, deadline_at_s=0.005)), (0.002, Job("ok", 0.001))]
    done, expired = serve(jobs, workers=1, drop_expired=True)
    assert expired == ["doomed"] and set(done) == {"busy", "ok"}
    assert done["ok"][0] == pytest.approx(0.010)


def test_timed_out_requests_are_counted(tmp_path):
    scenario = queue_scenario(tmp_path, rate_hz=120.0, service_ms=10.0, duration_s=60, warmup_s=5)
    scenario["deadline_s"] = 0.03
    scenario["server"]["drop_expired"] = True
    result = simulate(validate_scenario(scenario))
    s = result.summary
    assert s["timed_out"] > 0
    assert s["generated"] == s["completed"] + s["dropped"] + s["lost"] + s["timed_out"] + s["in_flight"]
    done = result.requests[result.requests["status"] == "completed"]
    assert (done["server_wait_s"] <= 0.03 + 1e-12).all()  # nobody starts after its deadline


def test_utilisation_steps_follow_the_target(tmp_path):
    scenario = queue_scenario(tmp_path, rate_hz=1.0, service_ms=1.0, workers=4, duration_s=600, warmup_s=0)
    scenario["server"]["background"] = [{"kind": "utilisation_steps", "times_s": [0, 200, 400],
                                         "utilisation": [0.2, 0.8, 0.2], "service_ms": 10.0}]
    result = simulate(validate_scenario(scenario))
    assert result.summary["servers"]["edge"]["background_utilisation"] == pytest.approx((0.2 + 0.8 + 0.2) / 3, abs=0.02)
    # and per step, from the project's view: waits are longest while the other tenants load the server to 80%
    r = result.requests
    waits = [r.loc[(r["arrival_at_s"] >= a) & (r["arrival_at_s"] < a + 200), "server_wait_s"].mean()
             for a in (0, 200, 400)]
    assert waits[1] > 3 * max(waits[0], waits[2])


def test_extra_rtt_to_a_cloud_server(tmp_path):
    scenario = one_device(tmp_path, strategy={"kind": "full_offload", "server": "cloud"})
    edge = scenario.pop("server")
    scenario["servers"] = [edge, {**edge, "name": "cloud", "extra_rtt_ms": 40, "workers": 8}]
    r = simulate(validate_scenario(scenario)).requests
    assert (r["server"] == "cloud").all()
    expected = 0.0005 + 0.001 + 0.00325 + 0.00005 + 0.040
    assert r["latency_s"].iloc[0] == pytest.approx(expected, abs=1e-12)
    assert r["propagation_s"].iloc[0] == pytest.approx(0.040)


def test_unknown_target_server(tmp_path):
    from simsplit.core.errors import InputError
    scenario = one_device(tmp_path, strategy={"kind": "full_offload", "server": "mars"})
    with pytest.raises(InputError, match=r"strategy\.server: expected one of \['edge'\], got 'mars'"):
        simulate(validate_scenario(scenario))


def test_step_scenario_shows_split_latency_moving_with_the_load():
    from conftest import REPO
    summary = simulate(REPO / "scenarios" / "server-load-step.yaml").summary
    low1, high, low2 = ({g: b["latency_s"]["mean"] for g, b in phase["groups"].items()} for phase in summary["phases"])
    for group in ("cloud-only", "rb1", "rb8", "rb14"):
        assert high[group] > 3 * max(low1[group], low2[group]), group
    assert high["local"] == pytest.approx(low1["local"], rel=0.05)  # local computing never meets the server
    assert summary["servers"]["edge"]["background_utilisation"] == pytest.approx(
        (0.2 * 55 + 0.95 * 60 + 0.2 * 60) / 175, abs=0.03)


@pytest.mark.parametrize("load,mean_rate", [
    ({"kind": "mmpp", "rates_hz": [20.0, 200.0], "mean_sojourn_s": [4.0, 1.0]}, 0.8 * 20 + 0.2 * 200),
    ({"kind": "diurnal", "mean_rate_hz": 50.0, "amplitude": 0.8, "period_s": 100.0}, 50.0),
])
def test_background_rates(tmp_path, load, mean_rate):
    scenario = queue_scenario(tmp_path, rate_hz=1.0, service_ms=1.0, workers=20, duration_s=2000, warmup_s=0)
    scenario["server"]["background"] = [{**load, "service_ms": 1.0}]
    summary = simulate(validate_scenario(scenario)).summary
    assert summary["servers"]["edge"]["background_jobs"] / 2000 == pytest.approx(mean_rate, rel=0.03)


def test_diurnal_profile_peaks_where_the_sine_does(tmp_path):
    from simsplit.model.background import DiurnalLoadConfig as DiurnalLoad
    from simsplit.model.background import intensity_path
    path = intensity_path(DiurnalLoad(kind="diurnal", mean_rate_hz=10, amplitude=0.5, period_s=96, service_ms=1),
                          1, np.random.default_rng(0))
    assert path.rate_bps_at(24.2) == pytest.approx(10 * (1 + 0.5 * np.sin(2 * np.pi * 24.5 / 96)))
    assert path.bits_between(0, 96) == pytest.approx(960)  # the mean rate over a period
