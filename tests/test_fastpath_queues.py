"""The fast path's servers whose queue replays its events (dynamic batching, a queue capacity, drop_expired,
earliest deadline first) equal the DES request for request, batch for batch, drop for drop."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from test_fastpath import TENANTS, assert_same_run

from simsplit import simulate
from simsplit.engine import server_kernel
from simsplit.engine.des import Engine
from simsplit.engine.fastpath import run_fast, why_not
from simsplit.engine.records import DROPPED, TIMED_OUT
from simsplit.engine.setup import build_setup
from simsplit.scenario import validate_scenario


def three_kinds(folder: Path, tail_ms: float) -> dict:
    """A model with two offloaded kinds (the raw input at split 0, a bottleneck at split 1) and local."""
    profile, payloads = folder / "profile.csv", folder / "payloads.csv"
    profile.write_text("split,name,head_ms_phone,tail_ms_gpu,output_bytes\n"
                       f"0,input,0,{tail_ms},3000\n1,mid,1.5,{0.6 * tail_ms},800\n2,output,4,0,4\n")
    payloads.write_text("split,bottleneck,bytes,accuracy,encode_ms,decode_ms\n"
                        "0,raw,3000,0.76,0,0\n1,b,400,0.75,0.2,0.1\n2,none,0,0.76,0,0\n")
    return {"profile": str(profile), "payloads": str(payloads), "result_bytes": 40}


STRATEGIES = {"raw": {"kind": "full_offload"}, "mid": {"kind": "fixed", "split": 1, "bottleneck": "b"},
              "local": {"kind": "local"}, "cloud": {"kind": "full_offload", "server": "cloud"}}


def device_group(i: int, count: int, arrivals: str, rate_hz: float, strategy: str) -> dict:
    kinds = {"poisson": {"kind": "poisson", "rate_hz": rate_hz},
             "tied": {"kind": "periodic", "rate_hz": rate_hz, "phase_s": 0.0},
             "jitter": {"kind": "periodic", "rate_hz": rate_hz, "jitter_s": 0.2 / rate_hz}}
    return {"name": f"g{i}", "count": count, "device_class": "phone", "compute_power_w": 2.0,
            "arrivals": kinds[arrivals], "strategy": STRATEGIES[strategy]}


NETWORK = {"uplink": {"kind": "constant", "rate_mbps": 8, "delay_ms": 2},
           "downlink": {"kind": "constant", "rate_mbps": 8, "delay_ms": 2}, "radio": {"technology": "lte"}}

run_settings = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@run_settings
@given(groups=st.lists(st.tuples(st.integers(1, 4), st.sampled_from(["poisson", "tied", "jitter"]),
                                 st.floats(2, 60), st.sampled_from(sorted(STRATEGIES))), min_size=1, max_size=3),
       workers=st.integers(1, 3), max_batch=st.integers(1, 6), max_wait_ms=st.sampled_from([0.0, 1.5, 8.0]),
       mix=st.booleans(), scaling=st.sampled_from(["linear", "table"]),
       capacity=st.sampled_from([None, 0, 1, 3, 10]), drop_expired=st.booleans(),
       discipline=st.sampled_from(["fifo", "edf"]), variability=st.sampled_from(["deterministic", "exponential"]),
       tail_ms=st.floats(1, 25), deadline_s=st.sampled_from([None, 0.015, 0.06]),
       tenants=st.sampled_from(sorted(TENANTS)), duration_s=st.floats(0.5, 4), seed=st.integers(0, 2**32))
def test_random_queues_equal_the_des(tmp_path, groups, workers, max_batch, max_wait_ms, mix, scaling, capacity,
                                     drop_expired, discipline, variability, tail_ms, deadline_s, tenants, duration_s,
                                     seed):
    """Random fleets of three kinds of job (two offloaded, batching apart unless kinds mix) on an edge server
    with every queue feature and another tenant's load, and a cloud server that batches: ties (devices sharing
    a phase), batches cut by their timeout and by a full queue, drops and expiries, requests still queued or
    in service at the end, in one window and in windows of 5 requests. A deterministic service fed at a shared
    phase is left to the DES (it names why)."""
    table = [1.0, 1.3, 1.5, 1.9, 2.0, 2.6]
    edge = {"name": "edge", "server_class": "gpu", "workers": workers, "discipline": discipline,
            "queue_capacity": capacity, "drop_expired": drop_expired, "background": TENANTS[tenants],
            "service_variability": {"kind": variability},
            "batching": {"max_batch": max_batch, "max_wait_ms": max_wait_ms, "mix_kinds": mix,
                         "scaling": {"kind": "linear", "per_item": 0.4} if scaling == "linear"
                         else {"kind": "table", "factors": table[:max_batch]}}}
    cloud = {"name": "cloud", "server_class": "gpu", "workers": 1, "extra_rtt_ms": 5.0,
             "batching": {"max_batch": 3, "max_wait_ms": 4.0}, "background": TENANTS[tenants][:1],
             "service_variability": {"kind": "lognormal", "cv": 0.2}}
    scenario = validate_scenario({
        "name": "random-queues", "seed": seed, "duration_s": duration_s, "deadline_s": deadline_s,
        "model": three_kinds(tmp_path, tail_ms), "devices": [device_group(i, *g) for i, g in enumerate(groups)],
        "network": NETWORK, "servers": [edge, cloud], "strategy": {"kind": "local"}})
    setup = build_setup(scenario)
    reasons = why_not(setup)
    if reasons:  # deterministic service fed at a shared phase: ties further back than the fast path orders
        assert variability == "deterministic" and any(arrivals == "tied" for _, arrivals, *_ in groups)
        assert all("events tie further back" in reason for reason in reasons)
        return
    assert_same_run(setup, seed)


def test_a_full_queue_drops_the_later_of_simultaneous_arrivals(tmp_path):
    """Twelve devices reach a one-worker server at the same instants, its queue holds 3: the DES drops the
    requests whose devices' arrivals came last (the order their arrivals at the server were scheduled), and
    so does the fast path; a batch of up to 4 then takes the first four of them at once."""
    fields = {"name": "ties", "seed": 3, "duration_s": 3,
              "model": three_kinds(tmp_path, 10.0), "devices": [device_group(0, 12, "tied", 2.0, "raw")],
              "network": NETWORK, "server": {"server_class": "gpu", "queue_capacity": 3}, "strategy": {"kind": "local"}}
    des = assert_same_run(build_setup(validate_scenario(fields)), 3).columns
    first = des["request_id"] == 0
    assert np.all(des["server_arrival_at_s"][first] == des["server_arrival_at_s"][first][0])
    assert list(des["status"][first]) == [1] * 4 + [DROPPED] * 8  # one starts, three wait, the rest dropped
    batched = {**fields, "server": {"server_class": "gpu", "batching": {"max_batch": 4, "max_wait_ms": 1}}}
    des = assert_same_run(build_setup(validate_scenario(batched)), 3).columns
    assert list(des["batch_size"][des["request_id"] == 0]) == [4] * 12


def test_expired_requests_leave_when_the_server_next_looks(tmp_path):
    """A request whose deadline passes while it waits is removed at the server's next event (an arrival or a
    service's end), not at its deadline: the fast path replays those instants."""
    fields = {"name": "expiry", "seed": 2, "duration_s": 4, "deadline_s": 0.03, "model": three_kinds(tmp_path, 9.0),
              "devices": [device_group(0, 4, "poisson", 40.0, "raw")], "network": NETWORK,
              "server": {"server_class": "gpu", "drop_expired": True, "service_variability": {"kind": "exponential"}},
              "strategy": {"kind": "local"}}
    des = assert_same_run(build_setup(validate_scenario(fields)), 2).columns
    expired = des["status"] == TIMED_OUT
    assert expired.sum() > 20
    deadline = des["arrival_at_s"][expired] + 0.03
    removed = des["finish_at_s"][expired]
    assert np.all(removed > deadline)
    events = np.concatenate((des["server_arrival_at_s"], des["service_end_at_s"]))
    assert np.isin(removed, events).all()  # each at an arrival or a service's end


