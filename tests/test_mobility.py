"""Mobility models against closed forms, and the cellular link's handovers against a hand-computed crossing."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, assert_validate_refuses, write_model
from typer.testing import CliRunner

from simsplit import simulate
from simsplit.cli import app
from simsplit.engine.setup import build_setup
from simsplit.model.channel.fading import (
    log_distance_path_loss_db,
    rate_from_snr,
    thermal_noise_dbm,
)
from simsplit.model.mobility import RandomWaypointConfig, RouteConfig, TraceMobilityConfig
from simsplit.scenario import validate_scenario

runner = CliRunner()


def test_random_waypoint_stationary_speed_and_position_laws():
    """Time averages over a long path: the stationary speed has mean (v1 - v0) / ln(v1 / v0) (the time a
    leg lasts is inversely proportional to its speed), and on a segment of length a the stationary position
    density is 6 x (a - x) / a^3, so the middle half holds 11/16 of the time (Bettstetter et al. 2004)."""
    line = RandomWaypointConfig(kind="random_waypoint", width_m=1000.0, height_m=1e-6, speed_mps=[1.0, 20.0])
    path = line.trajectory(np.random.default_rng(1), 0)
    times = np.arange(0.0, 2e6, 5.0)
    x = np.array([path.position(t)[0] for t in times])
    speed = np.array([path.speed(t) for t in times])
    assert speed.mean() == pytest.approx(19.0 / math.log(20.0), rel=0.01)
    assert np.mean(np.abs(x - 500.0) < 250.0) == pytest.approx(11 / 16, abs=0.01)
    assert x.min() >= 0 and x.max() <= 1000


def test_random_waypoint_pauses_take_their_share_of_time():
    """With pauses U(p0, p1), the fraction of time paused is E[P] / (E[P] + E[L] E[1/V]), E[L] the mean
    distance between two uniform points of a square (0.5214 a) and E[1/V] = ln(v1/v0) / (v1 - v0)."""
    square = RandomWaypointConfig(kind="random_waypoint", width_m=500.0, height_m=500.0, speed_mps=[2.0, 10.0],
                                  pause_s=[10.0, 50.0])
    path = square.trajectory(np.random.default_rng(7), 0)
    times = np.arange(0.0, 3e6, 7.0)
    paused = np.mean([path.speed(t) == 0.0 for t in times])
    leg_s = 0.521405433 * 500.0 * math.log(5.0) / 8.0
    assert paused == pytest.approx(30.0 / (30.0 + leg_s), abs=0.01)


def test_route_positions_by_hand():
    route = RouteConfig(kind="route", waypoints_m=[[0, 0], [100, 0], [100, 50]], speed_mps=[10, 5], end="reverse",
                        start_gap_s=3.0)
    first, second = route.trajectory(None, 0), route.trajectory(None, 1)
    assert first.position(5.0) == (50.0, 0.0)
    assert first.position(14.0) == (100.0, 20.0)  # 10 s on the first leg, then 4 s at 5 m/s
    assert first.position(20.0) == (100.0, 50.0)
    assert first.position(25.0) == (100.0, 25.0)  # reversed: back down the second leg
    assert second.position(2.0) == (0.0, 0.0) and second.position(8.0) == (50.0, 0.0)  # starts 3 s later
    stop = RouteConfig(kind="route", waypoints_m=[[0, 0], [10, 0]], speed_mps=[1], end="stop").trajectory(None, 0)
    assert stop.position(1e6) == (10.0, 0.0) and stop.speed(1e6) == 0.0
    loop = RouteConfig(kind="route", waypoints_m=[[0, 0], [10, 0]], speed_mps=[1], end="loop").trajectory(None, 0)
    assert loop.position(15.0) == (5.0, 0.0)


def test_position_trace_interpolates_and_holds(tmp_path):
    file = tmp_path / "positions.csv"
    file.write_text("# exported\ntime_s,device,x_m,y_m\n2,0,0,0\n4,0,10,20\n0,1,5,5\n")
    path = TraceMobilityConfig(kind="trace", file=str(file)).trajectory(None, 0)
    assert path.position(0.0) == (0.0, 0.0) and path.position(3.0) == (5.0, 10.0) and path.position(9.0) == (10.0, 20.0)
    assert TraceMobilityConfig(kind="trace", file=str(file)).trajectory(None, 1).position(7.0) == (5.0, 5.0)


def drive(folder: Path, *, hysteresis_db=3.0, ttt_ms=160.0, interruption_ms=50.0, duration_s=100.0, cells=None,
          mobility=None, strategy=None, **uplink):
    profile, payloads = write_model(folder, tail_ms=2.0, split_bytes=20_000.0)
    return {
        "name": "drive", "seed": 2, "duration_s": duration_s,
        "model": {"profile": profile, "payloads": payloads},
        "devices": [{"name": "car", "device_class": "phone", "compute_power_w": 1.0,
                     "arrivals": {"kind": "periodic", "rate_hz": 2.0, "phase_s": 0.0},
                     "mobility": mobility or {"kind": "route", "waypoints_m": [[0, 0], [2000, 0]], "speed_mps": [20]}}],
        "network": {"uplink": {"kind": "cellular", "fading": "none", "coherence_s": 0.01, "mapping": "shannon",
                               "cells": cells or [{"name": "west", "x_m": -100, "y_m": 0},
                                                  {"name": "east", "x_m": 2100, "y_m": 0}],
                               "hysteresis_db": hysteresis_db, "time_to_trigger_ms": ttt_ms,
                               "interruption_ms": interruption_ms, **uplink},
                    "downlink": {"kind": "constant", "rate_mbps": 50}, "radio": {"technology": "lte"}},
        "server": {"server_class": "gpu", "workers": 4}, "strategy": strategy or {"kind": "full_offload"}}


def test_a_car_crossing_the_cell_edge_hands_over_at_the_computed_time(tmp_path):
    """West cell at x = -100 m, east at 2100 m, the car at 20 m/s from x = 0: the east cell is 3 dB stronger
    once (x + 100) / (2100 - x) > 10^(3 / 37.6); the handover follows one time-to-trigger later (160 ms),
    at that exact instant (the entry is found between two 10 ms samples, the block that holds the due instant
    ends there)."""
    scenario = validate_scenario(drive(tmp_path))
    import simpy

    from simsplit.core.streams import RandomStreams
    from simsplit.engine.wiring import build_devices
    devices, _ = build_devices(simpy.Environment(), build_setup(scenario), RandomStreams(2))
    channel = devices[0].uplink.channel
    channel.rate_bps_at(99.0)
    k = 10 ** (3.0 / 37.6)
    entry = (k * 2100 - 100) / (1 + k) / 20.0
    assert len(channel.handovers) == 1
    assert channel.handovers[0] == pytest.approx(entry + 0.16, abs=1e-9)
    assert channel.serving_at(channel.handovers[0] - 0.001) == 0
    assert channel.serving_at(channel.handovers[0] + 0.06) == 1
    assert channel.serving_at(channel.handovers[0] + 0.01) == -1  # the interruption
    # the capacity is the serving cell's Shannon rate at the car's distance
    starts, rates = channel.segments(30.0)
    k = int(np.searchsorted(starts, 30.0, side="right")) - 1  # the 10 ms sample holding 30 s
    x = 20.0 * starts[k]
    snr = 23.0 - log_distance_path_loss_db(x + 100.0, 15.3, 3.76) - thermal_noise_dbm(10e6, 9.0)
    assert rates[k] == pytest.approx(rate_from_snr(snr, 10e6, "shannon", 0.75), rel=1e-12)
    result = simulate(scenario)
    r = result.requests
    crossing = r[(r["uplink_start_at_s"] <= channel.handovers[0]) &
                 (r["uplink_start_at_s"] + r["uplink_s"] > channel.handovers[0])]
    assert (crossing["handovers"] == 1).all() and len(crossing) <= 1
    assert r["handovers"].sum() == len(crossing) == result.summary["handovers_during_transfers"]
    assert result.summary["handovers"] == result.summary["groups"]["car"]["handovers"] == 1
    if len(crossing):
        assert crossing["uplink_s"].iloc[0] >= 0.05  # it waited through the interruption


def test_a_transfer_cut_by_a_handover_restarts_or_resumes(tmp_path):
    """Large payloads (20 kB) so that an upload spans the handover: resumed, it ends where the capacity
    integral from its start reaches its bits (waiting through the interruption); restarted, it sends again
    from the handover, and what it sent before counts as sent (more bits, more energy)."""
    import simpy

    from simsplit.core.streams import RandomStreams
    from simsplit.engine.wiring import build_devices
    results = {}
    for mode in ("resume", "restart"):
        scenario = validate_scenario(drive(tmp_path, on_handover=mode, interruption_ms=200.0))
        devices, _ = build_devices(simpy.Environment(), build_setup(scenario), RandomStreams(2))
        channel = devices[0].uplink.channel
        channel.rate_bps_at(99.0)
        handover = channel.handovers[0]
        r = simulate(scenario).requests
        cut = r[(r["uplink_start_at_s"] < handover) & (r["uplink_start_at_s"] + r["uplink_s"] > handover)]
        assert len(cut) == 1
        results[mode] = (cut.iloc[0], channel, handover)
    resumed, channel, handover = results["resume"]
    restarted = results["restart"][0]
    start, bits = resumed["uplink_start_at_s"], 8 * resumed["bytes_up"]
    assert start == restarted["uplink_start_at_s"]
    assert start + resumed["uplink_s"] == channel.finish_time(start, bits)
    assert resumed["bytes_sent_up"] == resumed["bytes_up"]
    resent = channel.bits_between(start, handover)
    assert 0 < resent < bits
    assert restarted["bytes_sent_up"] * 8 == pytest.approx(bits + resent, rel=1e-12)
    restart_channel = results["restart"][1]
    assert start + restarted["uplink_s"] == restart_channel.finish_time(handover, bits)
    assert restarted["uplink_s"] > resumed["uplink_s"] and restarted["uplink_j"] > resumed["uplink_j"]


def test_hysteresis_and_time_to_trigger_prevent_ping_pong(tmp_path):
    """A car parked at the midpoint sees two equal cells: no handover, whatever the fading; without
    hysteresis and trigger time, fading makes it flap."""
    parked = {"kind": "static", "x_m": 1000.0, "y_m": 0.0}
    calm = simulate(validate_scenario(drive(tmp_path, mobility=parked, fading="rayleigh", duration_s=20)))
    assert calm.summary["handovers"] == 0
    nervous = drive(tmp_path, mobility=parked, fading="rayleigh", duration_s=20, hysteresis_db=0.0, ttt_ms=0.0)
    import simpy

    from simsplit.core.streams import RandomStreams
    from simsplit.engine.wiring import build_devices
    devices, _ = build_devices(simpy.Environment(), build_setup(validate_scenario(nervous)), RandomStreams(2))
    devices[0].uplink.channel.rate_bps_at(19.0)
    assert len(devices[0].uplink.channel.handovers) == 0  # mean SNRs equal: A3 needs strictly more


@pytest.mark.parametrize("change, where", [
    (lambda s: s["devices"][0].pop("mobility"), "devices.0.mobility"),
    (lambda s: s["network"]["uplink"].update(sharing="fifo"), "network.uplink.sharing"),
    (lambda s: s["network"]["uplink"]["cells"].append({"name": "west", "x_m": 0, "y_m": 0}), "network.uplink.cells"),
    (lambda s: s["devices"][0].update(mobility={"kind": "random_waypoint", "width_m": 10, "height_m": 10,
                                                "speed_mps": [5, 1]}), "devices.0.mobility.speed_mps"),
    (lambda s: s["devices"][0].update(mobility={"kind": "route", "waypoints_m": [[0, 0], [1, 1, 1]],
                                                "speed_mps": [1]}), "devices.0.mobility.waypoints_m"),
    (lambda s: s["devices"][0].update(mobility={"kind": "teleport"}), "devices.0.mobility.kind"),
    (lambda s: s["network"]["uplink"].update(time_to_trigger_ms=float("nan")), "network.uplink.time_to_trigger_ms"),
])
def test_bad_mobility_and_cells_exit_2_naming_the_field(tmp_path, change, where):
    scenario = drive(tmp_path)
    change(scenario)
    assert_validate_refuses(tmp_path, scenario, where)


def test_a_bad_position_trace_exits_2(tmp_path):
    import yaml
    positions = tmp_path / "positions.csv"
    positions.write_text("time_s,device,x_m,y_m\n0,0,0,0\n0,0,1,1\n")
    scenario = drive(tmp_path, mobility={"kind": "trace", "file": str(positions)})
    file = tmp_path / "drive.yaml"
    file.write_text(yaml.safe_dump(scenario))
    result = runner.invoke(app, ["validate", str(file)])
    assert result.exit_code == 2 and "strictly increasing" in result.output, result.output


@pytest.mark.slow
def test_dynamic_partitioning_beats_every_fixed_split_across_cell_edges():
    """drive-through-cells (three cars, one pass each way): over five seeds the dynamic strategy's mean
    latency interval lies below every fixed split's (local, full offload, each residual block,
    Neurosurgeon's choice), paying for it in switches."""
    from simsplit.scenario import load_scenario
    from simsplit.studies.compare import compare, is_static, variants
    scenario = load_scenario(Path(__file__).resolve().parents[1] / "scenarios" / "drive-through-cells.yaml",
                             ["duration_s=165", "devices.0.count=3"])
    names = [name for name, block in variants(scenario).items() if is_static(block) or name in ("dynamic",
                                                                                                "neurosurgeon")]
    runs, table, _ = compare(scenario, seeds=[1, 2, 3, 4, 5], names=names)
    table = table.set_index("strategy")
    dynamic_high = table.loc["dynamic", "latency_mean_s_ci95"][1]
    for name in names:
        if name != "dynamic":
            assert dynamic_high < table.loc[name, "latency_mean_s_ci95"][0], name
    assert runs.loc[runs["strategy"] == "dynamic", "switches"].min() > 10


