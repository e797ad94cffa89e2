"""Accuracy under channel errors: payload rows with accuracy_erasure_<p> / accuracy_snr_<dB> columns make a
request's accuracy follow the channel it was sent over."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simsplit.core.errors import InputError
from simsplit.model.channel.fading import log_distance_path_loss_db, thermal_noise_dbm
from simsplit.scenario import validate_scenario
from simsplit.scenario.payloads import load_payloads
from simsplit.studies.simulation import simulate

PROFILE = "split,name,head_ms_phone,tail_ms_gpu,output_bytes\n0,input,0,2,1000\n1,out,1,0,4\n"


def scenario(tmp_path, table: str, uplink: dict, seed: int = 2) -> dict:
    (tmp_path / "profile.csv").write_text(PROFILE)
    (tmp_path / "payloads.csv").write_text(table)
    return {"name": "accuracy", "seed": seed, "duration_s": 200.0,
            "model": {"profile": str(tmp_path / "profile.csv"), "payloads": str(tmp_path / "payloads.csv")},
            "devices": [{"name": "d", "count": 2, "device_class": "phone", "compute_power_w": 1.0,
                         "arrivals": {"kind": "poisson", "rate_hz": 20.0}}],
            "network": {"uplink": uplink, "downlink": {"kind": "constant", "rate_mbps": 50.0},
                        "radio": {"technology": "wifi"}},
            "server": {"server_class": "gpu", "workers": 8}, "strategy": {"kind": "full_offload"}}


ERASURE_TABLE = ("split,bottleneck,bytes,accuracy,accuracy_erasure_0,accuracy_erasure_0.5,accuracy_erasure_1\n"
                 "0,raw,15000,0.8,0.8,0.4,0.1\n1,none,0,0.8,,,\n")


def test_erased_packets_lower_accuracy_instead_of_losing_the_request(tmp_path):
    loss = {"kind": "bernoulli", "p": 0.2, "retransmit": False}
    result = simulate(validate_scenario(scenario(tmp_path, ERASURE_TABLE,
                                                 {"kind": "constant", "rate_mbps": 20.0, "loss": loss})))
    done = result.requests[result.requests["status"] == "completed"]
    assert result.summary["lost"] == 0 and len(done) > 5000
    # 15,000 bytes = 10 packets of 1,500: the erased fraction is k/10, the accuracy 0.8 - 0.8 (k/10) below half
    possible = {round(float(np.interp(k / 10, [0, 0.5, 1], [0.8, 0.4, 0.1])), 12) for k in range(11)}
    assert set(np.round(done["accuracy"], 12)) <= possible
    expected = sum(math.comb(10, k) * 0.2**k * 0.8**(10 - k) * np.interp(k / 10, [0, 0.5, 1], [0.8, 0.4, 0.1])
                   for k in range(11))  # E[accuracy] under Binomial(10, 0.2) erasures
    assert done["accuracy"].mean() == pytest.approx(expected, abs=0.01)
    assert result.summary["accuracy"] == pytest.approx(done["accuracy"].mean())
    # without the curve the same link loses every request with an erased packet
    plain = tmp_path / "plain"
    plain.mkdir()
    lossy = simulate(validate_scenario(scenario(plain, "split,bottleneck,bytes,accuracy\n0,raw,15000,0.8\n"
                                                       "1,none,0,0.8\n",
                                                {"kind": "constant", "rate_mbps": 20.0, "loss": loss})))
    assert lossy.summary["lost"] / lossy.summary["generated"] == pytest.approx(1 - 0.8**10, abs=0.02)


SNR_TABLE = ("split,bottleneck,bytes,accuracy,accuracy_snr_0,accuracy_snr_10,accuracy_snr_20\n"
             "0,raw,3000,0.75,0.3,0.6,0.75\n1,none,0,0.8,,,\n")


def test_accuracy_follows_the_snr_the_upload_started_in(tmp_path):
    fading = {"kind": "fading", "fading": "none", "distance_m": 250.0, "mapping": "shannon"}
    result = simulate(validate_scenario(scenario(tmp_path, SNR_TABLE, fading)))
    snr = 23.0 - log_distance_path_loss_db(250.0, 15.3, 3.76) - thermal_noise_dbm(10e6, 9.0)
    done = result.requests[result.requests["status"] == "completed"]
    assert np.allclose(done["accuracy"], np.interp(snr, [0, 10, 20], [0.3, 0.6, 0.75]), rtol=0, atol=1e-12)
    rayleigh = tmp_path / "rayleigh"
    rayleigh.mkdir()
    faded = simulate(validate_scenario(scenario(rayleigh, SNR_TABLE, {**fading, "fading": "rayleigh"})))
    accuracy = faded.requests.loc[faded.requests["status"] == "completed", "accuracy"]
    assert accuracy.nunique() > 100 and accuracy.min() >= 0.3 and accuracy.max() <= 0.75
    assert accuracy.mean() < np.interp(snr, [0, 10, 20], [0.3, 0.6, 0.75])  # deep fades cost accuracy


def test_constant_links_and_retransmission_keep_the_row_accuracy(tmp_path):
    table = SNR_TABLE.replace("accuracy_snr_20", "accuracy_erasure_0").replace("0.3,0.6,0.75", "0.3,0.6,0.7")
    loss = {"kind": "bernoulli", "p": 0.2, "retransmit": True}
    result = simulate(validate_scenario(scenario(tmp_path, table, {"kind": "constant", "rate_mbps": 20.0,
                                                                   "loss": loss})))
    done = result.requests[result.requests["status"] == "completed"]
    assert (done["accuracy"] == 0.75).all()  # ARQ repairs erasures; a constant link has no SNR


@pytest.mark.parametrize("header,match", [
    ("accuracy_erasure_1.5", r"expected columns accuracy_erasure_<level> with a level in 0\.\.1"),
    ("accuracy_snr_loud", r"expected columns accuracy_snr_<level> with a level in -100\.\.100"),
])
def test_bad_accuracy_columns_are_refused(tmp_path, header, match):
    (tmp_path / "p.csv").write_text(f"split,bottleneck,bytes,accuracy,{header}\n0,raw,10,0.7,0.5\n1,none,0,0.8,\n")
    with pytest.raises(InputError, match=match):
        load_payloads(tmp_path / "p.csv")
