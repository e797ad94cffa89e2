"""The engine on exact cases, invariants, reproducibility and independent random streams."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import REPO, queue_scenario, write_model
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simsplit import simulate
from simsplit.engine.setup import build_setup
from simsplit.output.summary import LATENCY_PARTS
from simsplit.scenario import load_scenario, validate_scenario


def one_device(folder, *, head_ms=2.0, tail_ms=3.0, split_bytes=1000.0, encode_ms=0.5, decode_ms=0.25,
               up_mbps=8.0, down_mbps=16.0, delay_ms=0.0, result_bytes=100, strategy=None, arrivals=None,
               technology="lte", power_w=1.5, duration_s=10.0, **extra):
    profile, payloads = write_model(folder, head_ms=head_ms, tail_ms=tail_ms, split_bytes=split_bytes,
                                    encode_ms=encode_ms, decode_ms=decode_ms)
    return {
        "name": "exact", "seed": 3, "duration_s": duration_s,
        "model": {"profile": profile, "payloads": payloads, "result_bytes": result_bytes},
        "devices": [{"name": "d", "device_class": "phone", "compute_power_w": power_w,
                     "arrivals": arrivals or {"kind": "periodic", "rate_hz": 1.0, "phase_s": 0.25}}],
        "network": {"uplink": {"kind": "constant", "rate_mbps": up_mbps, "delay_ms": delay_ms},
                    "downlink": {"kind": "constant", "rate_mbps": down_mbps, "delay_ms": delay_ms},
                    "radio": {"technology": technology}},
        "server": {"server_class": "gpu", "workers": 1, "service_variability": {"kind": "deterministic"}},
        "strategy": strategy or {"kind": "full_offload"},
        **extra,
    }


def test_offloaded_request_timing_is_exact(tmp_path):
    result = simulate(validate_scenario(one_device(tmp_path, delay_ms=5.0)))
    r = result.requests
    assert (r["status"] == "completed").all() and len(r) == 10
    first = r.iloc[0]
    assert first["arrival_at_s"] == 0.25
    assert first["head_s"] == 0.0005  # split 0: no head layers, encode 0.5 ms
    assert first["uplink_s"] == pytest.approx(8 * 1000 / 8e6, abs=1e-15)  # bits / rate
    assert first["server_s"] == pytest.approx(0.00325, abs=1e-12)  # tail 3 ms + decode 0.25 ms
    assert first["downlink_s"] == pytest.approx(8 * 100 / 16e6, abs=1e-15)
    assert first["propagation_s"] == 0.010
    expected = 0.0005 + 0.001 + 0.005 + 0.00325 + 0.00005 + 0.005
    assert first["latency_s"] == pytest.approx(expected, abs=1e-12)


def test_energy_is_power_times_time(tmp_path):
    result = simulate(validate_scenario(one_device(tmp_path, power_w=1.5)))
    first = result.requests.iloc[0]
    assert first["compute_j"] == pytest.approx(1.5 * 0.0005, rel=1e-12)
    # LTE: P_up = 438.39 mW/Mbps * 8 Mbps + 1288.04 mW while sending, for 1 ms
    assert first["uplink_j"] == pytest.approx((0.43839 * 8 + 1.28804) * 0.001, rel=1e-12)
    assert first["downlink_j"] == pytest.approx((0.05197 * 16 + 1.28804) * 0.00005, rel=1e-12)
    assert first["energy_j"] == pytest.approx(first["compute_j"] + first["uplink_j"] + first["downlink_j"])


def test_measured_head_energy_replaces_power_times_time(tmp_path):
    """A profile's head_mj_<class> column is charged for the head (encoding still at the group's power), in the
    records and in every strategy's estimate; classes without it keep power x time."""
    profile = tmp_path / "energy-profile.csv"
    profile.write_text("split,name,head_ms_phone,head_mj_phone,head_ms_tablet,tail_ms_gpu,output_bytes\n"
                       "0,input,0,0,0,3.0,1000\n1,block,2.0,9.0,2.0,1.0,100\n2,output,5.0,20.0,5.0,0,4\n")
    payloads = tmp_path / "energy-payloads.csv"
    payloads.write_text("split,bottleneck,bytes,accuracy,encode_ms,decode_ms\n0,raw,1000,0.76,0.5,0\n"
                        "1,bn,100,0.74,0.25,0\n2,none,0,0.76,0,0\n")
    data = one_device(tmp_path, power_w=1.5)
    data["model"] = {"profile": str(profile), "payloads": str(payloads), "result_bytes": 100}
    base = data["devices"][0]
    data["devices"] = [{**base, "name": "local", "strategy": {"kind": "local"}},
                       {**base, "name": "split", "strategy": {"kind": "fixed", "split": 1, "bottleneck": "bn"}},
                       {**base, "name": "input", "strategy": {"kind": "full_offload"}},
                       {**base, "name": "tablet-split", "device_class": "tablet",
                        "strategy": {"kind": "fixed", "split": 1, "bottleneck": "bn"}}]
    result = simulate(validate_scenario(data))
    compute = result.requests.groupby("group", observed=True)["compute_j"]
    assert compute.min().to_dict() == compute.max().to_dict()
    expected = {"local": 0.020, "split": 0.009 + 1.5 * 0.00025, "input": 1.5 * 0.0005,
                "tablet-split": 1.5 * 0.00225}
    assert compute.mean().to_dict() == pytest.approx(expected, rel=1e-12)
    from simsplit.engine.setup import _device_model, _options
    from simsplit.model.strategies.predict import predict
    for group in result.setup.groups:
        (plan,) = group.plans.values()
        (option,) = _options(group.plans, group.network)
        device = _device_model(group.group, group.network)
        _, energy = predict(option, device, 8e6, 16e6, 0.0)
        radio = 0.0 if plan.local else ((0.43839 * 8 + 1.28804) * plan.bits_up / 8e6
                                        + (0.05197 * 16 + 1.28804) * plan.bits_down / 16e6)
        assert energy == pytest.approx(expected[group.group.name] + radio, rel=1e-12)