def test_a_moving_device_observes_its_own_cell_and_handovers(tmp_path):
    """At its last decision the car knows the serving cell and how many handovers came before."""
    from simsplit.engine.des import Engine
    scenario = validate_scenario(drive(tmp_path, strategy={"kind": "dynamic", "forget_on_handover": True}))
    engine = Engine(build_setup(scenario), scenario.seed)
    result = engine.run()
    car = engine.devices[0]
    last = float(result.columns["arrival_at_s"].max())
    (handover,) = car.uplink.channel.handovers
    assert handover < last and car.observation.handovers == 1
    assert car.observation.serving_cell == car.uplink.channel.serving_at(last) == 1  # east


def test_forget_on_handover_starts_the_estimate_over_at_the_next_sample():
    """EWMA (alpha 0.1) fed 1 Mbps uploads, then a handover: the estimate stays 1 Mbps until the first
    sample from the new cell, which then is the whole estimate (without forgetting: 10% of it)."""
    from simsplit.model.strategies.base import Observation
    from simsplit.model.strategies.dynamic import DynamicConfig, DynamicStrategy
    from simsplit.model.strategies.predict import DeviceModel
    estimates = {}
    for forget in (False, True):
        config = DynamicConfig(kind="dynamic", forget_on_handover=forget,
                               estimator={"kind": "ewma", "alpha": 0.1})
        strategy = DynamicStrategy([], DeviceModel(1.0, 0.0, 0.0, 0.0, 0.0, 0.0, (), (), None), config, None, "d")
        seen = Observation(0)
        for _ in range(5):
            seen.uplink_samples_bps.append(1e6)
            seen.uploads += 1
        assert strategy._estimates(seen)[0] == 1e6
        seen.handovers = 1
        assert strategy._estimates(seen)[0] == 1e6
        seen.uplink_samples_bps.append(11e6)
        seen.uploads += 1
        estimates[forget] = strategy._estimates(seen)[0]
    assert estimates == {False: pytest.approx(2e6), True: 11e6}


