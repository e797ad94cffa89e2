"""Evaluating trained bottlenecks on the test set with the real codec: accuracy, the bytes of every encoded
sample (mean, 95th percentile and the percentiles of :data:`SIZE_PERCENTS`) and encode/decode time (ms)."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch

from simsplit.ml.bottleneck.codec import awgn, bit_erasure, jpeg_roundtrip
from simsplit.ml.bottleneck.data import Data
from simsplit.ml.bottleneck.model import BottleneckUnit, run

SIZE_PERCENTS = (0, 5, 25, 50, 75, 95, 100)
"""Percentiles of the measured encoded sizes written into the payload table."""


def accuracy(model: Callable, x: torch.Tensor, y: torch.Tensor, size: int = 256) -> float:
    """Top-1 accuracy of ``model`` on ``x`` against the labels ``y``, in batches of ``size``."""
    correct = 0
    with torch.no_grad():
        for start in range(0, len(y), size):
            correct += int((model(x[start:start + size]).argmax(1) == y[start:start + size]).sum())
    return correct / len(y)


def evaluate(student, unit: BottleneckUnit, split: int, quality: int | None, data: Data,
             channel: tuple[str, float] | None = None, seed: int = 0) -> dict:
    """Accuracy with the real codec at ``quality`` (and the channel, if given), bytes per sample (mean, p95),
    encode/decode time (ms)."""
    sizes: list[int] = []
    shared_sizes: list[int] = []
    encode_s, decode_s, correct = 0.0, 0.0, 0
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        features = run(student, data.test_x, 0, split)
        for i in range(len(data.test_y)):
            started = time.perf_counter()
            z = unit.encoder(features[i:i + 1])
            if channel is not None:
                z = awgn(z, channel[1], generator) if channel[0] == "awgn" else bit_erasure(z, channel[1], generator)
            decoded, size = jpeg_roundtrip(z, quality, shared_sizes)
            middle = time.perf_counter()
            restored = unit.decoder(decoded)
            decode_s += time.perf_counter() - middle
            encode_s += middle - started
            sizes.append(size[0])
            correct += int(run(student, restored, split).argmax(1)[0] == data.test_y[i])
    n = len(data.test_y)
    return {"accuracy": correct / n, "bytes": float(np.mean(sizes)), "bytes_p95": float(np.percentile(sizes, 95)),
            "quantiles": [float(np.percentile(sizes, q)) for q in SIZE_PERCENTS],
            "encode_ms": 1e3 * encode_s / n, "decode_ms": 1e3 * decode_s / n, "sizes": sizes,
            "shared": {"bytes": float(np.mean(shared_sizes)),
                       "quantiles": [float(np.percentile(shared_sizes, q)) for q in SIZE_PERCENTS]}}


def evaluate_entropy(student, unit, split: int, rate: int, data: Data) -> dict:
    """Accuracy after the real range coder (compress, then decompress) at ``rate``, the bytes sent per sample
    (bit stream + :data:`~simsplit.ml.bottleneck.entropy.HEADER_BYTES`; mean, p95, percentiles), the model's own
    estimate of the bits, and encode/decode time (ms)."""
    from simsplit.ml.bottleneck.entropy import HEADER_BYTES
    unit.rate = rate
    sizes, encode_s, decode_s, correct = [], 0.0, 0.0, 0
    with torch.no_grad():
        features = run(student, data.test_x, 0, split)
        estimated = float(unit(features)[1].mean()) / 8.0
        for i in range(len(data.test_y)):
            started = time.perf_counter()
            strings, shape = unit.compress(features[i:i + 1])
            middle = time.perf_counter()
            restored = unit.decompress(strings, shape)
            decode_s += time.perf_counter() - middle
            encode_s += middle - started
            sizes.append(len(strings[0]) + HEADER_BYTES)
            correct += int(run(student, restored, split).argmax(1)[0] == data.test_y[i])
    n = len(data.test_y)
    return {"accuracy": correct / n, "bytes": float(np.mean(sizes)), "bytes_p95": float(np.percentile(sizes, 95)),
            "quantiles": [float(np.percentile(sizes, q)) for q in SIZE_PERCENTS], "estimated_bytes": estimated,
            "encode_ms": 1e3 * encode_s / n, "decode_ms": 1e3 * decode_s / n, "sizes": sizes}