def test_reference_radio_point(tmp_path):
    """radio-power reference: 10,092 bytes on LTE at 5.85 Mbps take 13.8 ms and 53.2 mJ."""
    scenario = one_device(tmp_path, split_bytes=10_092, up_mbps=5.85, encode_ms=0, technology="lte")
    first = simulate(validate_scenario(scenario)).requests.iloc[0]
    assert first["uplink_s"] * 1e3 == pytest.approx(13.8, abs=0.05)
    assert first["uplink_j"] * 1e3 == pytest.approx(53.2, abs=0.05)


def test_local_runs_only_on_the_device(tmp_path):
    result = simulate(validate_scenario(one_device(tmp_path, strategy={"kind": "local"})))
    r = result.requests
    assert (r["split"] == 1).all() and (r["bytes_up"] == 0).all()
    assert r["latency_s"].tolist() == pytest.approx([0.002] * 10)
    assert r["uplink_j"].sum() == 0 and r["server_s"].isna().all()
    assert r["accuracy"].iloc[0] == 0.8


def test_device_computes_one_inference_at_a_time(tmp_path):
    # 5 ms head, inputs every 2 ms: the device queue grows by 3 ms per request
    scenario = one_device(tmp_path, head_ms=5.0, strategy={"kind": "local"}, duration_s=0.0101,
                          arrivals={"kind": "periodic", "rate_hz": 500.0, "phase_s": 0.0})
    r = simulate(validate_scenario(scenario)).requests
    assert r["device_wait_s"].tolist()[:3] == pytest.approx([0.0, 0.003, 0.006])


