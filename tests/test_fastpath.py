"""The fast path equals the DES request for request, on every eligible shipped scenario and on random
static scenarios; it refuses, naming why, what it cannot run."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from conftest import write_model
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simsplit import simulate
from simsplit.core.errors import InputError
from simsplit.engine import kernels
from simsplit.engine.des import Engine
from simsplit.engine.fastpath import run_fast, why_not
from simsplit.engine.setup import build_setup
from simsplit.model.server import busy_within
from simsplit.scenario import load_scenario, validate_scenario

REPO = Path(__file__).resolve().parents[1]
SHIPPED = sorted(REPO.glob("scenarios/*.yaml")) + [REPO / "scenarios" / "sweeps" / "bottlenet-base.yaml"]


def assert_same_run(setup, seed, window_rows=(None, 5)):
    """Both engines' raw outputs, every column and every server's busy intervals, bit for bit; the fast path
    in one window and in windows of a few requests (its state carried from one to the next)."""
    des = Engine(setup, seed).run()
    for rows in window_rows:
        _assert_same(des, run_fast(setup, seed) if rows is None else run_fast(setup, seed, window_rows=rows))
    return des


def _assert_same(des, fast):
    assert des.columns.keys() == fast.columns.keys()
    for name, values in des.columns.items():
        other = fast.columns[name]
        assert values.dtype == other.dtype, name
        assert np.array_equal(values, other, equal_nan=True), \
            f"{name}: first difference at row {np.flatnonzero(values != other)[:3]}"
    for a, b in zip(des.servers, fast.servers, strict=True):  # each batch's busy time in the measured window
        assert b.busy_window == (b.busy_window[0], des.end_s)
        overlap = busy_within(a.intervals.starts, a.intervals.ends, *b.busy_window)
        assert np.array_equal(overlap, b.busy_within)
        assert np.array_equal(overlap[np.asarray(a.intervals.background, dtype=bool)], b.background_busy_within)
        arrivals = [np.asarray(stream.arrivals_at_s) for stream in a.background_streams]  # the other tenants' jobs
        assert np.array_equal(np.sort(np.concatenate(arrivals)) if arrivals else np.zeros(0),
                              np.sort(np.concatenate([s.arrivals_at_s for s in b.background_streams]))
                              if b.background_streams else np.zeros(0))
        assert sum(s.rejected for s in a.background_streams) == sum(s.rejected for s in b.background_streams)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_scenarios_take_the_fast_path_where_they_can_and_it_equals_the_des(path):
    scenario = load_scenario(path)
    if scenario.sites is not None:  # one site, shortened
        from simsplit.studies.sites import site_scenario
        scenario = site_scenario(load_scenario(path, ["duration_s=30", "warmup_s=1"]), 0)
    setup = build_setup(scenario)
    reasons = why_not(setup)
    if reasons:
        assert all(":" in r for r in reasons)  # each names the group or server at fault
        return
    assert_same_run(setup, scenario.seed)
    assert simulate(scenario).summary["engine"] == {"requested": "auto", "used": "fast", "why_des": []}


def test_the_eligible_shipped_scenarios():
    eligible = {p.name for p in REPO.glob("scenarios/*.yaml") if not why_not(build_setup(load_scenario(p)))}
    assert {"default.yaml", "bottlenet-resnet50.yaml", "bottlenet-calibrated.yaml", "city.yaml",
            "server-load-step.yaml",  # other tenants merge into the fast path's server queue
            "lte-trace-tail.yaml"} <= eligible  # the RRC state machine on a processor-sharing cell
    assert "dynamic-under-load.yaml" not in eligible


SAMPLE_TRACE = str(REPO / "tests" / "data" / "traces" / "sample.csv")
CHANNELS = {
    "constant": {"kind": "constant", "rate_mbps": 2.0},
    "trace": {"kind": "trace", "file": SAMPLE_TRACE, "format": "csv", "offset_s": "random", "scale": 0.5},
    "trace-hold": {"kind": "trace", "file": SAMPLE_TRACE, "format": "csv", "end": "hold", "offset_s": 0.7},
    "steps": {"kind": "steps", "times_s": [0, 0.4, 0.7], "rates_mbps": [3, 0, 0.5], "end": "loop", "period_s": 1.3},
    "markov": {"kind": "markov", "rates_mbps": [4, 0.3], "mean_sojourn_s": [0.5, 0.2]},
    "fading": {"kind": "fading", "distance_m": 250, "coherence_s": 0.05},
    "cellular": {"kind": "cellular", "coherence_s": 0.02, "time_to_trigger_ms": 40, "interruption_ms": 30,
                 "cells": [{"name": "a", "x_m": 0, "y_m": 0}, {"name": "b", "x_m": 300, "y_m": 0}]},
    "cellular-restart": {"kind": "cellular", "coherence_s": 0.02, "time_to_trigger_ms": 40, "interruption_ms": 30,
                         "on_handover": "restart", "mapping": "shannon",
                         "cells": [{"name": "a", "x_m": 0, "y_m": 0}, {"name": "b", "x_m": 300, "y_m": 0}]},
}
DRIVING = {"kind": "route", "waypoints_m": [[-50, 10], [350, 10]], "speed_mps": [150], "end": "reverse",
           "start_gap_s": 0.3}

TENANTS = {
    "none": [],
    "poisson": [{"kind": "poisson", "rate_hz": 60, "service_ms": 6}],
    "steps": [{"kind": "utilisation_steps", "times_s": [0, 0.7, 2.5], "utilisation": [0.3, 0.9, 0.0],
               "service_ms": 4, "service_variability": {"kind": "lognormal", "cv": 0.5}}],
    "steps-loop": [{"kind": "utilisation_steps", "times_s": [0, 0.3], "utilisation": [0.8, 0.1], "end": "loop",
                    "period_s": 0.9, "service_ms": 3}],
    "mmpp": [{"kind": "mmpp", "rates_hz": [150, 5], "mean_sojourn_s": [0.4, 0.6], "service_ms": 3}],
    "two": [{"kind": "diurnal", "mean_rate_hz": 40, "amplitude": 0.8, "period_s": 2.0, "service_ms": 5,
             "service_variability": {"kind": "deterministic"}},
            {"kind": "poisson", "rate_hz": 30, "service_ms": 2}],
}
"""Other tenants on the servers (the cloud server takes the first stream only)."""

run_settings = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@run_settings
@given(groups=st.lists(st.tuples(st.integers(1, 5), st.sampled_from(["poisson", "periodic", "tied"]),
                                 st.floats(0.5, 80), st.sampled_from(["full_offload", "local", "cloud"]),
                                 st.sampled_from(sorted(CHANNELS)), st.sampled_from(sorted(CHANNELS))),
                       min_size=1, max_size=3),
       workers=st.integers(1, 4), variability=st.sampled_from(["deterministic", "lognormal", "exponential"]),
       service_ms=st.floats(0.0, 40), delay_ms=st.sampled_from([0.0, 3.0]), duration_s=st.floats(0.5, 6),
       payload=st.sampled_from(["fixed", "drawn", "zero", "curves"]), seed=st.integers(0, 2**32),
       loss=st.sampled_from([None, "arq", "erasure", "gilbert"]), tenants=st.sampled_from(sorted(TENANTS)))
def test_random_static_scenarios_equal_the_des(tmp_path, groups, workers, variability, service_ms, delay_ms,
                                               duration_s, payload, seed, loss, tenants):
    """Random fleets: ties at the server (devices sharing a phase), k workers, random service, every channel
    kind on dedicated links (traces with random offsets, cellular links with handovers), packet loss with and
    without retransmission, two servers, other tenants of every kind on them, drawn payload sizes, accuracy by
    erasures and SNR, requests in flight and lost at the end."""
    profile, payloads = write_model(tmp_path, tail_ms=service_ms, split_bytes=0.0 if payload == "zero" else 900.0,
                                    head_ms=1.0, encode_ms=0.3)
    if payload == "drawn":
        Path(payloads).write_text("split,bottleneck,bytes,accuracy,bytes_q0,bytes_q50,bytes_q100\n"
                                  "0,raw,900,0.75,100,700,4000\n1,none,0,0.8,,,\n")
    if payload == "curves":
        Path(payloads).write_text("split,bottleneck,bytes,accuracy,accuracy_erasure_0,accuracy_erasure_1,"
                                  "accuracy_snr_0,accuracy_snr_20\n0,raw,3000,0.75,0.75,0.1,0.2,0.75\n"
                                  "1,none,0,0.8,,,,\n")
    losses = {None: None, "arq": {"kind": "bernoulli", "p": 0.3, "mtu_bytes": 400},
              "erasure": {"kind": "bernoulli", "p": 0.2, "retransmit": False, "mtu_bytes": 300},
              "gilbert": {"kind": "gilbert_elliott", "loss_bad": 0.6, "p_good_bad": 0.2, "mtu_bytes": 500}}
    servers = [{"name": "edge", "server_class": "gpu", "workers": workers, "background": TENANTS[tenants],
                "service_variability": {"kind": variability, **({"cv": 0.6} if variability == "lognormal" else {})}},
               {"name": "cloud", "server_class": "gpu", "workers": 1, "extra_rtt_ms": 7.0,
                "background": TENANTS[tenants][:1]}]
    devices = []
    for i, (count, kind, rate, strategy, up, down) in enumerate(groups):
        arrivals = {"kind": "poisson", "rate_hz": rate} if kind == "poisson" else \
            {"kind": "periodic", "rate_hz": rate, **({"phase_s": 0.0} if kind == "tied" else {"jitter_s": 0.1 / rate})}
        devices.append({"name": f"g{i}", "count": count, "device_class": "phone", "compute_power_w": 2.0,
                        "arrivals": arrivals, "mobility": DRIVING,
                        "strategy": ({"kind": "full_offload", "server": "cloud"} if strategy == "cloud"
                                     else {"kind": strategy}),
                        "network": {"uplink": {**CHANNELS[up], "delay_ms": delay_ms, "loss": losses[loss]},
                                    "downlink": {**CHANNELS[down], "delay_ms": delay_ms,
                                                 "loss": losses[loss] if loss != "erasure" else None},
                                    "radio": {"technology": "lte"}}})
    scenario = validate_scenario({
        "name": "random-static", "seed": seed, "duration_s": duration_s,
        "model": {"profile": profile, "payloads": payloads, "result_bytes": 300},
        "devices": devices, "network": devices[0]["network"], "servers": servers, "strategy": {"kind": "local"}})
    setup = build_setup(scenario)
    assert why_not(setup) == []
    assert_same_run(setup, seed)


def test_ties_at_the_server_follow_the_des_event_order(tmp_path):
    """Two groups reach a random single-worker server at the same instants: g1's devices (numbered after
    g0's) arrive 0.25 s earlier on a link twice as slow. The DES serves simultaneous arrivals in the order
    their requests arrived at the devices, so g1 goes first: the service draws and the waits follow that
    order, not the devices' numbering."""
    profile, payloads = write_model(tmp_path, tail_ms=20.0, split_bytes=1000.0)  # 8000 bits, no head

    def group(name, phase_s, rate_mbps):
        return {"name": name, "count": 20, "device_class": "phone", "compute_power_w": 1,
                "arrivals": {"kind": "periodic", "rate_hz": 1.0, "phase_s": phase_s},
                "network": {"uplink": {"kind": "constant", "rate_mbps": rate_mbps},
                            "downlink": {"kind": "constant", "rate_mbps": 1}, "radio": {"technology": "wifi"}}}
    scenario = validate_scenario({
        "name": "ties", "seed": 5, "duration_s": 20, "model": {"profile": profile, "payloads": payloads},
        "devices": [group("g0", 0.5, 0.032), group("g1", 0.25, 0.016)], "network": group("x", 0, 1)["network"],
        "server": {"server_class": "gpu", "workers": 1, "service_variability": {"kind": "lognormal", "cv": 1.0}},
        "strategy": {"kind": "full_offload"}})
    des = assert_same_run(build_setup(scenario), 5)
    columns = des.columns
    first = columns["request_id"] == 0
    assert np.all(columns["server_arrival_at_s"][first] == 0.75)  # all forty at once
    order = np.argsort(columns["service_start_at_s"][first], kind="stable")
    assert set(columns["device"][first][order[:20]]) == set(range(20, 40))  # g1 first


