"""The oracle that knows only the present (``knows: present``): each transfer priced at the capacity its link
delivered over the window before the decision, held; against decisions and costs worked out by hand on a link
that stalls, and against the oracle that knows the future on the same link."""

from __future__ import annotations

import math

from conftest import write_model

from simsplit import simulate
from simsplit.scenario import validate_scenario


def stall_scenario(folder, knows: str) -> dict:
    """One device every 0.5 s from 0.5 s; sending the input (62,500 bytes = 0.5 Mbit) over an uplink of 1 Mbit/s
    that stalls from 1.0 to 2.0 s and then carries 10 Mbit/s (no delay); running it locally takes 0.8 s; the
    server's part 10 ms; a 10 Mbit/s downlink of a 1000-byte result."""
    profile, payloads = write_model(folder, head_ms=800.0, tail_ms=10.0, split_bytes=62_500)
    return {
        "name": "stall", "seed": 1, "duration_s": 3.2,
        "model": {"profile": profile, "payloads": payloads, "result_bytes": 0},
        "devices": [{"name": "d", "device_class": "phone", "compute_power_w": 2.0,
                     "arrivals": {"kind": "periodic", "rate_hz": 2.0, "phase_s": 0.5}}],
        "network": {"uplink": {"kind": "steps", "times_s": [0, 1.0, 2.0], "rates_mbps": [1, 0, 10]},
                    "downlink": {"kind": "constant", "rate_mbps": 10}, "radio": {"technology": "wifi"}},
        "server": {"name": "server", "server_class": "gpu", "workers": 1,
                   "service_variability": {"kind": "deterministic"}},
        "strategy": {"kind": "oracle", "knows": knows},
    }


def splits(result) -> dict[float, int]:
    requests = result.requests.sort_values("arrival_at_s")
    return {round(float(at), 6): int(split)
            for at, split in zip(requests["arrival_at_s"], requests["split"], strict=True)}


def test_an_oracle_of_the_present_holds_the_last_windows_capacity(tmp_path):
    """At 0.5 s the link carried 1 Mbit/s over the last 0.1 s: the upload takes 0.5 s, under the local 0.8 s,
    so both oracles send (it ends at 1.0, just as the stall begins). At 1.0 s the window (0.9-1.0) still
    carried 1 Mbit/s: the present oracle sends (0.5 s expected), the future oracle knows the stall (the upload
    would end at 2.05) and runs locally (busy until 1.8). At 1.5 s the window carried nothing: the present
    oracle runs locally; the future oracle knows the link is back at 2.0 (done at ~2.06, 0.56 s, under the
    local 0.8 s plus its wait for the processor) and sends. At 2.0 s the window (1.9-2.0) carried nothing: the
    present oracle runs locally again, the future one sends (0.05 s). At 2.5 s the window carried 10 Mbit/s: both
    send."""
    present = simulate(validate_scenario(stall_scenario(tmp_path, "present")))
    future = simulate(validate_scenario(stall_scenario(tmp_path, "future")))
    assert splits(present) == {0.5: 0, 1.0: 0, 1.5: 1, 2.0: 1, 2.5: 0, 3.0: 0}
    assert splits(future) == {0.5: 0, 1.0: 1, 1.5: 0, 2.0: 0, 2.5: 0, 3.0: 0}
    requests = present.requests.set_index("arrival_at_s")
    # the 1.0 s request of the present oracle waits the stall out: its 0.5 Mbit leave the link at 2.05 s
    assert math.isclose(requests.loc[1.0, "uplink_start_at_s"] + requests.loc[1.0, "uplink_s"], 2.05)
    assert present.summary["latency_s"]["mean"] > future.summary["latency_s"]["mean"]


def test_the_present_window_at_the_start_reads_the_rate_then(tmp_path):
    """A decision at 0 s has no window behind it: the rate at that instant stands."""
    data = stall_scenario(tmp_path, "present")
    data["devices"][0]["arrivals"]["phase_s"] = 0.0
    result = simulate(validate_scenario(data))
    assert splits(result)[0.0] == 0