def test_closed_loop_waits_for_the_result(tmp_path):
    scenario = one_device(tmp_path, arrivals={"kind": "closed_loop", "think_s": 0.1}, duration_s=1.0)
    r = simulate(validate_scenario(scenario)).requests
    gaps = r["arrival_at_s"].to_numpy()[1:] - r["finish_at_s"].to_numpy()[:-1]
    assert gaps == pytest.approx(np.full(len(gaps), 0.1))
    assert r["arrival_at_s"].iloc[0] == 0.0


def test_periodic_jitter_stays_in_bounds(tmp_path):
    scenario = one_device(tmp_path, arrivals={"kind": "periodic", "rate_hz": 10.0, "jitter_s": 0.02,
                                              "phase_s": 0.0}, duration_s=50.0)
    arrivals = simulate(validate_scenario(scenario)).requests["arrival_at_s"].to_numpy()
    offsets = arrivals - np.arange(len(arrivals)) * 0.1
    assert offsets.min() >= 0 and offsets.max() < 0.02 and offsets.std() > 0.004


def test_infinite_capacity_server_never_queues(tmp_path):
    scenario = queue_scenario(tmp_path, rate_hz=500.0, service_ms=10.0, workers=1000, duration_s=20, warmup_s=0)
    r = simulate(validate_scenario(scenario)).requests
    assert (r.loc[r["status"] == "completed", "server_wait_s"] == 0).all()


def test_time_varying_uplink_integrates_rate(tmp_path):
    scenario = one_device(tmp_path, split_bytes=1_250_000, encode_ms=0,  # 10 Mbit
                          arrivals={"kind": "periodic", "rate_hz": 0.1, "phase_s": 0.5}, duration_s=5)
    scenario["network"]["uplink"] = {"kind": "steps", "times_s": [0, 1, 3], "rates_mbps": [8, 0, 4]}
    first = simulate(validate_scenario(scenario)).requests.iloc[0]
    # 4 Mbit by 1 s, outage to 3 s, 6 Mbit at 4 Mbit/s: ends at 4.5 s
    assert first["uplink_s"] == pytest.approx(4.0, abs=1e-12)


run_settings = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@run_settings
@given(groups=st.lists(st.tuples(st.integers(1, 4), st.sampled_from(["poisson", "periodic", "closed_loop"]),
                                 st.floats(1, 200), st.sampled_from(["full_offload", "local"])),
                       min_size=1, max_size=3),
       workers=st.integers(1, 3), capacity=st.one_of(st.none(), st.integers(0, 3)),
       service_ms=st.floats(0.1, 30), duration_s=st.floats(0.5, 5), warmup_s=st.floats(0, 0.4),
       sharing=st.sampled_from(["dedicated", "fifo", "processor_sharing"]), state_machine=st.booleans(),
       payload_bytes=st.sampled_from([0.0, 2000.0]), retransmit=st.one_of(st.none(), st.booleans()))
def test_conservation_and_parts(tmp_path, groups, workers, capacity, service_ms, duration_s, warmup_s, sharing,
                                state_machine, payload_bytes, retransmit):
    """generated = completed + dropped + in flight, and the latency parts add up, for any small scenario."""
    scenario = queue_scenario(tmp_path, rate_hz=1.0, service_ms=service_ms, workers=workers,
                              queue_capacity=capacity, duration_s=duration_s, warmup_s=warmup_s)
    write_model(tmp_path, tail_ms=service_ms, split_bytes=payload_bytes, head_ms=1.0)
    scenario["network"]["uplink"] = {"kind": "steps", "times_s": [0, 0.3], "rates_mbps": [1, 0.2], "sharing": sharing}
    scenario["network"]["downlink"]["sharing"] = sharing
    if retransmit is not None:
        scenario["network"]["uplink"]["loss"] = {"kind": "bernoulli", "p": 0.3, "retransmit": retransmit}
    scenario["network"]["radio"] = {"technology": "lte", "state_machine": state_machine, "promotion_s": 0.05}
    template = scenario["devices"][0]
    scenario["devices"] = [
        {**template, "name": f"g{i}", "count": count, "strategy": {"kind": strategy},
         "arrivals": {"kind": kind, "rate_hz": rate} if kind != "closed_loop" else {"kind": kind, "think_s": 1 / rate}}
        for i, (count, kind, rate, strategy) in enumerate(groups)]
    result = simulate(validate_scenario(scenario))
    s = result.summary
    assert s["generated"] == s["completed"] + s["dropped"] + s["lost"] + s["in_flight"]
    assert s["generated"] == int((result.requests["arrival_at_s"] >= warmup_s).sum())
    done = result.requests[result.requests["status"] == "completed"]
    parts = done[list(LATENCY_PARTS)].fillna(0.0).sum(axis=1)
    assert np.allclose(parts, done["latency_s"], rtol=0, atol=1e-9)
    assert (result.requests["finish_at_s"].fillna(0) <= duration_s).all()
    assert 0 <= s["server_utilisation"] <= 1 + 1e-12