def test_the_time_series_shows_distance_snr_and_the_serving_cell_by_name(tmp_path):
    from simsplit.figures.folder_figures import timeseries_of
    scenario = validate_scenario(drive(tmp_path))
    result = simulate(scenario, monitor_period_s=0.5)
    series = result.timeseries
    assert {"distance_m", "snr_db", "serving_cell"} <= set(series.columns)
    assert set(series["serving_cell"]) <= {-1, 0, 1} and {0, 1} <= set(series["serving_cell"])
    fig = timeseries_of(scenario, result.setup.profile.local_split, series, result.requests, "drive")
    labels = {ax.get_ylabel(): ax for ax in fig.axes}
    assert "device 0\ndistance (m)" in labels and "SNR (dB)" in labels
    cell = labels["serving cell"]
    assert [t.get_text() for t in cell.get_yticklabels()] == ["handover", "west", "east"]


def test_a_device_out_of_coverage_finishes_with_nothing_completed():
    """One cell 20 km away: no upload ever finishes. The run ends (its random path is drawn no further than the
    horizon, and a link busy for ever is not drawn to infinity), every request still in flight."""
    import time

    from simsplit.scenario import load_scenario
    from simsplit.studies.simulation import simulate
    scenario = load_scenario(REPO / "scenarios" / "drive-through-cells.yaml",
                             ['network.uplink.cells=[{"name": "far", "x_m": 20000, "y_m": 0}]', "duration_s=20"])
    started = time.perf_counter()
    result = simulate(scenario)
    assert time.perf_counter() - started < 30
    assert result.summary["completed"] == 0 and result.summary["in_flight"] == result.summary["generated"] > 0