@pytest.mark.parametrize("server", [{"queue_capacity": 2, "drop_expired": True, "workers": 2},
                                    {"batching": {"max_batch": 4, "max_wait_ms": 3}, "discipline": "edf",
                                     "drop_expired": True}])
def test_the_event_loop_in_python_equals_the_compiled_one(tmp_path, monkeypatch, server):
    fields = {"name": "python", "seed": 7, "duration_s": 2, "deadline_s": 0.03,
              "model": three_kinds(tmp_path, 12.0),
              "devices": [device_group(0, 3, "poisson", 40.0, "raw"), device_group(1, 2, "jitter", 30.0, "mid")],
              "network": NETWORK, "server": {"server_class": "gpu", "background": TENANTS["poisson"],
                                             "service_variability": {"kind": "exponential"}, **server},
              "strategy": {"kind": "local"}}
    setup = build_setup(validate_scenario(fields))
    compiled = run_fast(setup, 7, window_rows=7)
    for name in ("serve", "_submit", "_earliest", "_finish", "_expire", "_dispatch", "_start", "_first", "_push",
                 "_remove", "_room", "_schedule"):
        monkeypatch.setattr(server_kernel, name, getattr(server_kernel, name).py_func)
    python = run_fast(setup, 7, window_rows=7)
    for name, values in compiled.columns.items():
        assert np.array_equal(values, python.columns[name], equal_nan=True), name
    status = compiled.columns["status"]
    assert (status == DROPPED).any() or (status == TIMED_OUT).any()  # the features were exercised


