"""Cells shared by moving devices (``cellular`` with ``sharing: processor_sharing``): one device alone
equals its dedicated link, equal static devices equal a constant processor-sharing link, and moving
devices handing over between cells match an independent time-stepped fluid replay."""

from __future__ import annotations

import math

import numpy as np
import pytest
import simpy
from test_mobility import drive

from simsplit import simulate
from simsplit.core.streams import RandomStreams
from simsplit.engine.setup import build_setup
from simsplit.engine.wiring import build_devices
from simsplit.model.channel.fading import (
    log_distance_path_loss_db,
    rate_from_snr,
    thermal_noise_dbm,
)
from simsplit.scenario import validate_scenario

COLUMNS = ["uplink_start_at_s", "uplink_s", "bytes_sent_up", "handovers", "latency_s", "uplink_j"]


@pytest.mark.parametrize("on_handover", ["resume", "restart"])
def test_one_device_in_shared_cells_equals_its_dedicated_link(tmp_path, on_handover):
    """A car alone (uploads never overlap: periodic 1 Hz) sends exactly as over its own link, through the
    handover's interruption, resumed or restarted."""
    runs = {}
    for sharing in ("dedicated", "processor_sharing"):
        scenario = drive(tmp_path, sharing=sharing, on_handover=on_handover, interruption_ms=200.0)
        scenario["devices"][0]["arrivals"]["rate_hz"] = 1.0
        runs[sharing] = simulate(validate_scenario(scenario)).requests
    alone, shared = runs["dedicated"], runs["processor_sharing"]
    assert (alone["uplink_wait_s"] == 0).all()
    assert alone["handovers"].sum() == 1  # one upload spans the handover
    for column in COLUMNS:
        np.testing.assert_allclose(shared[column], alone[column], rtol=1e-9, atol=1e-12, err_msg=column)


def test_equal_static_devices_share_a_cell_as_a_constant_processor_sharing_link(tmp_path):
    """Five parked cars 400 m from the one cell, no fading: each one's rate is the Shannon rate at 400 m, so
    the cell is a processor-sharing link of that constant rate, request for request."""
    snr = 23.0 - log_distance_path_loss_db(400.0, 15.3, 3.76) - thermal_noise_dbm(10e6, 9.0)
    rate_mbps = rate_from_snr(snr, 10e6, "shannon", 0.75) / 1e6
    cells = [{"name": "only", "x_m": 400.0, "y_m": 0.0}]
    runs = {}
    for kind in ("cellular", "constant"):
        scenario = drive(tmp_path, cells=cells, mobility={"kind": "static", "x_m": 0.0, "y_m": 0.0},
                         sharing="processor_sharing", duration_s=60.0)
        scenario["devices"][0].update(count=5, arrivals={"kind": "poisson", "rate_hz": 5.0})
        if kind == "constant":
            scenario["network"]["uplink"] = {"kind": "constant", "rate_mbps": rate_mbps,
                                             "sharing": "processor_sharing"}
        runs[kind] = simulate(validate_scenario(scenario)).requests
    cellular, constant = runs["cellular"], runs["constant"]
    assert len(cellular) == len(constant) > 1000
    overlapped = cellular["uplink_s"] > 160_000 / (rate_mbps * 1e6) * (1 + 1e-6)
    assert overlapped.mean() > 0.2  # the cell is shared often
    for column in ("uplink_start_at_s", "uplink_s", "latency_s"):
        np.testing.assert_allclose(cellular[column], constant[column], rtol=1e-9, atol=1e-12, err_msg=column)


