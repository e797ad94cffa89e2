"""Cells that name their edge servers: a request is served behind the cell that carried its upload, and a
result whose device has moved to another server's cell is forwarded over the backhaul first."""

from __future__ import annotations

import numpy as np
import pytest
import simpy
from conftest import assert_validate_refuses, write_model
from test_mobility import drive

from simsplit import simulate
from simsplit.core.streams import RandomStreams
from simsplit.engine.eligibility import why_not
from simsplit.engine.setup import build_setup
from simsplit.engine.wiring import build_devices
from simsplit.scenario import validate_scenario


def routed(folder, **uplink):
    """The car of tests/test_mobility.py driving from the west cell to the east one at 10 Hz, each cell
    with its own edge server (400 ms tails, so results are often ready after the handover), the east one
    farther (20 ms extra round trip)."""
    scenario = drive(folder, cells=[{"name": "west", "x_m": -100, "y_m": 0, "server": "edge-west"},
                                    {"name": "east", "x_m": 2100, "y_m": 0, "server": "edge-east"}],
                     forward_ms=30.0, **uplink)
    profile, payloads = write_model(folder, tail_ms=400.0, split_bytes=20_000.0)
    scenario["model"] = {"profile": profile, "payloads": payloads}
    scenario["devices"][0]["arrivals"] = {"kind": "periodic", "rate_hz": 10.0, "phase_s": 0.0}
    scenario["warmup_s"] = 5.0
    scenario.pop("server")
    scenario["servers"] = [{"name": "edge-west", "server_class": "gpu", "workers": 8},
                           {"name": "edge-east", "server_class": "gpu", "workers": 8, "extra_rtt_ms": 20.0}]
    scenario["strategy"] = {"kind": "full_offload", "server": "edge-west"}
    return scenario


def test_requests_are_served_behind_the_cell_that_carried_them_and_results_follow_the_car(tmp_path):
    scenario = validate_scenario(routed(tmp_path))
    result = simulate(scenario)
    r = result.requests
    devices, _ = build_devices(simpy.Environment(), build_setup(scenario), RandomStreams(scenario.seed))
    channel = devices[0].uplink.channel
    channel.rate_bps_at(99.0)
    (handover,) = channel.handovers
    back = handover + 0.05  # the 50 ms interruption
    done = r[r["status"] == "completed"]
    upload_end = done["uplink_start_at_s"] + done["uplink_s"]
    assert not ((upload_end > handover) & (upload_end < back)).any()  # no bit leaves during the interruption
    east = upload_end >= back
    assert east.sum() > 100 and (~east).sum() > 100
    assert (done["server"] == np.where(east, "edge-east", "edge-west")).all()
    # served east: 20 ms more round trip; a result ready at the west server after the handover is
    # forwarded (30 ms) to the east one before its download
    forwarded = ~east & (done["service_end_at_s"] > handover)
    assert 2 <= forwarded.sum() <= 10
    base = np.where(east, 0.020, 0.0)
    np.testing.assert_allclose(done["propagation_s"], base + np.where(forwarded, 0.030, 0.0), atol=1e-12)
    ready = done["service_end_at_s"] + np.where(forwarded, 0.030, 0.0)
    np.testing.assert_allclose(done["downlink_start_at_s"], ready, atol=1e-12)
    parts = ["device_wait_s", "head_s", "promotion_s", "uplink_wait_s", "uplink_s", "server_wait_s", "server_s",
             "downlink_wait_s", "downlink_s", "propagation_s"]
    np.testing.assert_allclose(done[parts].fillna(0.0).sum(axis=1), done["latency_s"], rtol=1e-9)
    measured = forwarded & (done["arrival_at_s"] >= 5.0)
    assert result.summary["forwarded_results"] == measured.sum()
    assert any("cells name their edge servers" in reason for reason in why_not(build_setup(scenario)))


def test_without_server_names_every_cell_reaches_the_strategys_server(tmp_path):
    scenario = routed(tmp_path)
    for cell in scenario["network"]["uplink"]["cells"]:
        cell.pop("server")
    result = simulate(validate_scenario(scenario))
    assert (result.requests["server"] == "edge-west").all() and "forwarded_results" not in result.summary


@pytest.mark.parametrize("change, where", [
    (lambda s: s["network"]["uplink"]["cells"][1].pop("server"), "network.uplink.cells"),
    (lambda s: s["network"]["uplink"]["cells"][0].update(server="edge-north"), "network.uplink.cells.0.server"),
    (lambda s: s["network"]["uplink"].update(forward_ms=-1), "network.uplink.forward_ms"),
    (lambda s: s["network"]["uplink"].update(forward_ms=float("inf")), "network.uplink.forward_ms"),
])
def test_bad_cell_routes_exit_2_naming_the_field(tmp_path, change, where):
    scenario = routed(tmp_path)
    change(scenario)
    assert_validate_refuses(tmp_path, scenario, where)


def test_sites_add_up_their_forwarded_results(tmp_path):
    from simsplit.studies.sites import run_sites, site_scenario
    raw = routed(tmp_path)
    raw["sites"] = {"count": 2}
    raw["records"] = "none"
    scenario = validate_scenario(raw)
    merged = run_sites(scenario, workers=1)
    each = [simulate(site_scenario(scenario, k)).summary["forwarded_results"] for k in range(2)]
    assert merged["forwarded_results"] == sum(each) > 0