def test_the_summary_of_a_queue_run_is_the_same_on_both_engines(tmp_path):
    """Drops, expiries, batches, the other tenants' rejected jobs and the servers' utilisation: the whole
    summary, byte for byte but for the engine block."""
    fields = {"name": "summary", "seed": 11, "duration_s": 6, "warmup_s": 1, "deadline_s": 0.05,
              "model": three_kinds(tmp_path, 8.0),
              "devices": [device_group(0, 5, "poisson", 30.0, "raw"), device_group(1, 5, "jitter", 20.0, "mid")],
              "network": NETWORK, "strategy": {"kind": "local"},
              "server": {"server_class": "gpu", "workers": 2, "queue_capacity": 4, "drop_expired": True,
                         "batching": {"max_batch": 4, "max_wait_ms": 2, "mix_kinds": True},
                         "background": TENANTS["poisson"], "service_variability": {"kind": "exponential"}}}
    fast = simulate(validate_scenario({**fields, "engine": "fast"})).summary
    des = simulate(validate_scenario({**fields, "engine": "des"})).summary
    assert fast.pop("engine")["used"] == "fast"
    assert des.pop("engine")["used"] == "des"
    fast.pop("provenance"), des.pop("provenance")  # the scenario named its engine
    assert fast == des
    assert fast["dropped"] > 0 and fast["servers"]["edge"]["background_rejected"] > 0


SAMPLE_TRACE = str(Path(__file__).resolve().parent / "data" / "traces" / "sample.csv")
CELL_CHANNELS = {
    "constant": {"kind": "constant", "rate_mbps": 1.5},
    "trace": {"kind": "trace", "file": SAMPLE_TRACE, "format": "csv", "offset_s": "random", "scale": 0.3},
    "steps": {"kind": "steps", "times_s": [0, 0.4, 0.7], "rates_mbps": [2, 0, 0.4], "end": "loop", "period_s": 1.3},
    "markov": {"kind": "markov", "rates_mbps": [3, 0.2], "mean_sojourn_s": [0.5, 0.2]},
}


@run_settings
@example(groups=[(3, "tied", 1.0, "raw", "cell"), (1, "poisson", 1.0, "cloud", "cell"),
                 (3, "tied", 1.0, "raw", "other-cell")], channel="steps", sharing="processor_sharing",
         loss="gilbert", max_batch=1, capacity=None, duration_s=1.0, seed=41)  # two cells' departures at one instant
@given(groups=st.lists(st.tuples(st.integers(1, 6), st.sampled_from(["poisson", "tied", "jitter"]),
                                 st.floats(1, 40), st.sampled_from(sorted(STRATEGIES)),
                                 st.sampled_from(["cell", "other-cell", "own"])), min_size=1, max_size=3),
       channel=st.sampled_from(sorted(CELL_CHANNELS)), sharing=st.sampled_from(["processor_sharing", "fifo"]),
       loss=st.sampled_from([None, "arq", "gilbert"]), max_batch=st.integers(1, 4),
       capacity=st.sampled_from([None, 2]), duration_s=st.floats(0.5, 4), seed=st.integers(0, 2**32))