def fluid_replay(channels, flows, restart: bool, step_s: float) -> np.ndarray:
    """End (s) of each flow ``(device, start_s, bits)``, replayed step by step between the channels' segment
    boundaries (every rate and serving cell is constant within a step, read at its midpoint: ``step_s`` apart,
    but for a block cut short where a handover falls due and the interruption that follows). Within a step
    time runs from one arrival or departure to the next; meanwhile a flow whose device's serving cell is
    c >= 0 sends at rate / n_c, n_c the flows in flight served by c. With ``restart``, a flow whose device
    leaves its cell starts again from its first bit."""
    until = max(start for _, start, _ in flows) + 30.0
    grids = []
    for channel in channels:
        starts, rates = channel.segments(until)
        grids.append((np.asarray(starts), np.asarray(rates), np.asarray(channel.serving[:len(rates)])))
    bounds = np.unique(np.concatenate([grid[0] for grid in grids] + [np.arange(0.0, until, step_s)]))
    order = sorted(range(len(flows)), key=lambda i: flows[i][1])
    ends = np.full(len(flows), math.nan)
    remaining, cell_of, active = {}, {}, []
    step, next_flow = 0, 0
    while next_flow < len(order) or active:
        if not active:  # jump to the step holding the next arrival
            step = max(step, int(np.searchsorted(bounds, flows[order[next_flow]][1], side="right")) - 1)
        t, t_end = bounds[step], bounds[step + 1]
        state = {}

        def state_of(i, t=t, t_end=t_end):
            starts, rates, serving = grids[flows[i][0]]
            k = int(np.searchsorted(starts, (t + t_end) / 2, side="right")) - 1
            return rates[k], int(serving[k])
        for i in active:
            state[i] = state_of(i)
            if restart and cell_of[i] is not None and cell_of[i] >= 0 and state[i][1] != cell_of[i]:
                remaining[i] = flows[i][2]
            cell_of[i] = state[i][1]
        now = t
        while True:
            while next_flow < len(order) and flows[order[next_flow]][1] <= now:
                i = order[next_flow]
                active.append(i)
                remaining[i] = flows[i][2]
                state[i] = state_of(i)
                cell_of[i] = state[i][1]
                next_flow += 1
            arrival = flows[order[next_flow]][1] if next_flow < len(order) else math.inf
            counts = {}
            for i in active:
                counts[cell_of[i]] = counts.get(cell_of[i], 0) + 1
            speed = {i: state[i][0] / counts[cell_of[i]] if cell_of[i] >= 0 else 0.0 for i in active}
            finishes = {i: now + remaining[i] / speed[i] for i in active if speed[i] > 0}
            finish = min(finishes.values(), default=math.inf)
            until_s = min(arrival, t_end, finish)
            for i in active:
                remaining[i] -= speed[i] * (until_s - now)
            now = until_s
            if finish == now:
                for i in [i for i, end in finishes.items() if end == finish]:
                    ends[i] = now
                    active.remove(i)
            if now >= t_end:
                break
        step += 1
    return ends


@pytest.mark.parametrize("on_handover", ["resume", "restart"])
def test_moving_devices_sharing_cells_match_a_fluid_replay(tmp_path, on_handover):
    """Four cars shuttle at 60 m/s past two cells 600 m apart (Rayleigh fading, handovers with a 30 ms
    interruption), sending 20 kB at 8 Hz each: every upload's end, replayed by a separate fluid model that
    steps through the 10 ms sampling grid from the same capacity paths, agrees within 1 us."""
    scenario = drive(tmp_path, cells=[{"name": "west", "x_m": 0, "y_m": 50}, {"name": "east", "x_m": 600, "y_m": 50}],
                     mobility={"kind": "route", "waypoints_m": [[0, 0], [600, 0]], "speed_mps": [60],
                               "end": "reverse", "start_gap_s": 3},
                     hysteresis_db=1.0, ttt_ms=40.0, interruption_ms=30.0, duration_s=40.0, fading="rayleigh",
                     sharing="processor_sharing", on_handover=on_handover, tx_power_dbm=5.0)
    scenario["devices"][0].update(count=4, arrivals={"kind": "poisson", "rate_hz": 8.0})
    scenario = validate_scenario(scenario)
    r = simulate(scenario).requests
    r = r[np.isfinite(r["uplink_start_at_s"])]  # uploads that started (all, unless a run ends in a head)
    devices, _ = build_devices(simpy.Environment(), build_setup(scenario), RandomStreams(scenario.seed))
    channels = [device.uplink.channel for device in devices]
    flows = list(zip(r["device"], r["uplink_start_at_s"], 8.0 * r["bytes_up"], strict=True))
    ends = fluid_replay(channels, flows, on_handover == "restart", step_s=0.01)
    simulated = (r["uplink_start_at_s"] + r["uplink_s"]).to_numpy()
    in_flight = np.isnan(simulated)  # still sending when the run ended
    assert (ends[in_flight] >= scenario.duration_s).all()
    np.testing.assert_allclose(simulated[~in_flight], ends[~in_flight], rtol=0, atol=1e-6)
    # the replay could tell: sharing and handovers change the uploads' durations by far more than that
    alone = np.array([channels[d].finish_time(s, b) if on_handover == "resume" else
                      type(channels[d]).__mro__[1].finish_time(channels[d], s, b)
                      for d, s, b in flows]) - r["uplink_start_at_s"]
    assert np.sum(r["uplink_s"] - alone > 5e-3) > 50
    assert r["handovers"].sum() >= 5
    if on_handover == "restart":
        assert (r["bytes_sent_up"] > r["bytes_up"]).sum() >= 5