def test_engine_fast_is_refused_where_it_cannot_run(tmp_path):
    profile, payloads = write_model(tmp_path)
    fields = {"name": "x", "duration_s": 5, "engine": "fast", "model": {"profile": profile, "payloads": payloads},
              "devices": [{"name": "d", "device_class": "phone", "compute_power_w": 1,
                           "arrivals": {"kind": "closed_loop"}}],
              "network": {"uplink": {"kind": "constant", "rate_mbps": 1},
                          "downlink": {"kind": "constant", "rate_mbps": 1}, "radio": {"technology": "wifi"}},
              "server": {"server_class": "gpu"}, "strategy": {"kind": "full_offload"}}
    with pytest.raises(InputError, match=r"engine: expected a scenario the fast path can run .* got group d: "
                                         r"closed-loop arrivals"):
        simulate(validate_scenario(fields))
    summary = simulate(validate_scenario({**fields, "engine": "auto"})).summary
    assert summary["engine"]["used"] == "des"
    assert summary["engine"]["why_des"] == ["group d: closed-loop arrivals wait for each result"]
    monitored = simulate(validate_scenario({**fields, "devices": [{**fields["devices"][0],  # a monitor runs fast
                                                                    "arrivals": {"kind": "poisson", "rate_hz": 1}}]}),
                         monitor_period_s=0.5)
    assert monitored.summary["engine"]["used"] == "fast" and len(monitored.timeseries) == 10
    assert simulate(validate_scenario({**fields, "engine": "des", "devices": [
        {**fields["devices"][0], "arrivals": {"kind": "poisson", "rate_hz": 1}}]})).summary["engine"] == \
        {"requested": "des", "used": "des", "why_des": ["engine: des"]}
    with pytest.raises(Exception, match="engine"):
        validate_scenario({**fields, "engine": "quick"})