def test_same_seed_is_bit_identical(tmp_path):
    scenario = validate_scenario(queue_scenario(tmp_path, rate_hz=90.0, service_ms=10.0, workers=1,
                                                variability={"kind": "lognormal", "cv": 0.7}, duration_s=60))
    first, second = simulate(scenario), simulate(scenario)
    pd.testing.assert_frame_equal(first.requests, second.requests, check_exact=True)
    assert first.summary == second.summary
    other = simulate(scenario, seed=scenario.seed + 1)
    assert not first.requests["arrival_at_s"].equals(other.requests["arrival_at_s"])


def test_each_component_has_its_own_stream(tmp_path):
    """Changing the server's variability, or adding a device group, leaves a device's arrivals unchanged."""
    base = queue_scenario(tmp_path, rate_hz=50.0, service_ms=10.0, duration_s=30, warmup_s=0,
                          variability={"kind": "gamma", "cv": 0.5})
    changed_server = {**base, "server": {**base["server"], "service_variability": {"kind": "lognormal", "cv": 2.0}}}
    more_devices = {**base, "devices": base["devices"] + [{**base["devices"][0], "name": "other", "count": 3}]}

    def arrivals(scenario):
        r = simulate(validate_scenario(scenario)).requests
        return r.loc[r["group"] == "d", "arrival_at_s"].to_numpy()

    reference = arrivals(base)
    assert np.array_equal(reference, arrivals(changed_server))
    assert np.array_equal(reference, arrivals(more_devices))
    # and the service multipliers do not depend on the arrival stream's parameters
    faster = {**base, "devices": [{**base["devices"][0], "arrivals": {"kind": "poisson", "rate_hz": 5.0}}]}
    service = [simulate(validate_scenario(s)).requests["server_s"].dropna().to_numpy()[:50]
               for s in (base, faster)]
    assert np.allclose(service[0], service[1], rtol=1e-9, atol=0)  # same draws; only clock rounding differs


def test_zero_time_closed_loop_is_rejected(tmp_path):
    from simsplit.core.errors import InputError
    scenario = one_device(tmp_path, head_ms=0.0, strategy={"kind": "local"}, arrivals={"kind": "closed_loop"})
    with pytest.raises(InputError, match=r"devices\.0\.arrivals\.think_s: expected > 0"):
        simulate(validate_scenario(scenario))


@pytest.mark.parametrize("kind,cv", [("exponential", 1.0), ("gamma", 0.3), ("gamma", 2.0), ("lognormal", 0.8),
                                     ("uniform", 0.5)])
