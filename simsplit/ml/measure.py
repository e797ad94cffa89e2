"""Measured per-split profiles of real networks (torch; the ``ml`` extra).

A network is cut into an ordered list of blocks (after each residual block for ResNets, each inverted
residual for MobileNetV2, each pooling stage for VGG-16; the stem joins the first block and the
classifier is the last). Split k runs blocks 1..k on the device. Each block is timed alone on its real
input (warm-up, then repeats; median and interquartile range), with the thread count fixed and
recorded; the whole model is timed too, so the profile states how far the sum of blocks is from it.
FLOPs come from ``torch.utils.flop_counter`` (2 per multiply-accumulate), tensor sizes from the real
outputs. Repetitions go round robin over the whole model and every block, so that a noisy spell of a
shared machine spreads over all of them rather than landing on one block. Other device classes are mapped
with a roofline model (see :data:`DEVICE_CLASSES`).
"""

from __future__ import annotations

import datetime
import math
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

ARCHITECTURES = ("resnet18", "resnet50", "mobilenet_v2", "vgg16")
TORCHVISION_TOP1 = {"resnet18": 0.69758, "resnet50": 0.76130, "mobilenet_v2": 0.71878, "vgg16": 0.71592}
"""ImageNet top-1 of torchvision's IMAGENET1K_V1 weights, as torchvision documents them."""


@dataclass(frozen=True)
class DeviceClass:
    """Roofline parameters of a device: peak FLOP/s at its inference precision, memory bandwidth (bytes/s),
    the fraction of peak a batch-1 network reaches, and the bytes per value it computes in."""

    peak_flops: float
    memory_bps: float
    efficiency: float
    bytes_per_value: int
    source: str


DEVICE_CLASSES = {
    # peak and bandwidth from the vendors' data sheets; efficiency is our assumption for batch-1 inference
    "jetson-tx2": DeviceClass(1.33e12, 59.7e9, 0.40, 2, "Jetson TX2 Pascal GPU fp16 1.33 TFLOP/s, LPDDR4 59.7 GB/s"),
    "jetson-nano": DeviceClass(0.472e12, 25.6e9, 0.40, 2, "Jetson Nano Maxwell GPU fp16 472 GFLOP/s, 25.6 GB/s"),
    "rpi4": DeviceClass(48e9, 4.0e9, 0.25, 4,
                        "Raspberry Pi 4 4x Cortex-A72 1.5 GHz fp32 48 GFLOP/s; ~4 GB/s measured copy"),
    "edge-t4": DeviceClass(65e12, 320e9, 0.15, 2, "NVIDIA T4 fp16 tensor 65 TFLOP/s, 320 GB/s"),
}


@dataclass
class BlockMeasure:
    """One block: its name, output shape, FLOPs, parameters, bytes it reads and writes, and times (s)."""

    name: str
    output_shape: tuple[int, ...]
    flops: float
    params: int
    traffic_values: int
    """Values read and written (input + output activations + weights), for the roofline."""
    times_s: list[float] = field(default_factory=list)

    @property
    def median_s(self) -> float:
        return statistics.median(self.times_s)

    @property
    def iqr_s(self) -> float:
        q = statistics.quantiles(self.times_s, n=4) if len(self.times_s) > 1 else [0, 0, 0]
        return q[2] - q[0]


def build_blocks(architecture: str) -> list[tuple[str, nn.Module]]:
    """The network from torchvision (random weights) cut into named blocks, in order."""
    import torchvision

    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}; expected one of {', '.join(ARCHITECTURES)}")
    model = getattr(torchvision.models, architecture)(weights=None).eval()
    blocks: list[tuple[str, nn.Module]]
    if architecture.startswith("resnet"):
        residual = [block for layer in (model.layer1, model.layer2, model.layer3, model.layer4) for block in layer]
        stem = nn.Sequential(model.conv1, model.bn1, model.relu, model.maxpool)
        blocks = [("RB1", nn.Sequential(stem, residual[0]))]
        blocks += [(f"RB{k}", block) for k, block in enumerate(residual[1:], start=2)]
        blocks.append(("classifier", nn.Sequential(model.avgpool, nn.Flatten(1), model.fc)))
        return blocks
    if architecture == "mobilenet_v2":
        features = list(model.features)
        blocks = [("stem+IR1", nn.Sequential(features[0], features[1]))]
        blocks += [(f"IR{k}", block) for k, block in enumerate(features[2:-1], start=2)]
        blocks.append(("classifier", nn.Sequential(features[-1], nn.AdaptiveAvgPool2d(1), nn.Flatten(1),
                                                   model.classifier)))
        return blocks
    stages: list[nn.Module] = []
    current: list[nn.Module] = []
    for module in model.features:
        current.append(module)
        if isinstance(module, nn.MaxPool2d):
            stages.append(nn.Sequential(*current))
            current = []
    blocks = [(f"stage{k}", stage) for k, stage in enumerate(stages, start=1)]
    blocks.append(("classifier", nn.Sequential(model.avgpool, nn.Flatten(1), model.classifier)))
    return blocks