def test_random_shared_uplinks_equal_the_des(tmp_path, groups, channel, sharing, loss, max_batch, capacity, duration_s,
                                             seed):
    """Devices sharing a cell's uplink (processor sharing or first come first served; one cell per network
    block, a group with its own block is another cell, or its own dedicated link) over every channel kind,
    with packet loss and retransmission, into servers with and without queue features: ties at the cell
    (devices sharing a phase), transfers still in the cell at the end, windows of 5 requests."""
    losses = {None: None, "arq": {"kind": "bernoulli", "p": 0.3, "mtu_bytes": 400, "feedback_ms": 5},
              "gilbert": {"kind": "gilbert_elliott", "loss_bad": 0.6, "p_good_bad": 0.2, "mtu_bytes": 500}}
    cell = {**CELL_CHANNELS[channel], "sharing": sharing, "delay_ms": 3, "loss": losses[loss]}
    network = {**NETWORK, "uplink": cell}
    devices = []
    for i, (count, arrivals, rate, strategy, link) in enumerate(groups):
        group = device_group(i, count, arrivals, rate, strategy)
        if link == "other-cell":
            group["network"] = {**NETWORK, "uplink": {**cell, "rate_mbps": 0.8} if channel == "constant" else cell}
        elif link == "own":
            group["network"] = NETWORK
        devices.append(group)
    scenario = validate_scenario({
        "name": "random-cells", "seed": seed, "duration_s": duration_s, "deadline_s": 0.2,
        "model": three_kinds(tmp_path, 6.0), "devices": devices, "network": network,
        "servers": [{"name": "edge", "server_class": "gpu", "queue_capacity": capacity,
                     "batching": {"max_batch": max_batch, "max_wait_ms": 2.0},
                     "service_variability": {"kind": "exponential"}},
                    {"name": "cloud", "server_class": "gpu", "extra_rtt_ms": 5.0}],
        "strategy": {"kind": "local"}})
    setup = build_setup(scenario)
    assert why_not(setup) == []
    assert_same_run(setup, seed)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(workers=1, max_batch=1, capacity=None, drop_expired=False, tenants="mmpp", uplink="processor_sharing",
         channel="constant", period_s=0.25, rate_hz=5.0, seed=0)  # an arrival at a sample's instant (set after it)
@example(workers=1, max_batch=1, capacity=None, drop_expired=True, tenants="mmpp", uplink="processor_sharing",
         channel="constant", period_s=0.01, rate_hz=5.0, seed=1)  # ... that starts at once, on a replaying server
@given(workers=st.integers(1, 3), max_batch=st.integers(1, 4), capacity=st.sampled_from([None, 1, 4]),
       drop_expired=st.booleans(), tenants=st.sampled_from(sorted(TENANTS)),
       uplink=st.sampled_from(["own", "processor_sharing", "fifo"]), channel=st.sampled_from(sorted(CELL_CHANNELS)),
       period_s=st.floats(0.01, 0.7), rate_hz=st.floats(5, 60), seed=st.integers(0, 2**32))
def test_the_monitor_computed_from_a_fast_run_equals_the_des_samples(tmp_path, workers, max_batch, capacity,
                                                                     drop_expired, tenants, uplink, channel, period_s,
                                                                     rate_hz, seed):
    """The time series (first device's uplink capacity, each server's waiting jobs and busy workers at every
    sample) of a fast run equals the one the DES samples, on FIFO servers and servers replaying their events,
    with other tenants, over dedicated and shared uplinks."""
    link = {**CELL_CHANNELS[channel], "delay_ms": 2} if uplink == "own" else \
        {**CELL_CHANNELS[channel], "sharing": uplink, "delay_ms": 2}
    fields = {"name": "monitored", "seed": seed, "duration_s": 3, "deadline_s": 0.04,
              "model": three_kinds(tmp_path, 15.0), "strategy": {"kind": "local"},
              "devices": [device_group(0, 3, "poisson", rate_hz, "raw"), device_group(1, 2, "tied", 10.0, "cloud")],
              "network": {**NETWORK, "uplink": link},
              "servers": [{"name": "edge", "server_class": "gpu", "workers": workers, "queue_capacity": capacity,
                           "drop_expired": drop_expired, "batching": {"max_batch": max_batch, "max_wait_ms": 3},
                           "background": TENANTS[tenants], "service_variability": {"kind": "exponential"}},
                          {"name": "cloud", "server_class": "gpu", "background": TENANTS[tenants][:1]}]}
    fast = simulate(validate_scenario({**fields, "engine": "fast"}), monitor_period_s=period_s, stream=False)
    des = simulate(validate_scenario({**fields, "engine": "des"}), monitor_period_s=period_s, stream=False)
    pd.testing.assert_frame_equal(fast.timeseries, des.timeseries, check_exact=True)
    pd.testing.assert_frame_equal(fast.requests, des.requests, check_exact=True)