def test_growing_sampler_blocks_hand_out_the_same_numbers(kind, cv):
    """Blocks that start small and double give exactly the numbers of fixed 4,096-value blocks."""
    from simsplit.core.streams import BlockSampler, RandomStreams
    from simsplit.model.variability import Multiplier
    draw = Multiplier(kind, cv).draw
    streams = RandomStreams(11)
    fixed = BlockSampler(streams.generator("x"), draw)
    growing = BlockSampler(streams.generator("x"), draw, grow=True)
    assert [fixed() for _ in range(10_000)] == [growing() for _ in range(10_000)]
    # takes of any length (a growing sampler draws what a take needs beyond its block at once) mixed with
    # calls hand out the same sequence
    fixed, growing = BlockSampler(streams.generator("y"), draw), BlockSampler(streams.generator("y"), draw, grow=True)
    lengths = np.random.default_rng(3).integers(0, 9000, 40)
    out_fixed = [fixed.take(int(n)) if k % 3 else np.array([fixed() for _ in range(n)]) for k, n in enumerate(lengths)]
    out_growing = [growing.take(int(n)) if k % 2 else np.array([growing() for _ in range(n)])
                   for k, n in enumerate(lengths)]
    assert np.array_equal(np.concatenate(out_fixed), np.concatenate(out_growing))


def test_an_open_loop_arrival_follows_the_events_scheduled_before_it(tmp_path, monkeypatch):
    """SimPy runs simultaneous events in the order they were scheduled. A device's next arrival is
    scheduled when its previous one is processed, after that request's own events: here each local head
    takes exactly the period (1 s), so every result lands at the instant of the device's next arrival and
    must run first (the arrival sees it completed), with arrivals handed out of the merged stream in slabs
    of a few, devices tied at phase 0 and others at random instants."""
    import simsplit.engine.des as engine_module
    from simsplit.engine.des import Engine
    from simsplit.engine.setup import build_setup
    monkeypatch.setattr(engine_module, "SLAB_ARRIVALS", 3)
    monkeypatch.setattr(engine_module, "ARRIVALS_PER_DEVICE", 1)
    scenario = one_device(tmp_path, head_ms=1000.0, encode_ms=0.0, duration_s=12.0, strategy={"kind": "local"})
    base = scenario["devices"][0]
    scenario["devices"] = [
        {**base, "name": "tied", "count": 4, "arrivals": {"kind": "periodic", "rate_hz": 1.0, "phase_s": 0.0}},
        {**base, "name": "random", "count": 3, "arrivals": {"kind": "poisson", "rate_hz": 3.0}}]
    engine = Engine(build_setup(validate_scenario(scenario)), 3)
    seen, results = [], [0] * 7
    arrive, result = engine._arrive, engine._on_result

    def watched(device, at):
        seen.append((device.index, at, results[device.index]))
        arrive(device, at)

    def counted(request):
        results[request.device] += 1
        result(request)
    monkeypatch.setattr(engine, "_arrive", watched)
    monkeypatch.setattr(engine, "_on_result", counted)
    columns = engine.run().columns
    assert (columns["head_s"][columns["device"] < 4] == 1.0).all()
    tied = [(d, at, done) for d, at, done in seen if d < 4]
    assert len(tied) == 4 * 12 and all(done == int(at) for _, at, done in tied)


def test_open_loop_arrivals_keep_simpys_order_of_simultaneous_arrivals(tmp_path, monkeypatch):
    """The DES hands open-loop arrivals out of one merged stream, in slabs (here of a few arrivals); the
    requests still arrive in the order a bare SimPy environment processes the devices' arrival events when
    each schedules the next (ties at 0.5 s steps between 2 Hz and 4 Hz devices, all of phase 0)."""
    import simpy

    import simsplit.engine.des as engine_module
    from simsplit.core.schedule import call_after
    from simsplit.core.streams import RandomStreams
    from simsplit.engine.des import Engine
    from simsplit.engine.setup import build_setup
    from simsplit.engine.wiring import build_devices
    monkeypatch.setattr(engine_module, "SLAB_ARRIVALS", 3)
    monkeypatch.setattr(engine_module, "ARRIVALS_PER_DEVICE", 1)
    scenario = one_device(tmp_path, duration_s=6.0, strategy={"kind": "local"})
    base = scenario["devices"][0]
    scenario["devices"] = [
        {**base, "name": "slow", "count": 3, "arrivals": {"kind": "periodic", "rate_hz": 2.0, "phase_s": 0.0}},
        {**base, "name": "fast", "count": 2, "arrivals": {"kind": "periodic", "rate_hz": 4.0, "phase_s": 0.0}},
        {**base, "name": "random", "count": 2, "arrivals": {"kind": "poisson", "rate_hz": 3.0}}]
    setup = build_setup(validate_scenario(scenario))
    columns = Engine(setup, 3).run().columns
    engine_order = list(zip(columns["device"].tolist(), columns["arrival_at_s"].tolist(), strict=True))

    env, seen = simpy.Environment(), []
    sources = [device.arrivals for device in build_devices(simpy.Environment(), setup, RandomStreams(3))[0]]

    def arrive(event):
        d, at = event._value
        seen.append((d, at))
        schedule(d, at)

    def schedule(d, now_s):
        at = sources[d].next_at(now_s)
        if at < setup.scenario.duration_s:
            call_after(env, max(0.0, at - env._now), (d, at), arrive)
    for d in range(len(sources)):
        schedule(d, 0.0)
    env.run(until=setup.scenario.duration_s)
    assert len(seen) > 100 and engine_order == seen