def test_a_streamed_fast_run_gives_the_same_table_and_summary():
    scenario = load_scenario(REPO / "scenarios" / "default.yaml")
    memory = simulate(scenario)
    streamed = simulate(scenario, stream=True, stream_rows=1000)
    assert streamed.requests.equals(memory.requests)
    assert json.dumps(streamed.summary, sort_keys=True) == json.dumps(memory.summary, sort_keys=True)


@pytest.mark.skipif(not kernels.COMPILED, reason="numba is not installed: the kernels run as Python already")
def test_compiled_kernels_equal_their_python_source():
    rng = np.random.default_rng(1)
    offsets = np.array([0, 5, 5, 12], dtype=np.int64)
    at = np.concatenate([np.sort(rng.uniform(0, 3, 5)), np.sort(rng.uniform(0, 3, 7))])
    head = rng.uniform(0, 0.5, at.size)
    runs = (np.array([0, 5, 12], dtype=np.int64), np.array([2, 0], dtype=np.int64))
    factors = rng.uniform(0.5, 2, at.size)
    first_number = np.array([-3, -2, 4], dtype=np.int64)
    cases = ((kernels.event_times, lambda: (at, 0.25)),
             (kernels.processing_order, lambda: (np.round(at, 1), offsets, first_number, 7)),
             (kernels.device_compute, lambda: (at, head, *runs, np.full(3, 0.5))),
             (kernels.constant_link, lambda: (at, head, head / 3, *runs, np.zeros(3), np.array([2.0, 3.0, 5.0]))),
             (kernels.fifo_servers, lambda: (np.sort(at), head, factors, np.zeros(2), 2.5)),
             (kernels.step_finish, lambda: (np.array([0.0, 1.0, 2.0]), np.array([4.0, 0.0, 1.0]),
                                            np.array([0.0, 4.0, 4.0]), 3.5, 5.5, 1e-12, 2.75, 7.0)))
    for kernel, arguments in cases:
        compiled_args, python_args = arguments(), arguments()
        compiled, python = kernel(*compiled_args), kernel.py_func(*python_args)
        for a, b in zip(compiled if isinstance(compiled, tuple) else (compiled,),
                        python if isinstance(python, tuple) else (python,), strict=True):
            assert np.array_equal(a, b, equal_nan=True)
        for a, b in zip(compiled_args, python_args, strict=True):  # the state they carry, too
            assert np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)