@run_settings
@example(groups=[(1, "poisson", 2.0, "cloud", "cell")], technology="lte", sharing="processor_sharing", loss=None,
         max_batch=1, capacity=None, tail_ms=6.0, duration_s=1.0, seed=0, downlink="constant",
         tenants="none")  # promoted past the end
@example(groups=[(1, "poisson", 1.0, "cloud", "cell"), (1, "poisson", 1.0, "cloud", "cell"),
                 (2, "jitter", 15.0, "mid", "cell")], technology="lte", sharing="processor_sharing", loss=None,
         max_batch=1, capacity=None, tail_ms=6.0, duration_s=1.0, seed=0, downlink="lossy",
         tenants="none")  # ready after the end
@example(groups=[(3, "poisson", 20.0, "raw", "own")], technology="short", sharing="processor_sharing", loss=None,
         max_batch=2, capacity=None, tail_ms=6.0, duration_s=2.0, seed=0, downlink="constant",
         tenants="mmpp")  # an MMPP tenant's service times drawn again in a window's second round
@given(groups=st.lists(st.tuples(st.integers(1, 4), st.sampled_from(["poisson", "tied", "jitter"]),
                                 st.floats(0.3, 30), st.sampled_from(sorted(STRATEGIES)),
                                 st.sampled_from(["cell", "own"])), min_size=1, max_size=3),
       technology=st.sampled_from(["lte", "3g", "short"]), sharing=st.sampled_from(["processor_sharing", "fifo"]),
       loss=st.sampled_from([None, "arq"]), max_batch=st.integers(1, 3), capacity=st.sampled_from([None, 2]),
       tail_ms=st.sampled_from([6.0, 250.0]), duration_s=st.floats(1, 8), seed=st.integers(0, 2**32),
       downlink=st.sampled_from(["constant", "steps", "lossy", "markov"]), tenants=st.sampled_from(sorted(TENANTS)))
def test_random_radio_state_machines_equal_the_des(tmp_path, groups, technology, sharing, loss, max_batch, capacity,
                                                   tail_ms, duration_s, seed, downlink, tenants):
    """The RRC state machine on the fast path: promotions before uploads and downloads that find the radio idle
    (its last transfer, an upload or a result's download, more than the tail ago; on a shared cell, no
    transfer of the device in progress), the tails charged to each request — over dedicated links and shared
    cells, with losses, batching and a queue limit, short tails and promotions against the arrivals' gaps and
    servers slower than the tail (results that find the radio idle) so that decisions change, in windows of 5
    requests; the compiled round (downlinks constant or piecewise constant, lossless) and the Python one (a
    lossy or random downlink); with every kind of other tenant on the edge server, whose draws a window's later
    rounds must repeat (an MMPP tenant's service times once drew on past the checkpoint)."""
    radio = {"technology": "lte", "state_machine": True}
    if technology == "3g":
        radio = {"technology": "3g", "state_machine": True}
    elif technology == "short":
        radio = {"technology": "lte", "state_machine": True, "promotion_s": 0.05, "tail_s": [0.08, 0.1],
                 "tail_mw": [900, 300]}
    losses = {None: None, "arq": {"kind": "bernoulli", "p": 0.3, "mtu_bytes": 400, "feedback_ms": 5}}
    cell = {**CELL_CHANNELS["trace"], "sharing": sharing, "delay_ms": 3, "loss": losses[loss]}
    downlinks = {"constant": NETWORK["downlink"], "steps": {**CELL_CHANNELS["steps"], "delay_ms": 2},
                 "lossy": {**NETWORK["downlink"], "loss": losses["arq"]},
                 "markov": {**CELL_CHANNELS["markov"], "delay_ms": 2}}
    devices = []
    for i, (count, arrivals, rate, strategy, link) in enumerate(groups):
        group = device_group(i, count, arrivals, rate, strategy)
        uplink = cell if link == "cell" else {**CELL_CHANNELS["steps"], "delay_ms": 3, "loss": losses[loss]}
        group["network"] = {**NETWORK, "uplink": uplink, "radio": radio, "downlink": downlinks[downlink]}
        devices.append(group)
    scenario = validate_scenario({
        "name": "random-radio", "seed": seed, "duration_s": duration_s, "deadline_s": 0.3,
        "model": three_kinds(tmp_path, tail_ms), "devices": devices, "network": {**NETWORK, "radio": radio},
        "servers": [{"name": "edge", "server_class": "gpu", "queue_capacity": capacity,
                     "batching": {"max_batch": max_batch, "max_wait_ms": 2.0},
                     "service_variability": {"kind": "exponential"}, "background": TENANTS[tenants]},
                    {"name": "cloud", "server_class": "gpu", "extra_rtt_ms": 5.0}],
        "strategy": {"kind": "local"}})
    setup = build_setup(scenario)
    assert why_not(setup) == []
    assert_same_run(setup, seed)