def merge_blocks(blocks: list[tuple[str, nn.Module]], split_after: list[str]) -> list[tuple[str, nn.Module]]:
    """Merge consecutive blocks so that the only split points fall after the blocks named in ``split_after``
    (and after the last block). Raise a ValueError for a name that is not a block."""
    names = [name for name, _ in blocks]
    unknown = [name for name in split_after if name not in names]
    if unknown:
        raise ValueError(f"unknown split point(s) {unknown}; expected names among {names}")
    merged, pending = [], []
    for name, block in blocks:
        pending.append(block)
        if name in split_after or name == names[-1]:
            merged.append((name, pending[0] if len(pending) == 1 else nn.Sequential(*pending)))
            pending = []
    return merged


def _timed(module: nn.Module, x: torch.Tensor) -> float:
    started = time.perf_counter()
    module(x)
    return time.perf_counter() - started


@dataclass
class Measurement:
    """A measured profile: the blocks, the whole model's times (s), the input and the conditions."""

    architecture: str
    blocks: list[BlockMeasure]
    whole_times_s: list[float]
    input_shape: tuple[int, ...]
    threads: int
    warmup: int
    repeats: int

    @property
    def sum_over_whole(self) -> float:
        """Sum of the block medians over the whole model's median."""
        return sum(b.median_s for b in self.blocks) / statistics.median(self.whole_times_s)


def measure(architecture: str, batch: int = 1, resolution: int = 224, threads: int = 2, warmup: int = 3,
            repeats: int = 10, time_it: bool = True, split_after: list[str] | None = None,
            progress: Callable[[str], None] | None = None) -> Measurement:
    """Measure ``architecture`` on this machine (see the module docstring); ``split_after`` keeps only
    the split points after those block names."""
    torch.manual_seed(0)
    blocks = build_blocks(architecture)
    if split_after:
        blocks = merge_blocks(blocks, split_after)
    return measure_blocks(architecture, blocks, (batch, 3, resolution, resolution), threads, warmup, repeats,
                          time_it, progress)


def measure_blocks(architecture: str, blocks: list[tuple[str, nn.Module]], input_shape: tuple[int, ...],
                   threads: int = 2, warmup: int = 3, repeats: int = 10, time_it: bool = True,
                   progress: Callable[[str], None] | None = None) -> Measurement:
    """Measure any network given as named blocks on a random input of ``input_shape``."""
    torch.manual_seed(0)
    torch.set_num_threads(threads)
    x = torch.randn(*input_shape)
    whole_input = x
    whole = nn.Sequential(*[b for _, b in blocks])
    measured, inputs = [], []
    with torch.inference_mode():
        for name, block in blocks:
            with FlopCounterMode(display=False) as counter:
                y = block(x)
            params = sum(p.numel() for p in block.parameters())
            traffic = x.numel() + y.numel() + params
            measured.append(BlockMeasure(name, tuple(y.shape), float(counter.get_total_flops()), params, traffic))
            inputs.append(x)
            x = y
        whole_times = []
        if time_it:
            for _ in range(warmup):
                whole(whole_input)
                for (_, block), block_input in zip(blocks, inputs, strict=True):
                    block(block_input)
            # round robin: a noisy spell of a shared machine spreads over every block and the whole model
            for _ in range(repeats):
                whole_times.append(_timed(whole, whole_input))
                for (_, block), block_input, record in zip(blocks, inputs, measured, strict=True):
                    record.times_s.append(_timed(block, block_input))
                if progress is not None:
                    progress("repeat")
        else:
            whole_times = [0.0]
            for record in measured:
                record.times_s.append(0.0)
    return Measurement(architecture, measured, whole_times, tuple(whole_input.shape), threads, warmup, repeats)


def roofline_s(block: BlockMeasure, device: DeviceClass) -> float:
    """Predicted time (s) of a block on ``device``: the slower of compute and memory traffic."""
    compute = block.flops / (device.peak_flops * device.efficiency)
    memory = block.traffic_values * device.bytes_per_value / device.memory_bps
    return max(compute, memory)


