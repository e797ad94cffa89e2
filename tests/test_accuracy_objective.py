"""The ``accuracy`` objective (the most accurate option whose predicted latency meets the deadline) and the
``bottlenecks`` filter of adaptive strategies, against the closed form on a constant link."""

from __future__ import annotations

import pytest

from simsplit.core.errors import InputError
from simsplit.scenario import validate_scenario
from simsplit.studies.simulation import simulate

ROWS = {"r100": (1000, 0.95), "r50": (500, 0.90), "r10": (100, 0.80)}
"""Payload rows at split 0: bytes, accuracy (the local row: 50 ms on the device, accuracy 0.99)."""
SERVICE_MS, LOCAL_MS = 10.0, 50.0


def scenario(folder, rate_mbps: float, deadline_ms: float, bottlenecks=None, objective="accuracy") -> dict:
    (folder / "profile.csv").write_text("split,name,head_ms_phone,tail_ms_gpu,output_bytes\n"
                                        f"0,input,0,{SERVICE_MS},1000\n1,output,{LOCAL_MS},0,4\n")
    (folder / "payloads.csv").write_text("split,bottleneck,bytes,accuracy,encode_ms,decode_ms\n" + "".join(
        f"0,{name},{size},{accuracy},0,0\n" for name, (size, accuracy) in ROWS.items()) + "1,none,0,0.99,0,0\n")
    link = {"kind": "constant", "rate_mbps": rate_mbps}
    strategy = {"kind": "dynamic", "objective": objective, "initial_uplink_mbps": rate_mbps, "hysteresis": 0.0}
    if bottlenecks is not None:
        strategy["bottlenecks"] = bottlenecks
    return {"name": "acc", "seed": 1, "duration_s": 30, "deadline_s": deadline_ms / 1e3,
            "model": {"profile": str(folder / "profile.csv"), "payloads": str(folder / "payloads.csv"),
                      "result_bytes": 0},
            "devices": [{"name": "d", "device_class": "phone", "compute_power_w": 1.0,
                         "arrivals": {"kind": "periodic", "rate_hz": 2}}],
            "network": {"uplink": link, "downlink": {"kind": "constant", "rate_mbps": 100},
                        "radio": {"technology": "wifi"}},
            "server": {"server_class": "gpu"}, "strategy": strategy}


def expected(rate_mbps: float, deadline_ms: float, with_local: bool) -> str:
    """The most accurate row whose latency (upload + service) meets the deadline, by hand."""
    latency = {name: 8 * size / (rate_mbps * 1e3) + SERVICE_MS for name, (size, _) in ROWS.items()}
    accuracy = {name: value for name, (_, value) in ROWS.items()}
    if with_local:
        latency["none"], accuracy["none"] = LOCAL_MS, 0.99
    feasible = [name for name in latency if latency[name] <= deadline_ms]
    return max(feasible, key=accuracy.get)


@pytest.mark.parametrize("rate_mbps", [1.0, 0.4, 0.25, 0.1])
def test_the_most_accurate_option_that_meets_the_deadline(tmp_path, rate_mbps):
    result = simulate(validate_scenario(scenario(tmp_path, rate_mbps, 40.0, bottlenecks=["r*"])))
    chosen = set(result.requests["bottleneck"].astype(str))
    assert chosen == {expected(rate_mbps, 40.0, with_local=False)}
    assert result.summary["accuracy"] == pytest.approx(ROWS[chosen.pop()][1])


def test_without_the_filter_the_local_row_competes(tmp_path):
    """Local (0.99, 50 ms) wins once the deadline allows it; a 40 ms deadline rules it out."""
    assert expected(1.0, 60.0, with_local=True) == "none"
    wide = simulate(validate_scenario(scenario(tmp_path, 1.0, 60.0)))
    assert set(wide.requests["bottleneck"].astype(str)) == {"none"}
    tight = simulate(validate_scenario(scenario(tmp_path, 1.0, 40.0)))
    assert set(tight.requests["bottleneck"].astype(str)) == {expected(1.0, 40.0, with_local=True)}


def test_a_filter_matching_nothing_is_refused(tmp_path):
    with pytest.raises(InputError, match="strategy.bottlenecks: expected patterns matching"):
        validate_scenario(scenario(tmp_path, 1.0, 40.0, bottlenecks=["entropy-*"]))
        simulate(validate_scenario(scenario(tmp_path, 1.0, 40.0, bottlenecks=["entropy-*"])))
