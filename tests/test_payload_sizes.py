"""Per-request payload sizes drawn from a payload row's size distribution (bytes_q<percent> columns)."""

from __future__ import annotations

import numpy as np
import pytest

from simsplit.core.errors import InputError
from simsplit.engine.request_steps import quantile_draw
from simsplit.scenario import validate_scenario
from simsplit.scenario.payloads import load_payloads
from simsplit.studies.simulation import simulate

PROFILE = "split,name,head_ms_phone,tail_ms_gpu,output_bytes\n0,input,0,2,1000\n1,out,1,0,4\n"
TABLE = ("split,bottleneck,bytes,accuracy,bytes_q0,bytes_q50,bytes_q95,bytes_q100\n"
         "0,jpeg,3000,0.75,1000,2500,6000,9000\n1,none,0,0.8,,,,\n")


def scenario(tmp_path, table: str = TABLE, rate_hz: float = 20.0, seed: int = 1) -> dict:
    (tmp_path / "profile.csv").write_text(PROFILE)
    (tmp_path / "payloads.csv").write_text(table)
    return {"name": "sizes", "seed": seed, "duration_s": 400.0,
            "model": {"profile": str(tmp_path / "profile.csv"), "payloads": str(tmp_path / "payloads.csv")},
            "devices": [{"name": "d", "count": 2, "device_class": "phone", "compute_power_w": 1.0,
                         "arrivals": {"kind": "poisson", "rate_hz": rate_hz}}],
            "network": {"uplink": {"kind": "constant", "rate_mbps": 50.0},
                        "downlink": {"kind": "constant", "rate_mbps": 50.0}, "radio": {"technology": "wifi"}},
            "server": {"server_class": "gpu", "workers": 8}, "strategy": {"kind": "full_offload"}}


def test_quantile_draw_is_the_piecewise_linear_quantile_function():
    probabilities, values = (0.0, 0.5, 0.95, 1.0), (1000.0, 2500.0, 6000.0, 9000.0)
    assert quantile_draw(probabilities, values, 0.0) == 1000.0
    assert quantile_draw(probabilities, values, 0.25) == 1750.0
    assert quantile_draw(probabilities, values, 0.95) == 6000.0
    assert quantile_draw(probabilities, values, 0.975) == 7500.0
    assert quantile_draw(probabilities, values, 0.9999999) < 9000.0


def test_each_request_draws_its_size_and_the_summary_reports_it(tmp_path):
    result = simulate(validate_scenario(scenario(tmp_path)))
    done = result.requests[result.requests["status"] == "completed"]
    sizes = done["bytes_up"].to_numpy()
    entry = load_payloads(tmp_path / "payloads.csv").get(0, "jpeg")
    # the draws follow the table: quantiles and mean of the piecewise-linear quantile function
    assert sizes.min() >= 1000 and sizes.max() <= 9000 and len(sizes) > 10_000
    assert np.array_equal(sizes, np.ceil(sizes))  # whole bytes: a coder writes no fraction of one
    assert np.quantile(sizes, 0.5) == pytest.approx(2500, rel=0.03)
    assert np.quantile(sizes, 0.95) == pytest.approx(6000, rel=0.03)
    assert sizes.mean() == pytest.approx(entry.quantile_mean(), rel=0.02)
    # every upload carries exactly its own payload on the constant 50 Mbps link
    assert np.allclose(done["uplink_s"], sizes * 8 / 50e6, rtol=1e-12)
    assert np.array_equal(done["bytes_sent_up"].to_numpy(), sizes)
    summary = result.summary
    assert summary["bytes_up"] == pytest.approx(sizes.mean()) and summary["bytes_up_p95"] == np.quantile(sizes, 0.95)
    # reproducible, and on the device's own stream: the arrivals do not change with the sizes
    again = simulate(validate_scenario(scenario(tmp_path)))
    assert np.array_equal(again.requests["bytes_up"], result.requests["bytes_up"])
    fixed = tmp_path / "fixed"
    fixed.mkdir()
    plain = simulate(validate_scenario(scenario(fixed, "split,bottleneck,bytes,accuracy\n0,jpeg,3000,0.75\n"
                                                       "1,none,0,0.8\n")))
    assert np.array_equal(plain.requests["arrival_at_s"], result.requests["arrival_at_s"])
    assert (plain.requests.loc[plain.requests["status"] == "completed", "bytes_up"] == 3000).all()


@pytest.mark.parametrize("table,match", [
    ("split,bottleneck,bytes,accuracy,bytes_q50,bytes_q100\n0,j,3,0.7,2,4\n1,none,0,0.8,,\n",
     r"header: expected bytes_q0 and bytes_q100"),
    ("split,bottleneck,bytes,accuracy,bytes_q0,bytes_q50,bytes_q100\n0,j,3,0.7,2,5,4\n1,none,0,0.8,,,\n",
     r"line 2, column bytes_q100: expected sizes non-decreasing with the percent, got 4 after 5"),
    ("split,bottleneck,bytes,accuracy,bytes_q0,bytes_qx,bytes_q100\n0,j,3,0.7,2,5,6\n1,none,0,0.8,,,\n",
     r"header: expected columns bytes_q<level> with a level in 0..100, got 'bytes_qx'"),
    ("split,bottleneck,bytes,accuracy,bytes_q0,bytes_q100\n0,j,3,0.7,-2,5\n1,none,0,0.8,,\n",
     r"line 2, column bytes_q0: expected a number >= 0"),
])
def test_bad_size_distributions_are_refused(tmp_path, table, match):
    (tmp_path / "payloads.csv").write_text(table)
    with pytest.raises(InputError, match=match):
        load_payloads(tmp_path / "payloads.csv")