@settings(max_examples=60, deadline=None)
@given(devices=st.sampled_from([3, 40_000]), size=st.integers(0, 300), seed=st.integers(0, 2**32))
def test_a_rounds_events_are_ordered_as_a_sort_on_all_four_keys(devices, size, seed):
    """The radio round's order (two stable sorts, one a radix sort on 16 bits) equals ``np.lexsort`` on (device,
    time, kind, number), with times tied within and across devices and kinds, NaN among them, and more devices
    than 16 bits hold."""
    from simsplit.engine.fastpath_radio import _by_device_then_time
    rng = np.random.default_rng(seed)
    device = rng.integers(0, devices, size)
    at = rng.choice(np.array([0.0, 0.25, 1.0, np.nan, 3.5]), size) + rng.choice([0.0, 1e-3], size)
    kind = np.sort(rng.integers(0, 3, size))  # the round lists its events kind by kind, each kind by number
    index = np.concatenate([np.arange(np.count_nonzero(kind == k)) for k in range(3)]).astype(np.int64)
    assert np.array_equal(_by_device_then_time(device, at), np.lexsort((index, kind, at, device)))


def _stateful_closures(root) -> list[str]:
    """The functions reachable from ``root`` (through containers, attributes and slots) whose closures hold
    something other than numbers and strings: a deep copy keeps a function as it is, so such state would not be
    copied with the rest."""
    import types
    plain = (int, float, str, bool, type(None), np.floating, np.integer)
    seen, found, todo = set(), [], [root]
    while todo:
        item = todo.pop()
        if id(item) in seen or isinstance(item, (*plain, np.ndarray, type)):
            continue
        seen.add(id(item))
        if isinstance(item, types.FunctionType):
            cells = [cell.cell_contents for cell in item.__closure__ or ()]
            if any(not isinstance(value, plain) for value in cells):
                found.append(item.__qualname__)
            continue
        if isinstance(item, dict):
            todo += item.values()
        elif isinstance(item, (list, tuple, set)):
            todo += item
        elif isinstance(item, types.MethodType):
            todo.append(item.__self__)
        else:
            todo += getattr(item, "__dict__", {}).values()
            todo += [getattr(item, slot) for slot in getattr(type(item), "__slots__", ()) if hasattr(item, slot)]
    return found


