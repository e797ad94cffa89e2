"""scenarios/bottlenet-resnet50.yaml against BottleNet's own latency and energy model.

The paper's model (Eshratifar et al., ISLPED 2019) for a split after block k is
latency = head_k + bytes_k * 8 / t_u + tail_k and uplink energy = (alpha_u * t_u + beta) * bytes_k * 8 / t_u,
with t_u, alpha_u and beta from its Table 3. We recompute it from the CSV files with pandas, independently
of the simulator's loaders, and compare with every device group's simulated mean.
"""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import REPO

from simsplit import simulate

SCENARIO = REPO / "scenarios" / "bottlenet-resnet50.yaml"
TABLE3 = {"3g": (1.10, 868.98, 817.88), "4g": (5.85, 438.39, 1288.04), "wifi": (18.88, 283.17, 132.86)}
DOWN_MBPS = {"3g": 2.0, "4g": 12.74, "wifi": 20.0}
ALPHA_DOWN = {"3g": 122.12, "4g": 51.97, "wifi": 137.01}
TX2_POWER_W = 1.306  # the scenario rounds 20.5 mJ / 15.7 ms
RESULT_BYTES = 8


@pytest.fixture(scope="module")
def result():
    return simulate(SCENARIO)


def paper_model(network: str, split: int, bottleneck: str) -> tuple[float, float]:
    """(latency s, energy J) by the paper's closed form, plus the small downlink term."""
    profile = pd.read_csv(REPO / "scenarios" / "profiles" / "resnet50-bottlenet.csv", comment="#").set_index("split")
    payloads = pd.read_csv(REPO / "scenarios" / "payloads" / "resnet50-bottlenet.csv", comment="#")
    row = payloads[(payloads["split"] == split) & (payloads["bottleneck"] == bottleneck)].iloc[0]
    head = (profile.loc[split, "head_ms_jetson-tx2"] + row["encode_ms"]) / 1e3
    tail = (profile.loc[split, "tail_ms_gtx1080ti"] + row["decode_ms"]) / 1e3
    rate, alpha, beta = TABLE3[network]
    up_s = row["bytes"] * 8 / (rate * 1e6)
    down_s = RESULT_BYTES * 8 / (DOWN_MBPS[network] * 1e6)
    energy = TX2_POWER_W * head + (alpha * rate + beta) / 1e3 * up_s \
        + (ALPHA_DOWN[network] * DOWN_MBPS[network] + beta) / 1e3 * down_s
    return head + up_s + tail + down_s, energy


def test_mobile_only_matches_the_paper(result):
    group = result.summary["groups"]["mobile-only"]
    assert group["latency_s"]["mean"] * 1e3 == pytest.approx(15.7, abs=0.01)  # paper: 15.7 ms
    assert group["energy_j"]["total"] * 1e3 == pytest.approx(20.5, abs=0.01)  # paper: 20.5 mJ
    assert group["accuracy"] == pytest.approx(0.761)


@pytest.mark.parametrize("network", sorted(TABLE3))
def test_every_split_follows_the_paper_model(result, network):
    groups = result.summary["groups"]
    for k in range(1, 17):
        latency, energy = paper_model(network, k, "bottlenet")
        simulated = groups[f"{network}-rb{k}"]
        assert simulated["latency_s"]["mean"] == pytest.approx(latency, rel=1e-9), f"{network} RB{k}"
        assert simulated["energy_j"]["total"] == pytest.approx(energy, rel=1e-9), f"{network} RB{k}"
    latency, energy = paper_model(network, 0, "jpeg")
    assert groups[f"{network}-cloud-only"]["latency_s"]["mean"] == pytest.approx(latency, rel=1e-9)
    assert groups[f"{network}-cloud-only"]["energy_j"]["total"] == pytest.approx(energy, rel=1e-9)


@pytest.mark.parametrize("network", sorted(TABLE3))
def test_bottlenet_after_rb1_beats_cloud_and_mobile_only(result, network):
    groups = result.summary["groups"]
    best = min((groups[f"{network}-rb{k}"]["latency_s"]["mean"], k) for k in range(1, 17))
    assert best[1] == 1
    rb1 = groups[f"{network}-rb1"]
    for other in (groups[f"{network}-cloud-only"], groups["mobile-only"]):
        assert rb1["latency_s"]["mean"] < other["latency_s"]["mean"]
        assert rb1["energy_j"]["total"] < other["energy_j"]["total"]
    assert rb1["bytes_up"] == 316  # paper, Table 4
