"""Entropy-coded bottlenecks (CompressAI): the bit stream carries exactly what the model computes, its length
matches the model's own estimate of the bits, gain units move the rate, and a tiny training writes rows
that drive a rate-adaptive scenario (skipped without torch or CompressAI)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("compressai")
pytest.importorskip("sklearn")

# E402: these imports come after the importorskip lines, so the module skips without torch, compressai or sklearn
from conftest import trained_scenario  # noqa: E402

from simsplit.ml.bottleneck.entropy import HEADER_BYTES, EntropyUnit  # noqa: E402


def _unit(rates: int = 1) -> EntropyUnit:
    torch.manual_seed(3)
    unit = EntropyUnit(channels=8, reduced=4, spatial=2, rates=rates).eval()
    unit.prepare()
    return unit


def test_decompressed_bit_stream_is_what_the_model_computes():
    unit = _unit()
    x = torch.rand(5, 8, 16, 16) * 3
    with torch.no_grad():
        restored, bits = unit(x)  # evaluation: rounding, the same as the coder's
        strings, shape = unit.compress(x)
        decoded = unit.decompress(strings, shape)
    assert shape == (8, 8) and len(strings) == 5
    assert torch.allclose(decoded, restored, atol=1e-6)
    for stream, estimate in zip(strings, bits.tolist(), strict=True):  # a range coder is within a few bytes of -log2 p
        assert abs(len(stream) - estimate / 8) <= 4 + 0.05 * estimate / 8


def test_gain_units_move_the_rate_of_one_model():
    """With the prior fitted to the latents of every rate (its density only, weights and gains fixed), a
    larger gain (finer steps) costs more bytes, rate by rate."""
    unit = _unit(rates=5)
    x = torch.rand(4, 8, 16, 16) * 3
    density = [p for p in unit.rate_parameters() if p is not unit.log_gain]
    optimiser = torch.optim.Adam(density, lr=0.02)
    for step in range(150):
        unit.rate = step % 5
        optimiser.zero_grad()
        unit.train()
        unit(x)[1].mean().backward()
        optimiser.step()
    unit.eval()
    unit.prepare()
    sizes = []
    with torch.no_grad():
        for rate in range(5):
            unit.rate = rate
            sizes.append(sum(len(s) for s in unit.compress(x)[0]))
    assert sizes == sorted(sizes, reverse=True) and sizes[0] > 2 * sizes[-1]  # a larger gain, finer steps


def test_tiny_entropy_training_drives_a_rate_adaptive_scenario(tmp_path):
    from simsplit import simulate
    from simsplit.ml.bottleneck.config import EntropyOptions, TrainConfig
    from simsplit.ml.bottleneck.train import train_bottlenecks
    from simsplit.scenario.payloads import load_payloads
    config = TrainConfig(name="tiny", resolution=16, backbone_epochs=2, splits=[2], reduced_channels=[2],
                         distil_epochs=1, finetune_epochs=1, qualities=[20], naive=False,
                         entropy=EntropyOptions(splits=[2], reduced_channels=[2], spatial=2, lambdas=[1e-5, 1e-3]))
    summary = train_bottlenecks(config, tmp_path)
    payloads = load_payloads(tmp_path / "payloads.csv")
    names = {e.bottleneck for e in payloads.at_split(2)}
    assert {"entropy-factorized-c2-l1e-05", "entropy-factorized-c2-l0.001", "entropy-vbr-c2-l1e-05",
            "entropy-vbr-c2-l0.001"} <= names
    rows = {r["bottleneck"]: r for r in summary["rows"]}
    for name in ("entropy-factorized-c2-l1e-05", "entropy-vbr-c2-l0.001"):
        row, entry = rows[name], payloads.get(2, name)
        assert entry.bytes == pytest.approx(row["bytes"], abs=0.05)
        assert entry.accuracy == pytest.approx(row["accuracy"], abs=5e-5)
        # the likelihood is the model's lower bound; the coder adds its final bytes and bypass codes for values
        # beyond the learned table's range
        overhead = row["bytes"] - HEADER_BYTES - row["estimated_bytes"]
        assert row["quantiles"][0] > HEADER_BYTES and 0 <= overhead <= 8 + 0.25 * row["estimated_bytes"]
    # one model, two rates: the larger lambda sends fewer bytes
    assert rows["entropy-vbr-c2-l0.001"]["bytes"] < rows["entropy-vbr-c2-l1e-05"]["bytes"]
    strategy = {"kind": "dynamic", "objective": "accuracy", "bottlenecks": ["entropy-vbr-*"]}
    result = simulate(trained_scenario(tmp_path, strategy, deadline_s=0.05))
    assert result.summary["completed"] > 50
    assert set(result.requests["bottleneck"].astype(str)) <= {"entropy-vbr-c2-l1e-05", "entropy-vbr-c2-l0.001"}