@pytest.mark.skipif(not kernels.COMPILED or os.environ.get("NUMBA_DISABLE_JIT", "0") != "0",
                    reason="numba is not installed or compiles nothing: nothing is cached")
def test_the_compiled_loops_cache_is_keyed_by_every_kernel_module(tmp_path):
    """numba checks a cached loop against its own module only, while a loop carries the code of what it calls
    elsewhere (cell_kernel inlines kernels.link_finish): every module that defines a compiled loop is in
    KERNEL_MODULES, every loop is cached under kernel_cache_dir(), and an edit to one kernel module moves that
    folder (a copy of the package with a comment added to kernels.py, asked in a separate process)."""
    import re
    import shutil
    import subprocess
    import sys

    from simsplit.core import compiling
    from simsplit.engine import cell_kernel, radio_kernel, server_kernel, tail_kernel
    from simsplit.model.channel import loss_kernel
    package = Path(compiling.__file__).resolve().parents[1]
    defining = {str(path.relative_to(package)) for path in package.rglob("*.py")
                if re.search(r"^@(compiled|inlined)$", path.read_text(), re.MULTILINE)}
    assert defining <= set(compiling.KERNEL_MODULES)
    folder = compiling.kernel_cache_dir()
    for module in (kernels, cell_kernel, radio_kernel, server_kernel, tail_kernel, loss_kernel):
        loops = [value for value in vars(module).values() if hasattr(value, "py_func")]
        assert loops
        for loop in loops:
            assert Path(loop._cache._cache_path).is_relative_to(folder), loop

    def folder_of(root: Path) -> str:
        code = "from simsplit.core.compiling import kernel_cache_dir; print(kernel_cache_dir())"
        return subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True,
                              check=True).stdout.strip()
    copy = tmp_path / "simsplit"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert folder_of(tmp_path) == str(folder)
    with (copy / "engine" / "kernels.py").open("a") as source:
        source.write("# edited\n")
    assert folder_of(tmp_path) != str(folder)


