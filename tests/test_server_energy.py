"""The server's energy (the operator's view): idle power on every worker plus busy power for each
worker-second in service, against the closed form of an M/M/2 queue, against the per-request service times,
and with batching (one service time at busy power for a whole batch)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import queue_scenario

from simsplit.core.errors import InputError
from simsplit.scenario import validate_scenario
from simsplit.studies.simulation import simulate

IDLE_W, BUSY_W = 30.0, 250.0


def run(folder, **server):
    scenario = queue_scenario(folder, rate_hz=50, service_ms=10, workers=2, duration_s=400, warmup_s=10)
    scenario["server"].update({"power": {"idle_w": IDLE_W, "busy_w": BUSY_W}, **server})
    return simulate(validate_scenario(scenario))


def test_energy_matches_the_closed_form_and_the_service_times(tmp_path):
    result = run(tmp_path)
    server, measured_s = result.summary["servers"]["edge"], 390.0
    # offered load lambda x S per second: 0.5 worker busy on average
    expected = 2 * IDLE_W * measured_s + (BUSY_W - IDLE_W) * 50 * 0.010 * measured_s
    assert server["energy_j"] == pytest.approx(expected, rel=0.03)
    assert server["energy_kwh"] == pytest.approx(server["energy_j"] / 3.6e6)
    assert server["mean_power_w"] == pytest.approx(server["energy_j"] / measured_s)
    requests = result.requests
    done = requests[(requests["arrival_at_s"] >= 10) & (requests["status"] == "completed")]
    service = float(done["server_s"].sum())  # each request's own service time (no batching: one job each)
    assert server["dynamic_j_per_request"] * len(done) == pytest.approx((BUSY_W - IDLE_W) * service, rel=0.002)
    assert server["dynamic_j_per_request"] == pytest.approx((BUSY_W - IDLE_W) * 0.010, rel=0.03)
    assert server["j_per_request"] == pytest.approx(server["energy_j"] / len(done))


def test_a_batch_costs_one_service_time_for_all_it_holds(tmp_path):
    """Batches of up to 4 whose time grows by 20% per extra item: the busy power is paid once per batch, so
    the dynamic energy per request is the busy time per request, which the batches' sizes predict."""
    (tmp_path / "single").mkdir()
    (tmp_path / "batched").mkdir()
    single = run(tmp_path / "single")
    batched = run(tmp_path / "batched",
                  batching={"max_batch": 4, "max_wait_ms": 5, "scaling": {"kind": "linear", "per_item": 0.2}})
    requests = batched.requests
    done = requests[(requests["arrival_at_s"] >= 10) & (requests["status"] == "completed")]
    size = done["batch_size"].to_numpy()
    assert size.max() > 1
    # per request: (busy - idle) x t(b) / b with t(b) = S (1 + 0.2 (b - 1)) (exponential S, mean 10 ms)
    predicted = (BUSY_W - IDLE_W) * 0.010 * np.mean((1 + 0.2 * (size - 1)) / size)
    dynamic = batched.summary["servers"]["edge"]["dynamic_j_per_request"]
    assert dynamic == pytest.approx(predicted, rel=0.05)
    assert dynamic < 0.9 * single.summary["servers"]["edge"]["dynamic_j_per_request"]


def test_without_power_no_energy_is_reported_and_bad_power_is_refused(tmp_path):
    scenario = queue_scenario(tmp_path, rate_hz=5, service_ms=10, duration_s=20, warmup_s=1)
    assert "energy_j" not in simulate(validate_scenario(scenario)).summary["servers"]["edge"]
    scenario["server"]["power"] = {"idle_w": 100, "busy_w": 50}
    with pytest.raises(InputError, match="server.power.busy_w: expected a power >= idle_w"):
        validate_scenario(scenario)


def test_other_tenants_take_their_share_and_a_streamed_run_agrees(tmp_path):
    """With other tenants at 30% of the workers, this run's share of the energy is its own busy time (the
    request table's service times) over all busy time; a run streamed to disk reports the same numbers."""
    scenario = queue_scenario(tmp_path, rate_hz=50, service_ms=10, workers=2, duration_s=200, warmup_s=10)
    scenario["server"].update({"power": {"idle_w": IDLE_W, "busy_w": BUSY_W},
                               "background": [{"kind": "utilisation_steps", "times_s": [0], "utilisation": [0.3],
                                               "service_ms": 5}]})
    result = simulate(validate_scenario(scenario))
    server, measured_s = result.summary["servers"]["edge"], 190.0
    requests = result.requests
    done = requests[(requests["arrival_at_s"] >= 10) & (requests["status"] == "completed")]
    ours_s = float(done["server_s"].sum())
    busy_s = server["utilisation"] * 2 * measured_s
    assert server["background_utilisation"] == pytest.approx(0.3, rel=0.05)
    assert busy_s - server["background_utilisation"] * 2 * measured_s == pytest.approx(ours_s, rel=0.005)
    assert server["j_per_request"] * len(done) == pytest.approx(server["energy_j"] * ours_s / busy_s, rel=0.005)
    streamed = simulate(validate_scenario(scenario), stream=True, stream_rows=1000)
    assert streamed.summary["servers"]["edge"] == server