@pytest.mark.parametrize("tenants", sorted(TENANTS))
def test_what_a_radio_window_rewinds_holds_no_closure_over_state(tmp_path, monkeypatch, tenants):
    """The radio's checkpoint deep-copies the cells and servers (tenants, samplers) and each device's radio
    and loss: nothing in them may be a closure over a sampler or generator, which the copy would share with the
    original (an MMPP tenant's service times once were, and its later rounds drew on from the original)."""
    from simsplit.engine import fastpath_radio
    found: list[str] = []
    save_network, save_radio = fastpath_radio._Checkpoint.save_network, fastpath_radio._Checkpoint.save_radio

    def network(checkpoint):
        stages = checkpoint.stages
        found.extend(_stateful_closures((stages.servers, stages.cells, stages.cell_waiting, stages.back)))
        return save_network(checkpoint)

    def radio(checkpoint):
        found.extend(_stateful_closures([(u.radio, u.uplink, u.downlink, u.downlink_loss)
                                         for u in checkpoint.stages.devices]))
        return save_radio(checkpoint)
    monkeypatch.setattr(fastpath_radio._Checkpoint, "save_network", network)
    monkeypatch.setattr(fastpath_radio._Checkpoint, "save_radio", radio)
    group = device_group(0, 3, "poisson", 20.0, "raw")
    radio_config = {"technology": "lte", "state_machine": True}
    arq = {"kind": "gilbert_elliott", "p_good_bad": 0.1, "p_bad_good": 0.5, "loss_good": 0.01,
           "loss_bad": 0.5, "mtu_bytes": 400, "feedback_ms": 5}
    group["network"] = {**NETWORK, "radio": radio_config, "uplink": {**CELL_CHANNELS["trace"], "loss": arq},
                        "downlink": {**CELL_CHANNELS["markov"], "delay_ms": 2, "loss": arq}}
    fields = {"name": "closures", "seed": 3, "duration_s": 2.0, "model": three_kinds(tmp_path, 6.0),
              "devices": [group], "network": {**NETWORK, "radio": radio_config},
              "server": {"server_class": "gpu", "background": TENANTS[tenants], "queue_capacity": 5,
                         "batching": {"max_batch": 2, "max_wait_ms": 2.0},
                         "service_variability": {"kind": "lognormal", "cv": 0.5}},
              "strategy": {"kind": "local"}}
    setup = build_setup(validate_scenario(fields))
    assert why_not(setup) == []
    run_fast(setup, 3, window_rows=7)
    assert found == []


@pytest.mark.filterwarnings("error::RuntimeWarning")  # inf - inf gives NaN quietly, as in the DES
@pytest.mark.parametrize("link", ["uplink", "downlink"])
@pytest.mark.parametrize("compiled_round", [True, False])
def test_a_link_down_for_good_with_the_radio_tail_equals_the_des(tmp_path, monkeypatch, link, compiled_round):
    """A device's own link at 0 for good from 0.5 s, with the RRC state machine: the transfers queued behind the
    endless one never start, so no tail is charged for them and no request waits on one (the fast path used to
    stop with requests unresolved)."""
    from simsplit.engine import fastpath
    if not compiled_round:
        monkeypatch.setattr(fastpath, "radio_compiles", lambda *args: False)
    group = device_group(0, 1, "tied", 4.0, "raw")
    outage = {"kind": "steps", "times_s": [0, 0.5], "rates_mbps": [1, 0], "end": "hold", "delay_ms": 2}
    radio = {"technology": "lte", "state_machine": True}
    group["network"] = {**NETWORK, "radio": radio, link: outage}
    scenario = validate_scenario({"name": "outage", "seed": 1, "duration_s": 1.5, "model": three_kinds(tmp_path, 6.0),
                                  "devices": [group], "network": {**NETWORK, "radio": radio},
                                  "servers": [{"name": "edge", "server_class": "gpu"}], "strategy": {"kind": "local"}})
    setup = build_setup(scenario)
    assert why_not(setup) == []
    des = assert_same_run(setup, 1)
    assert np.isinf(des.columns["uplink_start_at_s" if link == "uplink" else "downlink_start_at_s"]).any()


def test_the_estimate_of_a_replayed_run_bounds_its_time():
    """A run whose cells and radio the fast path replays per event is estimated at the replay rate: the estimate
    bounds the run, and is not so loose that it would refuse a run that fits (within 20x of its time)."""
    import time

    from simsplit.engine.feasibility import estimate
    from simsplit.scenario import load_scenario
    from simsplit.studies.sites import site_scenario
    repo = Path(__file__).resolve().parents[1]
    scenario = site_scenario(load_scenario(repo / "scenarios" / "city-under-load.yaml",
                                           ["duration_s=30", "warmup_s=1"]), 0)
    setup = build_setup(scenario)
    assert why_not(setup) == []
    guessed = estimate(setup)
    simulate(scenario.model_copy(update={"duration_s": 2.0}), stream=False)  # the compiled kernels loaded first
    started = time.perf_counter()
    simulate(scenario, setup=setup, stream=False)
    took = time.perf_counter() - started
    assert guessed.seconds >= took, (guessed.seconds, took)
    assert guessed.seconds < 20 * took


