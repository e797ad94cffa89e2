"""The online tail meter gives out, transfer by transfer, exactly the tails the post-run computation
(radio_tails over every transfer interval of a device) charges."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import REPO

from simsplit.engine.des import Engine
from simsplit.engine.setup import build_setup
from simsplit.model.energy import TailMeter, radio_tails
from simsplit.scenario import load_scenario

SCENARIOS = sorted((REPO / "scenarios").glob("*.yaml"))


def tail_energy(setup, output) -> tuple[np.ndarray, np.ndarray]:
    """The reference: tail energy (J) per request and per probe after the run, each group's radio tail
    stages over the gaps between its devices' transfers (requests' and probes' together)."""
    c, p = output.columns, output.probes
    request_group = output.device_group[c["device"]]
    probe_group = output.device_group[p["device"]]
    tails = np.zeros(c["device"].size + p["device"].size)
    for g, group_setup in enumerate(setup.groups):
        radio = group_setup.network.radio
        if not radio.tail_stages_s:
            continue
        rows = np.flatnonzero(request_group == g)
        probe_rows = np.flatnonzero(probe_group == g)
        owners = np.concatenate([rows, rows, c["device"].size + probe_rows, c["device"].size + probe_rows])
        devices = np.concatenate([c["device"][rows]] * 2 + [p["device"][probe_rows]] * 2)
        starts = np.concatenate([c["uplink_start_at_s"][rows], c["downlink_start_at_s"][rows],
                                 p["uplink_start_at_s"][probe_rows], p["downlink_start_at_s"][probe_rows]])
        durations = np.concatenate([c["uplink_s"][rows], c["downlink_s"][rows],
                                    p["uplink_s"][probe_rows], p["downlink_s"][probe_rows]])
        sent = ~np.isnan(starts)
        per_transfer = radio_tails(devices[sent], starts[sent], starts[sent] + durations[sent],
                                   radio.tail_stages_s, radio.tail_stages_w)
        np.add.at(tails, owners[sent], per_transfer)
    return tails[:c["device"].size], tails[c["device"].size:]




@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
@pytest.mark.parametrize("technology", ["lte", "3g"])
def test_engine_tails_equal_the_post_run_computation(path, technology):
    overrides = ["duration_s=40", "warmup_s=0", f"network.radio.technology={technology}",
                 "network.radio.state_machine=true"]
    scenario = load_scenario(path, overrides)
    setup = build_setup(scenario)
    output = Engine(setup, 3).run()
    requests, probes = tail_energy(setup, output)
    assert np.array_equal(output.columns["tail_j"], requests)
    assert np.array_equal(output.probes["tail_j"], probes)
    if any(g.network.radio.tail_stages_s for g in setup.groups):
        assert requests.sum() > 0


def test_meter_resolves_early_what_is_final_and_matches_with_ties():
    """Random transfers (many equal starts, overlaps, an endless one) fed in random order and resolved at
    random safe times: the same tails as radio_tails, and none given out before it is final."""
    rng = np.random.default_rng(5)
    stages_s, stages_w = (0.5, 2.0), (1.2, 0.4)
    n = 400
    device = rng.integers(0, 4, n)
    start = np.round(rng.uniform(0, 60, n), 1)  # coarse: many ties
    end = start + np.round(rng.exponential(0.3, n), 1)
    end[7] = np.inf
    expected = radio_tails(device, start, end, stages_s, stages_w)
    meter = TailMeter(stages_s, stages_w)
    got = np.full(n, np.nan)
    order = np.argsort(start + rng.uniform(0, 0.05, n))  # known a little out of order, never after its start
    known = 0
    for now in np.arange(0.0, 61.0, 0.7):
        while known < n and start[order[known]] < now + 0.05 and start[order[known]] <= now:
            i = order[known]
            meter.add(int(device[i]), float(start[i]), float(end[i]), (i,), int(i))
            known += 1
        earliest_unknown = min((start[order[k]] for k in range(known, n)), default=np.inf)
        for d in meter.devices():
            for owner, tail in meter.resolve(d, min(now, earliest_unknown)):
                assert np.isnan(got[owner])
                got[owner] = tail
    for i in order[known:]:
        meter.add(int(device[i]), float(start[i]), float(end[i]), (i,), int(i))
    for owner, tail in meter.finish():
        got[owner] = tail
    assert np.array_equal(got, expected)
