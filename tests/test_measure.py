"""Measured profiles with torch (skipped where torch is not installed; CI installs it)."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from simsplit import simulate  # noqa: E402
from simsplit.ml.measure import (  # noqa: E402
    DEVICE_CLASSES,
    build_blocks,
    measure,
    roofline_s,
    write_profile,
)
from simsplit.scenario.profiles import load_profile  # noqa: E402


def test_resnet50_flops_match_the_published_count():
    m = measure("resnet50", time_it=False)
    assert sum(b.flops for b in m.blocks) / 2 == pytest.approx(4.1e9, rel=0.02)  # ~4.1 GMACs at 224x224
    assert len(m.blocks) == 17 and m.blocks[0].output_shape == (1, 256, 56, 56)
    assert sum(b.params for b in m.blocks) == 25_557_032  # torchvision's ResNet-50


@pytest.mark.parametrize("architecture,blocks", [("resnet18", 9), ("mobilenet_v2", 18), ("vgg16", 6)])
def test_blocks_compose_the_whole_network(architecture, blocks):
    import torchvision
    parts = build_blocks(architecture)
    assert len(parts) == blocks
    torch.manual_seed(0)
    reference = getattr(torchvision.models, architecture)(weights=None).eval()
    torch.manual_seed(0)
    cut = torch.nn.Sequential(*[b for _, b in build_blocks(architecture)]).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.inference_mode():
        assert torch.allclose(reference(x), cut(x), atol=1e-5)


def test_profile_file_exact_sizes_and_loads(tmp_path):
    m = measure("resnet18", resolution=64, warmup=1, repeats=5)
    path = write_profile(m, tmp_path / "r18.csv", "host", ["edge-t4"], ["jetson-tx2", "rpi4"])
    profile = load_profile(path)
    assert profile.local_split == 9
    for split, block in enumerate(m.blocks, start=1):
        assert profile.output_bytes[split] == math.prod(block.output_shape) * 4  # fp32 bytes of the real tensor
        assert profile.info["output_bytes_int8"][split] == str(math.prod(block.output_shape))
    assert profile.output_bytes[0] == 3 * 64 * 64  # the 8-bit input
    assert set(profile.head_s) == {"host", "jetson-tx2", "rpi4"} and set(profile.tail_s) == {"host", "edge-t4"}
    # head + tail is the whole model at every split, on the measuring machine
    total = profile.head_s["host"] + profile.tail_s["host"]
    assert total == pytest.approx(total[0], rel=1e-3)
    # the per-block medians add up to the whole model's measured time (a loose bound: tiny inputs, shared CPU)
    assert 0.75 < m.sum_over_whole < 1.33


def test_roofline_is_compute_or_memory_bound():
    m = measure("vgg16", time_it=False)
    tx2, pi = DEVICE_CLASSES["jetson-tx2"], DEVICE_CLASSES["rpi4"]
    for block in m.blocks:
        assert roofline_s(block, pi) > roofline_s(block, tx2)
        compute = block.flops / (tx2.peak_flops * tx2.efficiency)
        memory = block.traffic_values * tx2.bytes_per_value / tx2.memory_bps
        assert roofline_s(block, tx2) == max(compute, memory)
    classifier = m.blocks[-1]  # 120 M weights for 0.25 GFLOP: memory-bound
    assert roofline_s(classifier, tx2) == classifier.traffic_values * 2 / tx2.memory_bps


def test_profile_command_and_a_scenario_on_it(tmp_path):
    from test_engine import one_device
    from typer.testing import CliRunner

    from simsplit.cli import app
    out, payloads = tmp_path / "m.csv", tmp_path / "p.csv"
    result = CliRunner().invoke(app, ["profile", "mobilenet_v2", "--out", str(out), "--resolution", "32",
                                      "--repeats", "2", "--warmup", "1", "--payloads", str(payloads),
                                      "--plot", str(tmp_path / "m.png")])
    assert result.exit_code == 0, result.output
    rows = sum(not line.startswith("#") for line in out.read_text().strip().splitlines()) - 2  # header, split 0
    assert f": {rows} blocks, " in " ".join(result.output.split()) and rows > 10  # it printed "1 blocks"
    assert (tmp_path / "m.png").stat().st_size > 1000
    scenario = one_device(tmp_path, strategy={"kind": "fixed", "split": 5, "bottleneck": "raw-int8"})
    scenario["model"] = {"profile": str(out), "payloads": str(payloads), "result_bytes": 8}
    scenario["devices"][0]["device_class"] = "rpi4"
    scenario["server"]["server_class"] = "edge-t4"
    summary = simulate(scenario).summary
    assert summary["completed"] > 0 and summary["accuracy"] == pytest.approx(0.71878)


def test_user_chosen_split_points():
    full = measure("resnet50", time_it=False)
    chosen = measure("resnet50", time_it=False, split_after=["RB3", "RB7", "RB13"])
    assert [b.name for b in chosen.blocks] == ["RB3", "RB7", "RB13", "classifier"]
    assert sum(b.flops for b in chosen.blocks) == pytest.approx(sum(b.flops for b in full.blocks))
    assert chosen.blocks[1].output_shape == full.blocks[6].output_shape
    from simsplit.ml.measure import merge_blocks
    with pytest.raises(ValueError, match="unknown split point"):
        merge_blocks(build_blocks("resnet18"), ["RB99"])
