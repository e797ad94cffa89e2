"""Trace readers on the project's own samples of every format (tests/data/traces) and on every real trace in
../shared/traces-real, their conventions, and their errors."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import REPO, SHARED, needs_shared, write_model

from simsplit import simulate
from simsplit.core.errors import InputError
from simsplit.model.channel.replay import trace_channel
from simsplit.model.channel.traces import MAHIMAHI_PACKET_BITS, read_trace, write_trace
from simsplit.scenario import validate_scenario

REAL = SHARED / "traces-real"
SAMPLES = REPO / "tests" / "data" / "traces"
UCC = "ucc-5g/Download_Driving_B_2020.02.13_13.03.24.csv"


def raw_integral(path, fmt: str) -> float:
    """Bits the trace offers, computed from the file directly (not through the readers)."""
    text = path.read_text()
    if fmt == "mahimahi":
        return len(text.split()) * MAHIMAHI_PACKET_BITS
    if fmt == "pensieve":
        rows = np.array([[float(v) for v in line.split()] for line in text.splitlines() if line.strip()])
        return float((np.diff(rows[:, 0]) * rows[1:, 1] * 1e6).sum())
    if fmt == "csv":  # time_ms, rate_kbps: each rate holds until the next row's time
        rows = np.array([[float(v) for v in line.split(",")[:2]] for line in text.splitlines()[1:] if line.strip()])
        return float((np.diff(rows[:, 0]) / 1e3 * rows[:-1, 1] * 1e3).sum())
    raise ValueError(fmt)


SAMPLE_TRACES = [("sample.mahimahi", "mahimahi", {}), ("sample.pensieve", "pensieve", {}), ("sample.csv", "csv", {}),
                 ("sample-gnettrack.csv", "gnettrack", {}), ("sample-gnettrack.csv", "gnettrack", {"direction": "up"}),
                 ("sample.mecperf", "mecperf", {})]


REAL_TRACES = [
    ("mahimahi-saturator/Verizon-LTE-short.up", "mahimahi", {}, 5.95),
    ("mahimahi-saturator/Verizon-LTE-short.down", "mahimahi", {}, 5.03),
    ("pensieve-cooked/norway_bus_1", "pensieve", {}, 2.91),
    (UCC, "gnettrack", {}, None),
    (UCC, "gnettrack", {"direction": "up"}, None),
    ("mecperf-edge-uplink/lte-TCPBandwidth-upstream-noise0M_Client-Observer_edge.txt", "mecperf", {}, None),
]


@needs_shared
@pytest.mark.parametrize("name,fmt,options,mean_mbps", REAL_TRACES,
                         ids=[f"{t[1]}-{i}" for i, t in enumerate(REAL_TRACES)])
def test_real_trace_loads_and_replays(tmp_path, name, fmt, options, mean_mbps):
    check_trace_replays(tmp_path, REAL / name, fmt, options, mean_mbps)


@pytest.mark.parametrize("name,fmt,options", SAMPLE_TRACES, ids=[f"{t[1]}-{i}" for i, t in enumerate(SAMPLE_TRACES)])
def test_sample_trace_loads_and_replays(tmp_path, name, fmt, options):
    check_trace_replays(tmp_path, SAMPLES / name, fmt, options, None)


def check_trace_replays(tmp_path, path, fmt, options, mean_mbps):
    trace = read_trace(path, fmt, **options)
    stats = trace.statistics()
    assert stats["duration_s"] > 0 and stats["min_bps"] >= 0
    if mean_mbps is not None:  # time-weighted means as stated in traces-real/SOURCES.md
        assert stats["mean_bps"] / 1e6 == pytest.approx(mean_mbps, abs=0.01)
    channel = trace_channel(trace, 1.0, "loop")
    offered = float((trace.rates_bps * trace.durations_s()).sum())
    if fmt in ("mahimahi", "pensieve", "csv"):
        assert offered == pytest.approx(raw_integral(path, fmt), rel=1e-9)
    # the link delivers exactly the integral of the rate, over one pass and over two (looping)
    assert channel.bits_between(0, trace.period_s) == pytest.approx(offered, rel=1e-9)
    assert channel.finish_time(0.0, 2 * offered) <= 2 * trace.period_s + 1e-9
    assert channel.bits_between(0.0, channel.finish_time(0.0, 2 * offered)) == pytest.approx(2 * offered, rel=1e-9)
    # replayed by the engine: every upload takes exactly the time the trace needs to carry its bits
    profile, payloads = write_model(tmp_path, split_bytes=50_000, tail_ms=1)
    link = {"kind": "trace", "file": str(path), "format": fmt, **options}
    scenario = validate_scenario({
        "name": "replay", "duration_s": min(trace.period_s, 600.0),
        "model": {"profile": profile, "payloads": payloads},
        "devices": [{"name": "d", "device_class": "phone", "compute_power_w": 1,
                     "arrivals": {"kind": "closed_loop", "think_s": 0.2}}],
        "network": {"uplink": link, "downlink": {"kind": "constant", "rate_mbps": 10}, "radio": {"technology": "lte"}},
        "server": {"server_class": "gpu"}, "strategy": {"kind": "full_offload"}})
    r = simulate(scenario).requests
    done = r[r["status"] == "completed"]
    assert len(done) > 0
    start = (done["arrival_at_s"] + done["device_wait_s"] + done["head_s"] + done["uplink_wait_s"]).to_numpy()
    delivered = np.array([channel.bits_between(a, a + d) for a, d in zip(start, done["uplink_s"], strict=True)])
    if trace.opportunities_s is None:
        assert np.allclose(delivered, 50_000 * 8, rtol=1e-9)
    else:  # whole opportunities: the upload ends at the first instant by which enough of them have passed
        assert np.all(delivered >= 50_000 * 8)
        before = np.array([channel.bits_between(a, (a + d) - 1e-7)
                           for a, d in zip(start, done["uplink_s"], strict=True)])
        assert np.all(before < 50_000 * 8)


def test_pensieve_row_covers_the_interval_ending_at_its_time(tmp_path):
    path = tmp_path / "t"
    path.write_text("0.0\t9.0\n1.0\t2.0\n3.0\t4.0\n")
    trace = read_trace(path, "pensieve")
    assert trace.times_s.tolist() == [0.0, 1.0] and trace.rates_bps.tolist() == [2e6, 4e6]
    assert trace.period_s == 3.0


def test_mahimahi_constant_link(tmp_path):
    path = tmp_path / "t"
    path.write_text("\n".join(["1"] * 1 + [str(ms) for ms in range(2, 1001)]) + "\n")  # one packet per ms
    trace = read_trace(path, "mahimahi", window_ms=100)
    assert trace.period_s == 1.0
    assert trace.rates_bps[1:-1] == pytest.approx(12e6)  # 1500 bytes per ms = 12 Mbit/s


@needs_shared
def test_write_and_read_back_round_trip(tmp_path):
    original = read_trace(REAL / "pensieve-cooked/norway_bus_1", "pensieve")
    for fmt in ("csv", "pensieve"):
        write_trace(original, tmp_path / f"x.{fmt}", fmt)
        again = read_trace(tmp_path / f"x.{fmt}", fmt)
        assert again.statistics()["mean_bps"] == pytest.approx(original.statistics()["mean_bps"], rel=1e-4)
    write_trace(original, tmp_path / "x.mm", "mahimahi")
    again = read_trace(tmp_path / "x.mm", "mahimahi", window_ms=1000)
    offered = (original.rates_bps * original.durations_s()).sum()
    assert (again.rates_bps * again.durations_s()).sum() == pytest.approx(offered, abs=MAHIMAHI_PACKET_BITS)


@pytest.mark.parametrize("fmt,text,match", [
    ("mahimahi", "", r"t: expected trace samples, got an empty file"),
    ("mahimahi", "5\n7\n6\n", r"t: line 3: expected a timestamp >= 7 \(non-decreasing\), got 6"),
    ("mahimahi", "5\nx\n", r"t: line 2: expected a non-negative integer millisecond timestamp, got 'x'"),
    ("pensieve", "0 1\n2 -3\n", r"t: line 2, column 2: expected rate \(Mbps\) >= 0, got -3$"),  # in the file's units
    ("csv", "time_ms,rate_kbps\n0,5\n10,-2.5\n20,1\n",
     r"t: line 3, column rate_kbps: expected rate_kbps >= 0, got -2.5$"),
    ("csv", "time_ms,rate_kbps\n0,5\n10,2\n10,1\n",
     r"t: line 4: expected a time after time_ms 10 \(times must increase\), got time_ms 10$"),
    ("pensieve", "0 1\n\u0663 2\n", r"t: line 2, column 1: expected time \(s\) as a number in ASCII digits"),
    ("mahimahi", "1\n\u0663\n", r"t: line 2: expected a non-negative integer millisecond timestamp"),
    ("pensieve", "0 1\n1 1e400\n", r"t: line 2, column 2: expected rate \(Mbps\) as a finite number"),
    ("pensieve", "0 1\n2 3\n1 3\n", r"t: line 3: expected a time after 2 \(times must increase\), got 1$"),
    ("pensieve", "0 1 2\n", r"t: line 1: expected two numbers 'time_s Mbps'"),
    ("csv", "time_s,rate_mbps\n0,1\n", r"t: expected at least two data rows \(the last marks the end\), got 1"),
    ("csv", "time_s,bandwidth\n0,1\n", r"t: line 1: expected one time column \(time_s/time_ms\) and one rate column"),
    ("csv", "time_ms,rate_kbps\n0,100\n10,fast\n",
     r"t: line 3, column rate_kbps: expected rate_kbps as a number, got 'fast'"),
    ("gnettrack", "Timestamp,State\n2020.01.01_00.00.00,D\n", r"t: line 1: expected a column 'DL_bitrate'"),
    ("gnettrack", "Timestamp,DL_bitrate,State\n2020.01.01_00.00.05,10,D\n2020.01.01_00.00.04,10,D\n",
     r"t: line 3, column Timestamp: expected time not before the previous row"),
    ("mecperf", "2020-04-01 10:00:00.000000_5.0,yesterday_4\n",
     r"t: line 1: expected 'YYYY-MM-DD HH:MM:SS.ffffff_<Mbps>'"),
])
def test_malformed_traces_name_file_and_line(tmp_path, fmt, text, match):
    path = tmp_path / "t"
    path.write_text(text)
    with pytest.raises(InputError, match=match):
        read_trace(path, fmt)


def test_scenario_with_a_bad_trace_fails_at_load(tmp_path):
    from simsplit.engine.setup import build_setup
    bad = tmp_path / "bad.csv"
    bad.write_text("time_s,rate_mbps\n0,1\n1,-2\n2,1\n")
    profile, payloads = write_model(tmp_path)
    scenario = validate_scenario({
        "name": "x", "duration_s": 1, "model": {"profile": profile, "payloads": payloads},
        "devices": [{"name": "d", "device_class": "phone", "compute_power_w": 1,
                     "arrivals": {"kind": "poisson", "rate_hz": 1}}],
        "network": {"uplink": {"kind": "trace", "file": str(bad), "format": "csv"},
                    "downlink": {"kind": "constant", "rate_mbps": 1}, "radio": {"technology": "lte"}},
        "server": {"server_class": "gpu"}, "strategy": {"kind": "full_offload"}})
    with pytest.raises(InputError, match=r"bad\.csv: line 3, column rate_mbps: expected rate_mbps >= 0, got -2$"):
        build_setup(scenario)


def test_a_huge_mahimahi_gap_reads_exactly_and_binning_it_finely_is_refused(tmp_path):
    path = tmp_path / "gap.mm"
    path.write_text("1\n99999999999999\n")  # two opportunities 3,000 years apart
    trace = read_trace(path, "mahimahi")
    assert trace.times_s.size <= 1_000_000 and trace.opportunities_s.tolist() == [0.001, 99999999999.999]
    with pytest.raises(InputError, match=r"gap\.mm: window_ms: expected a window that cuts the 99999999999999 ms "
                                         r"trace into at most 10,000,000 bins, got 1 ms"):
        read_trace(path, "mahimahi", window_ms=1)


def test_csv_with_a_byte_order_mark_reads(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("time_s,rate_mbps\n0,2\n1,4\n".encode("utf-8-sig"))
    trace = read_trace(path, "csv")
    assert trace.rates_bps.tolist() == [2e6] and trace.period_s == 1.0
