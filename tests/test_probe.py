"""The server load probe: what it reads, how stale it is when a device decides, what it costs."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import queue_scenario
from test_engine import one_device

from simsplit import simulate
from simsplit.scenario import validate_scenario


def probed(tmp_path, period_s=0.5, **link):
    scenario = queue_scenario(tmp_path, rate_hz=80.0, service_ms=10.0, duration_s=200, warmup_s=10)
    for direction in ("uplink", "downlink"):
        scenario["network"][direction] = {"kind": "constant", "rate_mbps": 1.0, "delay_ms": 5, **link}
    scenario["devices"][0]["probe"] = {"period_s": period_s, "bytes_up": 100, "bytes_down": 100}
    return simulate(validate_scenario(scenario))


def test_probe_reads_the_true_queue_length(tmp_path):
    result = probed(tmp_path)
    r, probes = result.requests, result.probes
    arrived = np.sort(r["server_arrival_at_s"].dropna().to_numpy())
    started = np.sort(r["service_start_at_s"].dropna().to_numpy())
    read = probes.dropna(subset=["read_at_s"])
    for t, length in zip(read["read_at_s"], read["queue_length"], strict=True):
        # a request held behind the probe on the FIFO uplink reaches the server at the same instant: events at
        # one instant may run in either order, so the count lies between the two readings
        fewest = np.searchsorted(arrived, t, side="left") - np.searchsorted(started, t, side="right")
        most = np.searchsorted(arrived, t, side="right") - np.searchsorted(started, t, side="left")
        assert fewest <= length <= most
    assert read["queue_length"].mean() > 1  # a loaded server (rho = 0.8)


def test_probe_age_lags_the_truth_by_its_period(tmp_path):
    period = 0.5
    result = probed(tmp_path, period_s=period)
    probes = result.probes.dropna(subset=["received_at_s"])
    back_s = float((probes["received_at_s"] - probes["read_at_s"]).mean())  # answer's way back: 100 B at 1 Mbps + 5 ms
    assert back_s == pytest.approx(0.0058, abs=1e-4)
    ages = result.requests["probe_age_s"].dropna()
    assert ages.min() >= back_s - 1e-9
    assert ages.max() <= period + back_s + 1e-3
    assert ages.mean() == pytest.approx(period / 2 + back_s, rel=0.05)  # decisions fall uniformly between probes


def test_probe_costs_link_time_and_radio_energy(tmp_path):
    result = probed(tmp_path)
    probes = result.probes
    first = probes.iloc[0]
    # LTE: alpha_up 438.39 mW/Mbps, beta 1288.04 mW; 800 bits at 1 Mbps take 0.8 ms
    assert first["uplink_s"] == pytest.approx(0.0008)
    assert first["uplink_j"] == pytest.approx(0.43839e-6 * 800 + 1.28804 * 0.0008)
    s = result.summary
    assert s["probes"]["sent"] == int((probes["sent_at_s"] >= 10).sum())
    assert s["energy_j"]["probe"] == pytest.approx(s["probes"]["energy_j"] / s["completed"])
    # probes share the device's dedicated FIFO uplink with its requests: some requests wait behind one
    assert (result.requests["uplink_wait_s"] > 0).any()


def test_frequent_probes_keep_the_radio_connected(tmp_path):
    scenario = one_device(tmp_path, arrivals={"kind": "periodic", "rate_hz": 1 / 20, "phase_s": 1.0}, duration_s=100)
    scenario["network"]["radio"] = {"technology": "lte", "state_machine": True}
    scenario["devices"][0]["probe"] = {"period_s": 5.0}
    result = simulate(validate_scenario(scenario))
    assert result.requests["promotion_s"].iloc[1:].eq(0).all()  # the probes' traffic keeps the tail alive
    assert result.probes["tail_j"].sum() > 0


def test_probe_log_rows_equal_the_records_in_the_order_sent():
    """Probes become rows as their answers come back (out of order, in small blocks here); those still out
    stay objects. The columns equal those of every record, in the order sent."""
    from simsplit.engine.records import ProbeLog, ProbeRecord, probe_columns
    rng = np.random.default_rng(5)
    log, records = ProbeLog(block_rows=3), []
    for index in range(20):
        probe = ProbeRecord(int(rng.integers(0, 4)), int(rng.integers(0, 2)), float(index), 800.0, 400.0, index)
        log.open(probe)
        records.append(probe)
    for index in rng.permutation(20)[:14]:  # six stay out
        probe = records[index]
        probe.read_at_s, probe.queue_length, probe.busy_workers = index + 0.5, int(index) % 3, 1
        probe.received_at_s, probe.uplink_s, probe.downlink_s = index + 0.9, 0.01, 0.02
        log.close(probe)
    assert log.sent == 20
    got, expected = log.columns(), probe_columns(records)
    assert list(got) == list(expected)
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)
        assert got[name].dtype == expected[name].dtype