def test_runs_in_one_process_leave_no_garbage_behind(tmp_path, monkeypatch):
    """A process that runs many engines (a sweep's worker) holds no more objects after the fifth than after
    the first: a large fleet's objects, frozen during its run and thawed into the collector's oldest
    generation, are collected before the next large fleet is built; the collector is left as found."""
    import gc

    from simsplit.core import collector
    from simsplit.engine.des import Engine
    from simsplit.engine.setup import build_setup
    monkeypatch.setattr(collector, "LARGE_FLEET", 10)  # these 60 devices count as a large fleet
    scenario = one_device(tmp_path, duration_s=5.0)
    scenario["devices"][0]["count"] = 60
    setup = build_setup(validate_scenario(scenario))
    tracked = []
    for seed in range(5):
        Engine(setup, seed).run()
        assert gc.isenabled() and not gc.get_freeze_count()
        tracked.append(len(gc.get_objects()))
    one_engine = 60 * 10  # at least ten objects a device
    assert tracked[-1] - tracked[0] < one_engine


@pytest.mark.parametrize("name", ["bottlenet-resnet50", "default", "server-load-step", "dynamic-under-load"])
def test_group_outcomes_are_the_summary_numbers(name):
    """What a calibration reads of a run (each group's latency statistic and energy per request, from the
    run's columns without a table) equals the summary's group blocks bit for bit, on either engine."""
    from simsplit.output.summary import QUANTILES, group_outcomes
    from simsplit.studies.simulation import run_columns
    scenario = load_scenario(REPO / "scenarios" / f"{name}.yaml", ["duration_s=40"])
    setup = build_setup(scenario)
    groups = simulate(scenario, setup=setup, stream=False).summary["groups"]
    columns = run_columns(setup, scenario.seed)
    for statistic in ("mean", *QUANTILES):
        outcomes = group_outcomes(setup, columns.__getitem__, statistic)
        expected = {n: (g["latency_s"][statistic], g["energy_j"]["total"]) if g["completed"] else (None, None)
                    for n, g in groups.items()}
        assert {n: (v[0], v[1] if v[0] is not None else None) for n, v in outcomes.items()} == expected


def test_the_summary_mean_is_pandas_mean_bit_for_bit():
    """The summary's means skip NaN as a pandas column's mean does, with pandas' own arithmetic (NaN set to 0, the
    float64 sum over the count): equal bit for bit on arrays with and without NaN, of every length."""
    from simsplit.output.summary import _mean
    rng = np.random.default_rng(11)
    for n in (1, 2, 3, 7, 8, 9, 127, 128, 129, 1000, 4099):
        values = rng.lognormal(-3.0, 2.0, n)
        assert _mean(values) == float(pd.Series(values).mean())
        values[rng.random(n) < 0.3] = np.nan
        if not np.isnan(values).all():
            assert _mean(values) == float(pd.Series(values).mean()), n