def _periodic(i: int, count: int, rate_hz: float, phase_s: float) -> dict:
    return {**device_group(i, count, "tied", rate_hz, "raw"),
            "arrivals": {"kind": "periodic", "rate_hz": rate_hz, "phase_s": phase_s}}


@pytest.mark.parametrize("server", [{"queue_capacity": 0}, {"batching": {"max_batch": 2, "max_wait_ms": 0.0}}])
def test_an_arrival_and_a_service_end_set_at_one_instant_follow_the_events_that_set_them(tmp_path, server):
    """Deterministic service, periodic arrivals without jitter: at 10 ms request 2 reaches the server as request
    0's service ends, both events set at 5 ms — the end by the server's arrival event, the arrival by a device's
    arrival event, which was itself set later (at 1 ms, against 0): the DES ends the service first, so a queue
    of none takes request 2 (a batch of two gets its partner)."""
    fields = {"name": "tie", "seed": 1, "duration_s": 0.03, "model": three_kinds(tmp_path, 5.0),
              "devices": [_periodic(0, 1, 1.0, 0.0), _periodic(1, 1, 250.0, 0.001)], "network": NETWORK,
              "server": {"server_class": "gpu", **server}, "strategy": {"kind": "local"}}
    des = assert_same_run(build_setup(validate_scenario(fields)), 1, window_rows=(None, 5, 1)).columns
    assert des["server_arrival_at_s"][2] == des["service_end_at_s"][0] == 0.01
    assert des["status"][2] == 1


def test_windows_of_one_arrival_get_through_bursts_of_tied_arrivals(tmp_path):
    """40 devices arriving together every 100 ms, in windows of one arrival: each burst shrinks the next slab's
    span to a quarter, and the empty slabs between bursts must grow it again (they kept it, so after a few dozen
    bursts the span fell below the clock's resolution and the run never ended; an alarm fails the test
    instead). The run equals the DES."""
    import signal

    def stuck(*_):
        raise TimeoutError("the windows of one arrival did not get through the bursts")
    fields = {"name": "bursts", "seed": 1, "duration_s": 3.0, "model": three_kinds(tmp_path, 5.0),
              "devices": [_periodic(0, 40, 10.0, 0.0)], "network": NETWORK, "server": {"server_class": "gpu"},
              "strategy": {"kind": "local"}}
    previous = signal.signal(signal.SIGALRM, stuck)
    signal.alarm(60)
    try:
        des = assert_same_run(build_setup(validate_scenario(fields)), 1, window_rows=(1,))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert des.columns["device"].size == 40 * 30


@pytest.mark.parametrize("delay_ms", [0.0, 2.0])
def test_the_monitor_orders_a_sample_and_a_change_of_its_instant_as_the_des(tmp_path, delay_ms):
    """Deterministic service and tied arrivals put changes at sample instants: a job that starts when a worker
    frees (in that end's event, set at its start) and, with no delay, requests reaching the server at 0 (after
    the first sample, which is set before the run)."""
    model = three_kinds(tmp_path, 5.0)
    if not delay_ms:
        Path(model["payloads"]).write_text("split,bottleneck,bytes,accuracy,encode_ms,decode_ms\n"
                                           "0,raw,0,0.76,0,0\n1,b,400,0.75,0.2,0.1\n2,none,0,0.76,0,0\n")
    network = {"uplink": {"kind": "constant", "rate_mbps": 8, "delay_ms": delay_ms},
               "downlink": {"kind": "constant", "rate_mbps": 8, "delay_ms": delay_ms}, "radio": {"technology": "lte"}}
    for server in ({"server_class": "gpu"}, {"server_class": "gpu", "queue_capacity": 5}):
        fields = {"name": "samples", "seed": 1, "duration_s": 0.05, "model": model, "network": network,
                  "devices": [_periodic(0, 2, 10.0, 0.0)], "server": server, "strategy": {"kind": "local"}}
        setup = build_setup(validate_scenario(fields))  # (a server with a queue limit fed so runs on the DES)
        engine = Engine(setup, 1, monitor_period_s=0.01)
        engine.run()
        fast = run_fast(setup, 1, monitor_period_s=0.01).timeseries
        pd.testing.assert_frame_equal(fast, engine.monitor.frame(), check_exact=True)