def profile_rows(measurement: Measurement, measured_class: str, server_classes: list[str],
                 mapped_classes: list[str]) -> tuple[list[str], list[list]]:
    """Header and rows of a profile CSV (times in ms; see docs/formats.md). This machine's times give both
    a head and a tail column; ``mapped_classes`` add head columns and ``server_classes`` tail columns."""
    blocks = measurement.blocks
    header = ["split", "name", f"head_ms_{measured_class}"] + [f"head_ms_{c}" for c in mapped_classes]
    header += [f"tail_ms_{measured_class}"] + [f"tail_ms_{c}" for c in server_classes]
    header += ["output_bytes", "output_bytes_fp16", "output_bytes_int8", "output_shape", "flops", "head_params",
               "block_ms", "block_iqr_ms"]
    medians = [b.median_s for b in blocks]
    mapped = {c: [roofline_s(b, DEVICE_CLASSES[c]) for b in blocks] for c in mapped_classes + server_classes}
    total = sum(medians)
    rows = []
    for split in range(len(blocks) + 1):
        head = sum(medians[:split])
        row = [split, blocks[split - 1].name if split else "input", f"{head * 1e3:.4f}"]
        row += [f"{sum(mapped[c][:split]) * 1e3:.4f}" for c in mapped_classes]
        row += [f"{(total - head) * 1e3:.4f}"]
        row += [f"{sum(mapped[c][split:]) * 1e3:.4f}" for c in server_classes]
        rows.append(row + _output_cells(measurement, split))
    return header, rows


def _output_cells(measurement: Measurement, split: int) -> list:
    """The profile columns after the times at ``split``: what it sends (bytes at fp32, fp16 and int8, and its
    shape; split 0 sends the 8-bit input), the FLOPs and parameters of the blocks before it, and the last one's
    median and interquartile range (ms)."""
    done = measurement.blocks[:split]
    before = [f"{sum(b.flops for b in done):.0f}", sum(b.params for b in done)]
    if split == 0:
        values = math.prod(measurement.input_shape)
        shape = "x".join(map(str, measurement.input_shape))
        return [values, values, values, shape, *before, "0", "0"]
    block = done[-1]
    values = math.prod(block.output_shape)
    return [values * 4, values * 2, values, "x".join(map(str, block.output_shape)), *before,
            f"{block.median_s * 1e3:.4f}", f"{block.iqr_s * 1e3:.4f}"]


def provenance(measurement: Measurement, measured_class: str, mapped_classes: list[str]) -> list[str]:
    """Comment lines recording where and how the profile was measured."""
    origin = (f"from torchvision {_version('torchvision')} (random weights)"
              if measurement.architecture in ARCHITECTURES else "as trained by simsplit train-bottleneck")
    lines = [
        f"{measurement.architecture} {origin}, input "
        f"{'x'.join(map(str, measurement.input_shape))}; split 0 sends the 8-bit input (1 byte per value)",
        f"measured {datetime.date.today().isoformat()} on {platform.machine()} "
        f"{platform.processor() or platform.platform()}, torch {torch.__version__}, {measurement.threads} threads, "
        f"{measurement.warmup} warm-up runs, "
        f"{measurement.repeats} timed runs per block; head_ms_{measured_class} and tail are sums of block medians",
        f"sum of block medians / whole-model median = {measurement.sum_over_whole:.3f}",
        f"FLOPs by torch.utils.flop_counter (2 per multiply-accumulate): "
        f"{sum(b.flops for b in measurement.blocks) / 1e9:.3f} GFLOPs",
    ]
    for name in mapped_classes:
        device = DEVICE_CLASSES[name]
        lines.append(f"head_ms_{name}: roofline max(FLOPs / ({device.peak_flops:.3g} x {device.efficiency}), "
                     f"values x {device.bytes_per_value} B / {device.memory_bps:.3g} B/s) per block; {device.source}")
    return lines


def _version(package: str) -> str:
    from importlib.metadata import version
    return version(package)


def write_profile(measurement: Measurement, path: Path, measured_class: str, server_classes: list[str],
                  mapped_classes: list[str]) -> Path:
    """Write the profile CSV with its provenance comments."""
    header, rows = profile_rows(measurement, measured_class, server_classes, mapped_classes)
    lines = [f"# {line}" for line in provenance(measurement, measured_class, mapped_classes + server_classes)]
    lines.append(",".join(header))
    lines += [",".join(str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path