@pytest.mark.skipif(not kernels.COMPILED, reason="numba is not installed: nothing is cached")
def test_the_compiled_loops_are_not_cached_beside_their_source_where_their_folder_cannot_be_written(tmp_path):
    """A cache folder that cannot be written (here under a file) leaves the loops uncached — numba would
    otherwise fall back to its folder beside the source, checked against one module only; with no home folder
    known at all, the folder is under the temporary folder. Each asked in a separate process."""
    import subprocess
    import sys
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    code = ("from simsplit.core import compiling; from simsplit.engine import kernels; "
            "print(compiling.CACHED, type(kernels.fifo_servers._cache).__name__)")
    env = {**os.environ, "XDG_CACHE_HOME": str(blocker / "cache")}
    env.pop("NUMBA_CACHE_DIR", None)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "NullCache"], done.stdout
    homeless = ("import os, pwd, tempfile; os.environ.pop('HOME', None); "
                "pwd.getpwuid = lambda uid: (_ for _ in ()).throw(KeyError(uid)); "
                "from simsplit.core.compiling import kernel_cache_dir; "
                "print(kernel_cache_dir().is_relative_to(tempfile.gettempdir()))")
    env = {name: value for name, value in os.environ.items() if name not in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME")}
    done = subprocess.run([sys.executable, "-c", homeless], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "True", done.stdout


@pytest.mark.parametrize(("copies", "rows_together", "compiled_above"),
                         [(1, 8, 256), (5, 1, 256), (5, 8, 256), (5, 8, 16), (5, 10**9, 256)])
def test_merged_arrivals_replay_simpy_order_across_slabs(monkeypatch, copies, rows_together, compiled_above):
    """Devices with tied periodic instants (phase 0 at 1, 2 and 4 Hz), jittered periodic ones and Poisson
    ones at several rates, handed out in slabs of random lengths, come in exactly the order a bare SimPy
    environment processes them when each arrival schedules the next (the engine's way), with SimPy's clock
    at each: whether devices draw their instants one by one, many together (``ahead_rows``), or together
    until their blocks grow long and then one by one."""
    import simpy

    from simsplit.core.schedule import call_after
    from simsplit.engine import merged_arrivals
    from simsplit.engine.merged_arrivals import MergedArrivals
    from simsplit.model.arrivals import PeriodicArrivals, PoissonArrivals

    monkeypatch.setattr(merged_arrivals, "ROWS_TOGETHER", rows_together)
    monkeypatch.setattr(merged_arrivals, "COMPILED_ABOVE", compiled_above)

    def processes():
        rng = np.random.default_rng(3)
        fleet = []
        for copy in range(copies):
            fleet += [PeriodicArrivals(rate, 0.0, 0.0, rng) for rate in (1.0, 2.0, 4.0, 2.0)]
            fleet += [PoissonArrivals(rate, np.random.default_rng(10 * copy + k)) for k, rate in
                      enumerate((3.0, 3.0, 0.2, 9.0, 40.0))]
            fleet += [PeriodicArrivals(rate, 0.1, None, np.random.default_rng(100 + 10 * copy + k)) for k, rate in
                      enumerate((2.0, 2.0, 5.0))] * (copies > 1)
        return fleet

    end_s = 30.0
    env, seen = simpy.Environment(), []

    def arrive(event):
        d, at = event._value
        seen.append((d, at, env.now, sum(1 for s in seen if s[0] == d)))
        schedule(d, at)

    def schedule(d, now_s):
        at = sources[d].next_at(now_s)
        if at < end_s:
            delay = at - env._now
            call_after(env, max(0.0, delay), (d, at), arrive)

    sources = processes()
    for d in range(len(sources)):
        schedule(d, 0.0)
    env.run(until=end_s)

    merged, handed, until = MergedArrivals(processes(), end_s), [], 0.0
    rng = np.random.default_rng(9)
    while until < end_s:
        until = min(until + float(rng.choice([0.01, 0.5, 1.0, 3.7])), end_s)
        device, at, clock, request_id = merged.slab(until)
        handed += list(zip(device.tolist(), at.tolist(), clock.tolist(), request_id.tolist(), strict=True))
    assert len(seen) > 300 and handed == seen


def _bits(values: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.float64).view(np.int64)


def test_clocks_equal_simpys_float_operations_bit_for_bit():
    """MergedArrivals takes each clock as its instant where that is exact and follows the rest one by one
    (compiled for many): the same bits as SimPy's operations one by one (the compiled loop), for sorted
    blocks from 0 and from a clock, tiny and subnormal steps, zeros of both signs, instants before the clock
    (held at the clock), jumbled blocks and infinity; and the shortcut is taken (clocks are not all
    followed one by one) where it may be."""
    from simsplit.engine import merged_arrivals
    from simsplit.engine.merged_arrivals import _clocks
    rng = np.random.default_rng(1)
    cases = []
    for n in (1, 2, 7, 200, 300):
        for now in (0.0, -0.0, 1e-300, 0.123, 3.3, 1e9):
            cases.append((now + np.cumsum(rng.exponential(0.05, n)), now))  # sorted
            cases.append((now * rng.random() + np.cumsum(rng.exponential(0.05, n)), now))  # some before the clock
            jumbled = rng.uniform(now - 1.0, now + 1e3, n)
            jumbled[: n // 2].sort()
            cases.append((jumbled, now))
    cases += [(np.array([0.0, -0.0, 0.0, 5e-324, 1e-323, 1.0, -0.0, 2.0]), now) for now in (0.0, -0.0, 5e-324)]
    cases += [(np.array([1.0, np.inf, 2.0, np.inf]), 0.5), (np.cumsum(np.full(50, 0.1)), 0.0),
              (rng.uniform(0.0, 10.0, 2000), 0.0),  # mostly followed one by one: compiled
              (1e-3 * np.cumprod(rng.uniform(1.5, 4.0, 60)), 1e-3)]  # steps beyond twice the clock
    held, calls = 0, []
    for at, now in cases:
        clocks = _clocks(at, now)
        assert np.array_equal(_bits(clocks), _bits(kernels.event_times(at, now))), (at, now)
        held += int((clocks != at).sum())
        calls.append(int((~merged_arrivals._exact(at, np.concatenate(([now], at[:-1])))).sum()))
    assert held > 0 and min(calls) == 0 and max(calls) > merged_arrivals.COMPILED_ABOVE


def test_clocks_of_many_devices_equal_each_device_alone():
    """Devices drawing together get their clocks a column at a time where some may not be their instants:
    the same bits as each row alone, which are not always the instants themselves (an ulp apart, or held
    at the clock); blocks whose inexact steps are all early (sorted from 0), in one row only, or none."""
    from simsplit.engine.merged_arrivals import _clock_rows, _clocks
    rng = np.random.default_rng(2)
    now = rng.uniform(0.0, 50.0, 40) * (rng.random(40) < 0.5)  # half at 0, half far from their instants
    gaps = rng.exponential(0.7, (40, 33)) * rng.uniform(1.0, 300.0, (40, 33)) ** (rng.random((40, 33)) < 0.3)
    at = 0.3 * now[:, None] + np.cumsum(gaps, axis=1)  # some instants before the clock
    sorted_from_zero = np.cumsum(rng.exponential(0.7, (40, 64)), axis=1)
    one_row = 100.0 + sorted_from_zero
    one_row[7, 20:] = one_row[7, 20:] * 3.7  # a step beyond twice the clock, then held
    one_row[7, 21:30] = one_row[7, 21] - 50.0
    cases = [(at, now), (sorted_from_zero, np.zeros(40)), (one_row, np.full(40, 99.0)),
             (sorted_from_zero + 1e3, np.full(40, 1e3))]
    for block, clock in cases:
        rows = _clock_rows(block, clock)
        for r in range(40):
            assert np.array_equal(_bits(rows[r]), _bits(_clocks(block[r], float(clock[r])))), r
    rows = _clock_rows(at, now)
    running_max = np.maximum.accumulate(np.hstack((now[:, None], at)), axis=1)[:, 1:]
    assert (rows != running_max).any() and (rows != at).any()
    assert (_clock_rows(one_row, np.full(40, 99.0))[7] != one_row[7]).any()


def test_streams_hashed_together_equal_numpy_seed_sequences():
    """RandomStreams.prepare hashes many streams' seeds at once: the same words as numpy's SeedSequence for
    every seed size and key length (a key below 2**32 is one word of entropy), and the same draws."""
    from simsplit.core.streams import RandomStreams, seed_words, stream_key

    keys = [stream_key(f"devices/phones/{i}/arrivals") for i in range(200)] + [0, 1, 2**32 - 1, 2**32, 2**64 - 1]
    for seed in (0, 1, 12345, 2**32 + 5, 2**70 + 3, 2**128 - 1):
        words = seed_words(seed, keys)
        for key, row in zip(keys, words, strict=True):
            assert (np.random.SeedSequence(seed, spawn_key=(key,)).generate_state(4, np.uint64) == row).all()
    hashed = RandomStreams(7)
    hashed.prepare(["a/arrivals", "b/arrivals"])
    assert (hashed.generator("b/arrivals").random(8) == RandomStreams(7).generator("b/arrivals").random(8)).all()
    from simsplit.core import streams
    streams._HASHED.clear()
    for _ in range(2):  # hashed afresh, then from the words kept for this seed: the same draws
        again = RandomStreams(7)
        again.prepare(["a/arrivals", "b/arrivals"])
        assert (again.generator("b/arrivals").random(8) == RandomStreams(7).generator("b/arrivals").random(8)).all()
    assert (7, "a/arrivals") in streams._HASHED
    many = RandomStreams(8)
    many.prepare([f"s{i}" for i in range(streams.HASHED_KEPT + 1 - len(streams._HASHED))])  # past the bound
    assert len(streams._HASHED) <= streams.HASHED_KEPT
    big = RandomStreams(2**130)  # beyond four words: numpy's own hashing, as before
    big.prepare(["a"])
    assert (big.generator("a").random(4) == np.random.default_rng(np.random.SeedSequence(2**130, spawn_key=(
        stream_key("a"),))).random(4)).all()


def test_busy_time_inside_the_measured_window_against_a_loop():
    """Each batch's busy time inside [warm-up, end], against the overlap of two intervals batch by batch
    (an end NaN: still serving at the end), and the summary refusing another window than the one kept."""
    from simsplit.engine.fastpath import _ServerRecord
    from simsplit.output.summary import server_totals
    rng = np.random.default_rng(3)
    starts = rng.uniform(0.0, 120.0, 500)
    ends = starts + rng.exponential(4.0, 500)
    ends[rng.random(500) < 0.1] = np.nan
    warmup, end = 10.0, 100.0
    expected = [max(min(end if np.isnan(e) else e, end) - max(s, warmup), 0.0)
                for s, e in zip(starts, ends, strict=True)]
    assert busy_within(starts, ends, warmup, end).tolist() == pytest.approx(expected, abs=1e-12)
    record = _ServerRecord("edge", busy_within(starts, ends, warmup, end), np.zeros(0), (warmup, end), None)
    assert server_totals(record, warmup, end) == (pytest.approx(sum(expected)), 0.0, 0, 0)
    others = np.arange(0, 500, 7)  # every seventh batch another tenant's, and their jobs' arrivals
    record = _ServerRecord("edge", busy_within(starts, ends, warmup, end),
                           busy_within(starts[others], ends[others], warmup, end), (warmup, end), starts[others])
    assert server_totals(record, warmup, end) == (
        pytest.approx(sum(expected)), pytest.approx(sum(expected[k] for k in others)),
        int((starts[others] >= warmup).sum()), 0)
    with pytest.raises(ValueError, match="busy times kept for"):
        server_totals(record, 0.0, end)


def test_an_overloaded_run_hands_out_chunks_that_do_not_pin_their_buffers(tmp_path):
    """Under a backlog each window settles few rows: a chunk kept as a view of its window's buffer kept the whole
    buffer alive (3.4 GB where 1.1 GB do at load 1.2). No chunk holds more than twice its own rows."""
    from conftest import queue_scenario

    from simsplit.engine.fastpath import _FastRun
    scenario = validate_scenario(queue_scenario(tmp_path, rate_hz=1000, service_ms=1.2, duration_s=20, warmup_s=0))
    for chunk in _FastRun(build_setup(scenario), 1).chunks(2000):
        for name, values in chunk.items():
            held = values if values.base is None else values.base
            assert held.size <= 2 * max(values.size, 1), name


def test_a_plugin_intensity_derived_from_a_step_path_goes_through_its_own_arithmetic():
    """The compiled tenant arrivals copy StepChannel's and ConstantChannel's own arithmetic: a subclass (a plugin's
    intensity) that counts differently is drawn through its own finish_time, one job at a time."""
    from simsplit.engine.fastpath_tenants import _BlockTenant, tenant_jobs
    from simsplit.model.background import BackgroundDraws, BackgroundSource
    from simsplit.model.channel import StepChannel

    class Doubled(StepChannel):
        def finish_time(self, start_s, size_bits):
            return super().finish_time(start_s, 2 * size_bits)

    def source(channel):
        return BackgroundSource(channel, np.random.default_rng(1), lambda g, n: np.ones(n), 0.001)
    assert isinstance(tenant_jobs(source(StepChannel([0.0], [50.0])), 10.0), _BlockTenant)
    jobs = tenant_jobs(source(Doubled([0.0], [50.0])), 10.0)
    assert isinstance(jobs, BackgroundDraws)
    arrivals, _ = jobs.until(10.0)
    assert 150 < arrivals.size < 350  # about 25 jobs/s, not 50
