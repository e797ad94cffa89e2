"""Trained bottlenecks: the codec's bytes, the straight-through gradient, the channel layers, and a payload
table that drives a scenario (tiny configurations; skipped without torch)."""

from __future__ import annotations

import io

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytest.importorskip("PIL")

# E402: these imports come after the importorskip lines, so the module skips without torch, sklearn or PIL
from conftest import trained_scenario  # noqa: E402
from PIL import Image  # noqa: E402

from simsplit.ml.bottleneck.codec import (  # noqa: E402
    HEADER_BYTES,
    StraightThroughCodec,
    bit_erasure,
    jpeg_roundtrip,
    tile,
    untile,
)
from simsplit.ml.bottleneck.model import BottleneckUnit, backbone_blocks, run  # noqa: E402


def test_tiling_round_trip():
    x = np.arange(5 * 3 * 4, dtype=np.uint8).reshape(5, 3, 4)
    image = tile(x)
    assert image.shape == (6, 12)  # 3 columns x 2 rows of 3x4 tiles
    assert np.array_equal(untile(image, 5, 3, 4), x)


def test_measured_bytes_are_the_codecs_real_output_lengths():
    torch.manual_seed(0)
    z = torch.rand(3, 4, 8, 8) * 5
    for quality in (5, 50, 95):
        decoded, sizes = jpeg_roundtrip(z, quality)
        for i in range(3):
            array = z[i].numpy()
            low, high = array.min(), array.max()
            codes = np.clip(np.rint((array - low) / ((high - low) / 255)), 0, 255).astype(np.uint8)
            buffer = io.BytesIO()
            Image.fromarray(tile(codes), mode="L").save(buffer, format="JPEG", quality=quality)
            assert sizes[i] == len(buffer.getvalue()) + HEADER_BYTES
        assert decoded.shape == z.shape
    low_q, high_q = jpeg_roundtrip(z, 5)[0], jpeg_roundtrip(z, 95)[0]
    assert (low_q - z).abs().mean() > (high_q - z).abs().mean()  # lower quality, larger error
    quantised, sizes = jpeg_roundtrip(z, None)
    assert sizes == [4 * 8 * 8 + HEADER_BYTES] * 3 and (quantised - z).abs().max() <= 5 / 255 / 2 + 1e-5


def test_gradients_reach_the_head_through_the_codec():
    torch.manual_seed(0)
    blocks = backbone_blocks(width=4)
    unit = BottleneckUnit(channels=4, reduced=2)
    unit.quality = 10
    x = torch.rand(2, 1, 32, 32)
    loss = run(blocks, unit(run(blocks, x, 0, 2)), 2).sum()
    loss.backward()
    head_grad = blocks[0][0].weight.grad
    assert head_grad is not None and head_grad.abs().sum() > 0
    # straight-through: the codec's Jacobian is the identity
    z = torch.rand(1, 2, 4, 4, requires_grad=True)
    StraightThroughCodec.apply(z, 10).sum().backward()
    assert torch.equal(z.grad, torch.ones_like(z))


def test_bit_erasure():
    z = torch.rand(1, 2, 8, 8, requires_grad=True)
    clean = bit_erasure(z, 0.0)
    assert (clean - z).abs().max() < 1 / 255
    noisy = bit_erasure(z, 0.2, torch.Generator().manual_seed(1))
    assert (noisy - z).abs().mean() > 0.02
    noisy.sum().backward()
    assert torch.equal(z.grad, torch.ones_like(z))


def test_tiny_training_writes_a_payload_table_that_drives_a_scenario(tmp_path):
    from simsplit import simulate
    from simsplit.ml.bottleneck.config import TrainConfig
    from simsplit.ml.bottleneck.train import train_bottlenecks
    from simsplit.scenario.payloads import load_payloads
    config = TrainConfig(name="tiny", resolution=16, backbone_epochs=2, splits=[2], reduced_channels=[2],
                         distil_epochs=1, finetune_epochs=1, qualities=[10, 80], naive=True,
                         channel={"kind": "awgn", "snr_db": [10.0]})
    summary = train_bottlenecks(config, tmp_path)
    payloads = load_payloads(tmp_path / "payloads.csv")
    names = {e.bottleneck for e in payloads.at_split(2)}
    assert names == {"bn-c2-q10", "bn-c2-q80", "bn-c2-q10-awgn10", "bn-c2-q80-awgn10", "bn-c2-q10-shared-tables",
                     "bn-c2-q80-shared-tables"}
    for quality in (10, 80):  # the same unit with JPEG tables and headers shared: same accuracy, fewer bytes
        full, shared = payloads.get(2, f"bn-c2-q{quality}"), payloads.get(2, f"bn-c2-q{quality}-shared-tables")
        assert shared.accuracy == full.accuracy and HEADER_BYTES < shared.bytes < full.bytes - 100
    entry = payloads.get(2, "bn-c2-q10")
    noisy = payloads.get(2, "bn-c2-q10-awgn10")
    assert entry.accuracy_vs_snr == ((10.0,), (noisy.accuracy,))  # the channel-in-the-loop curve on the row
    probabilities, sizes = entry.size_quantiles  # the measured distribution of encoded sizes
    assert probabilities == (0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0)
    assert sizes[0] <= entry.bytes <= sizes[-1] and sizes[0] > HEADER_BYTES and 0 <= entry.accuracy <= 1
    assert len(summary["naive_vs_aware"]) == 2 and (tmp_path / "rate-accuracy.png").stat().st_size > 5000
    result = simulate(trained_scenario(tmp_path, {"kind": "fixed", "split": 2, "bottleneck": "bn-c2-q10"}))
    assert result.summary["completed"] > 50
    sent = result.requests.loc[result.requests["status"] == "completed", "bytes_up"]
    # drawn per request, in whole bytes: every size the measured range holds turns up
    assert sent.min() >= sizes[0] and sent.max() <= np.ceil(sizes[-1]) and (sent == np.ceil(sent)).all()
    assert sent.nunique() >= min(5, int(np.ceil(sizes[-1]) - np.ceil(sizes[0])))
    assert result.summary["bytes_up"] == pytest.approx(entry.quantile_mean(), rel=0.1)
    assert result.summary["accuracy"] == pytest.approx(entry.accuracy)


def test_shared_tables_drop_the_same_headers_from_every_sample():
    from simsplit.ml.bottleneck.codec import jpeg_roundtrip, scan_bytes
    x = torch.rand(6, 4, 8, 8, generator=torch.Generator().manual_seed(3))
    shared = []
    _, sizes = jpeg_roundtrip(x, 20, shared)
    headers = {full - scan for full, scan in zip(sizes, shared, strict=True)}
    assert len(headers) == 1 and headers.pop() > 200  # tables and headers: the same for every sample
    import io

    from PIL import Image
    buffer = io.BytesIO()
    Image.new("L", (16, 16), 128).save(buffer, format="JPEG", quality=50)
    data = buffer.getvalue()
    assert data.endswith(b"\xff\xd9") and 2 < scan_bytes(data) < len(data) - 100
