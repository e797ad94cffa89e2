"""Train the backbone (teacher), then BottleNet units at each split (BottleFit-style: distil, then fine-tune),
and write a payload table from the real encoded bytes on the test set.

Data: scikit-learn's bundled handwritten digits (1,797 8x8 images, no download), upsampled to 32x32, or the
user's image folder (one sub-folder per class). Backbone: a small residual network trained here, or a
torchvision ResNet loaded from the user's weights file.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field, PositiveFloat, PositiveInt, model_validator

from simsplit.core.config import Config, FieldValueError
from simsplit.ml.bottleneck.codec import awgn, bit_erasure, jpeg_roundtrip
from simsplit.ml.bottleneck.model import BottleneckUnit, backbone_blocks, run


class EntropyOptions(Config):
    """Entropy-coded bottlenecks to train beside the JPEG ones (CompressAI; see :mod:`simsplit.ml.bottleneck.entropy`)."""

    kinds: list[Literal["factorized", "vbr"]] = ["factorized", "vbr"]
    """``factorized``: one model per lambda; ``vbr``: one model with gain units serving every lambda."""
    splits: list[PositiveInt] = Field(default=[2], min_length=1)
    reduced_channels: list[PositiveInt] = Field(default=[4], min_length=1)
    spatial: int = Field(default=4, ge=1, le=16)
    """Spatial reduction of the entropy units' strided convolution (the JPEG units use ``TrainConfig.spatial``)."""
    lambdas: list[PositiveFloat] = Field(default=[1e-5, 3e-5, 1e-4, 3e-4, 1e-3], min_length=1)
    """Rate weights: the loss adds lambda x bits per sample; larger means fewer bytes (on the digits, 1e-3
    already costs accuracy and 1e-2 leaves chance accuracy)."""


class DigitsData(Config):
    """scikit-learn's bundled digits (no download)."""

    kind: Literal["digits"] = "digits"


class ImageFolderData(Config):
    """The user's images, one sub-folder per class (torchvision's ImageFolder), resized and centre-cropped to
    ``resolution``, normalised with ImageNet's mean and deviation; split stratified with the seed."""

    kind: Literal["image_folder"]
    path: str
    """The folder (relative to the configuration file)."""
    test_fraction: float = Field(default=0.2, gt=0, lt=1)
    max_images: int | None = Field(default=None, ge=4)
    """Use at most this many images (the first of each class in turn), held in memory."""


class ResidualBackbone(Config):
    """The small residual network of :func:`~simsplit.ml.bottleneck.model.backbone_blocks`, trained here."""

    kind: Literal["residual"] = "residual"


class TorchvisionBackbone(Config):
    """A torchvision ResNet with the weights of a local file (a state dict saved by ``torch.save``); when its
    classifier does not have the data's number of classes, a new one is trained on the frozen network for
    ``backbone_epochs`` (a linear probe)."""

    kind: Literal["torchvision"]
    model: Literal["resnet18", "resnet34", "resnet50", "resnet101"]
    weights: str
    """The weights file (relative to the configuration file)."""


class TrainConfig(Config):
    """The ``train-bottleneck`` configuration (YAML)."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    seed: int = 0
    resolution: int = Field(default=32, ge=16)
    width: int = Field(default=16, ge=2)
    backbone_epochs: int = Field(default=12, ge=1)
    splits: list[int] = [1, 2, 3]
    reduced_channels: list[int] = [2, 4]
    spatial: int = Field(default=2, ge=1)
    distil_epochs: int = Field(default=4, ge=0)
    finetune_epochs: int = Field(default=6, ge=1)
    qualities: list[int] = [10, 20, 40, 80]
    """JPEG qualities: the rate knob, one trained unit evaluated at each (variable rate)."""
    naive: bool = True
    """Also train each unit without the codec in the loop and evaluate it with the codec (BottleNet's Fig. 7)."""
    channel: dict | None = None
    """BottleNet++: {kind: awgn, snr_db: [..]} or {kind: erasure, p: [..]}: trained at the first level,
    evaluated at each."""
    data: DigitsData | ImageFolderData = Field(default_factory=DigitsData, discriminator="kind")
    backbone: ResidualBackbone | TorchvisionBackbone = Field(default_factory=ResidualBackbone, discriminator="kind")
    entropy: EntropyOptions | None = None
    """Also train entropy-coded bottlenecks (needs CompressAI; see docs/training.md)."""
    batch_size: int = 64
    learning_rate: float = 2e-3
    threads: int = 2

    @model_validator(mode="after")
    def _consistent(self):
        last = 5 if self.backbone.kind == "torchvision" else 4  # blocks before the classifier
        for field, splits in (("splits", self.splits), ("entropy.splits", self.entropy.splits if self.entropy else [])):
            outside = [split for split in splits if not 1 <= split <= last]
            if outside:
                raise FieldValueError(field, f"expected split points 1..{last} (after a block of the "
                                      f"{self.backbone.kind} backbone, before its classifier), got {outside}")
        if self.backbone.kind == "torchvision" and self.data.kind != "image_folder":
            raise FieldValueError("backbone", "expected data of kind image_folder (RGB images) for a torchvision "
                                  "backbone, got the one-channel digits")
        return self


@dataclass
class Data:
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    classes: int = 10
    description: str = "scikit-learn's digits"


def channel_levels(config: TrainConfig) -> list[float]:
    """SNRs (dB) or erasure probabilities the BottleNet++ option trains at (the first) and evaluates at."""
    if config.channel is None:
        return []
    return list(config.channel["snr_db"] if config.channel["kind"] == "awgn" else config.channel["p"])


def load_digits_data(resolution: int, seed: int) -> Data:
    """scikit-learn's digits in [0, 1], upsampled to ``resolution``, split 80/20 stratified with ``seed``."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    digits = load_digits()
    x = torch.tensor(digits.images / 16.0, dtype=torch.float32).unsqueeze(1)
    x = F.interpolate(x, size=(resolution, resolution), mode="bilinear", align_corners=False)
    y = torch.tensor(digits.target)
    train, test = train_test_split(np.arange(len(y)), test_size=0.2, random_state=seed, stratify=digits.target)
    return Data(x[train], y[train], x[test], y[test])


IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def load_image_folder(options: ImageFolderData, resolution: int, seed: int) -> Data:
    """The images of ``options.path`` as tensors (3 x resolution x resolution, ImageNet-normalised), split
    ``test_fraction`` for testing, stratified with ``seed``. Raises FieldValueError (``data.path``) naming what is
    wrong."""
    from sklearn.model_selection import train_test_split
    from torchvision import datasets, transforms
    folder = Path(options.path)
    if not folder.is_dir():
        raise FieldValueError("data.path", f"expected a folder of class sub-folders, got {options.path}")
    transform = transforms.Compose([transforms.Resize(resolution), transforms.CenterCrop(resolution),
                                    transforms.ToTensor(), transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    try:
        images = datasets.ImageFolder(str(folder), transform=transform)
    except (FileNotFoundError, OSError) as exc:  # no class sub-folders, or none holding an image
        raise FieldValueError("data.path", f"expected a folder of class sub-folders of images: {exc}") from None
    if len(images.classes) < 2:
        raise FieldValueError("data.path", f"expected at least two class sub-folders in {options.path}, found "
                              f"{len(images.classes)}")
    targets = np.array(images.targets)
    order = np.arange(len(targets))
    if options.max_images is not None:  # round-robin over classes, so that every class keeps images
        ranks = np.zeros(len(targets), dtype=int)
        for label in range(len(images.classes)):
            ranks[targets == label] = np.arange(int((targets == label).sum()))
        order = np.lexsort((targets, ranks))[:options.max_images]
    counts = np.bincount(targets[order], minlength=len(images.classes))
    if counts.min() < 2:
        raise FieldValueError("data.path", f"expected at least two images per class, found {counts.min()} in "
                              f"{images.classes[int(counts.argmin())]!r}")
    x = torch.stack([images[int(i)][0] for i in order])
    y = torch.tensor(targets[order])
    train, test = train_test_split(np.arange(len(y)), test_size=options.test_fraction, random_state=seed,
                                   stratify=y.numpy())
    return Data(x[train], y[train], x[test], y[test], len(images.classes),
                f"{len(y)} images of {len(images.classes)} classes from {folder.name}")


def load_data(config: TrainConfig) -> Data:
    if config.data.kind == "image_folder":
        return load_image_folder(config.data, config.resolution, config.seed)
    return load_digits_data(config.resolution, config.seed)


def batches(data_x, data_y, size: int, generator: torch.Generator):
    order = torch.randperm(len(data_y), generator=generator)
    for start in range(0, len(order), size):
        index = order[start:start + size]
        yield data_x[index], data_y[index]


def accuracy(model: Callable, x, y, size: int = 256) -> float:
    correct = 0
    with torch.no_grad():
        for start in range(0, len(y), size):
            correct += int((model(x[start:start + size]).argmax(1) == y[start:start + size]).sum())
    return correct / len(y)


def train_backbone(config: TrainConfig, data: Data, generator, tick) -> torch.nn.ModuleList:
    """The teacher: the residual network trained on the data, or the torchvision network from its weights
    file (its new classifier, if it needed one, trained on the frozen rest)."""
    if config.backbone.kind == "torchvision":
        from simsplit.ml.bottleneck.model import torchvision_blocks
        blocks, replaced = torchvision_blocks(config.backbone.model, config.backbone.weights, data.classes)
        if not replaced:
            return blocks.eval()
        for parameter in blocks[:-1].parameters():
            parameter.requires_grad_(False)
        trained = blocks[-1].parameters()
        frozen = blocks[:-1].eval()
    else:
        blocks = backbone_blocks(config.width, data.classes, int(data.train_x.shape[1]))
        trained, frozen = blocks.parameters(), None
    optimiser = torch.optim.Adam(trained, lr=config.learning_rate)
    for _ in range(config.backbone_epochs):
        blocks.train()
        if frozen is not None:
            frozen.eval()  # a linear probe: batch-norm statistics stay the weights file's
        for xb, yb in batches(data.train_x, data.train_y, config.batch_size, generator):
            optimiser.zero_grad()
            F.cross_entropy(run(blocks, xb), yb).backward()
            optimiser.step()
        tick()
    for parameter in blocks.parameters():
        parameter.requires_grad_(True)
    return blocks.eval()


def split_channels(teacher, split: int, data: Data) -> int:
    """Channels of the tensor crossing ``split``."""
    with torch.no_grad():
        return run(teacher, data.train_x[:1], 0, split).shape[1]


def distillation_loss(logits, labels, teacher, inputs, temperature: float = 2.0, weight: float = 4.0):
    """Stage 2's loss (BottleFit-style): cross-entropy plus ``weight`` x the KL divergence from the teacher's
    softened outputs at ``temperature``."""
    with torch.no_grad():
        soft = F.softmax(run(teacher, inputs) / temperature, dim=1)
    return F.cross_entropy(logits, labels) + weight * F.kl_div(F.log_softmax(logits / temperature, dim=1), soft,
                                                               reduction="batchmean")


def train_unit(config: TrainConfig, teacher, split: int, reduced: int, aware: bool, data: Data, generator,
               tick) -> tuple[torch.nn.ModuleList, BottleneckUnit]:
    """BottleFit-style: stage 1 trains the unit so that head + unit reproduce the teacher's features at the
    split (MSE); stage 2 fine-tunes head, unit and tail with cross-entropy plus distillation (T = 2)."""
    student = copy.deepcopy(teacher)
    channels = split_channels(teacher, split, data)
    unit = BottleneckUnit(channels, reduced, config.spatial)
    unit.codec_in_training = aware
    qualities = config.qualities
    if config.channel is not None:
        unit.channel = (config.channel["kind"], channel_levels(config)[0])

    def pick_quality():  # variable rate: a random quality per batch, so that one unit serves every quality
        unit.quality = int(qualities[int(torch.randint(len(qualities), (1,), generator=generator))])

    optimiser = torch.optim.Adam(unit.parameters(), lr=config.learning_rate)
    for _ in range(config.distil_epochs):
        unit.train()
        for xb, _ in batches(data.train_x, data.train_y, config.batch_size, generator):
            pick_quality()
            with torch.no_grad():
                target = run(teacher, xb, 0, split)
            optimiser.zero_grad()
            F.mse_loss(unit(target), target).backward()
            optimiser.step()
        tick()
    parameters = list(student.parameters()) + list(unit.parameters())
    optimiser = torch.optim.Adam(parameters, lr=config.learning_rate / 2)
    for _ in range(config.finetune_epochs):
        student.train()
        unit.train()
        for xb, yb in batches(data.train_x, data.train_y, config.batch_size, generator):
            pick_quality()
            logits = run(student, unit(run(student, xb, 0, split)), split)
            loss = distillation_loss(logits, yb, teacher, xb)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        tick()
    return student.eval(), unit.eval()


def train_entropy_unit(config: TrainConfig, teacher, split: int, reduced: int, lambdas: list[float], data: Data,
                       generator, tick):
    """As :func:`train_unit` with an :class:`~simsplit.ml.bottleneck.entropy.EntropyUnit` and lambda x bits added to
    both stages' losses; with several ``lambdas`` (gain units), a random rate and its lambda per batch."""
    from simsplit.ml.bottleneck.entropy import EntropyUnit
    student = copy.deepcopy(teacher)
    channels = split_channels(teacher, split, data)
    unit = EntropyUnit(channels, reduced, config.entropy.spatial, rates=len(lambdas))
    aux = torch.optim.Adam(unit.aux_parameters(), lr=1e-2)

    def pick_rate() -> float:
        unit.rate = int(torch.randint(len(lambdas), (1,), generator=generator))
        return lambdas[unit.rate]

    def step(optimiser, loss) -> None:
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        aux.zero_grad()
        unit.aux_loss().backward()
        aux.step()

    fast = {"params": unit.rate_parameters(), "lr": 5 * config.learning_rate}
    optimiser = torch.optim.Adam([{"params": unit.main_parameters()}, fast], lr=config.learning_rate)
    for _ in range(config.distil_epochs):
        unit.train()
        for xb, _ in batches(data.train_x, data.train_y, config.batch_size, generator):
            weight = pick_rate()
            with torch.no_grad():
                target = run(teacher, xb, 0, split)
            restored, bits = unit(target)  # MSE relative to the features' power, on the scale of the task loss
            step(optimiser, F.mse_loss(restored, target) / target.pow(2).mean() + weight * bits.mean())
        tick()
    optimiser = torch.optim.Adam([{"params": list(student.parameters()) + unit.main_parameters()}, fast],
                                 lr=config.learning_rate / 2)
    for _ in range(config.finetune_epochs):
        student.train()
        unit.train()
        for xb, yb in batches(data.train_x, data.train_y, config.batch_size, generator):
            weight = pick_rate()
            restored, bits = unit(run(student, xb, 0, split))
            loss = distillation_loss(run(student, restored, split), yb, teacher, xb)
            step(optimiser, loss + weight * bits.mean())
        tick()
    student.eval()
    unit.eval()
    unit.prepare()
    return student, unit


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


def entropy_rows(config: TrainConfig, teacher, data: Data, generator, tick) -> list[dict]:
    """Payload rows of every entropy-coded bottleneck the config asks for: ``entropy-factorized-c<r>-l<lambda>``
    (one model per lambda) and ``entropy-vbr-c<r>-l<lambda>`` (one model, every lambda)."""
    options, rows = config.entropy, []
    for split in options.splits:
        for reduced in options.reduced_channels:
            if "factorized" in options.kinds:
                for weight in options.lambdas:
                    student, unit = train_entropy_unit(config, teacher, split, reduced, [weight], data, generator, tick)
                    rows.append({"split": split, "bottleneck": f"entropy-factorized-c{reduced}-l{weight:g}",
                                 **evaluate_entropy(student, unit, split, 0, data)})
            if "vbr" in options.kinds:
                student, unit = train_entropy_unit(config, teacher, split, reduced, list(options.lambdas), data,
                                                   generator, tick)
                for rate, weight in enumerate(options.lambdas):
                    rows.append({"split": split, "bottleneck": f"entropy-vbr-c{reduced}-l{weight:g}",
                                 **evaluate_entropy(student, unit, split, rate, data)})
    return rows


SIZE_PERCENTS = (0, 5, 25, 50, 75, 95, 100)
"""Percentiles of the measured encoded sizes written into the payload table."""


def evaluate(student, unit: BottleneckUnit, split: int, quality: int | None, data: Data,
             channel: tuple[str, float] | None = None, seed: int = 0) -> dict:
    """Accuracy with the real codec at ``quality`` (and the channel, if given), bytes per sample (mean, p95),
    encode/decode time (ms)."""
    sizes, shared_sizes, encode_s, decode_s, correct = [], [], 0.0, 0.0, 0
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


def train_bottlenecks(config: TrainConfig, out: Path, tick: Callable[[], None] = lambda: None) -> dict:
    """Run the whole pipeline; write payloads.csv, profile.csv, results.json and rate-accuracy.png into ``out``."""
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    generator = torch.Generator().manual_seed(config.seed)
    data = load_data(config)
    teacher = train_backbone(config, data, generator, tick)
    base = accuracy(lambda x: run(teacher, x), data.test_x, data.test_y)
    rows, gaps = [], []
    for split in config.splits:
        for reduced in config.reduced_channels:
            student, unit = train_unit(config, teacher, split, reduced, True, data, generator, tick)
            for quality in config.qualities:
                result = evaluate(student, unit, split, quality, data)
                aware_row = {"split": split, "bottleneck": f"bn-c{reduced}-q{quality}", **result, "curve": {}}
                rows.append(aware_row)
                # the same unit and quality with JPEG tables and headers shared (BottleNet's route)
                rows.append({**result, **result["shared"], "split": split,
                             "bottleneck": f"bn-c{reduced}-q{quality}-shared-tables"})
                for level in channel_levels(config):
                    noisy = evaluate(student, unit, split, quality, data, (config.channel["kind"], level), config.seed)
                    aware_row["curve"][level] = noisy["accuracy"]
                    rows.append({"split": split, "bottleneck": f"bn-c{reduced}-q{quality}-{config.channel['kind']}{level:g}",
                                 **noisy})
            if config.naive:
                naive_student, naive_unit = train_unit(config, teacher, split, reduced, False, data, generator, tick)
                for quality in config.qualities:
                    naive = evaluate(naive_student, naive_unit, split, quality, data)
                    aware = next(r for r in rows if r["split"] == split and r["bottleneck"] == f"bn-c{reduced}-q{quality}")
                    gaps.append({"split": split, "reduced_channels": reduced, "quality": quality,
                                 "naive_accuracy": naive["accuracy"], "aware_accuracy": aware["accuracy"],
                                 "quantised_only_naive_accuracy": evaluate(naive_student, naive_unit, split, None, data)["accuracy"]})
    if config.entropy is not None:
        rows += entropy_rows(config, teacher, data, generator, tick)
    return write_outputs(config, out, teacher, data, base, rows, gaps)


def write_outputs(config, out: Path, teacher, data, base: float, rows, gaps) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    levels = channel_levels(config)
    if config.channel is not None and config.channel["kind"] != "awgn" and 0.0 not in levels:
        levels = [0.0] + levels  # an erasure curve starts at the clean accuracy
    prefix = "accuracy_snr_" if config.channel is not None and config.channel["kind"] == "awgn" else "accuracy_erasure_"
    curve_columns = [(f"{prefix}{level:g}", level) for level in sorted(levels)]
    splits = len(teacher) - 1  # blocks before the classifier
    lines = [("# Payload table produced by simsplit train-bottleneck (bytes: real encoded lengths, JPEG + 8-byte "
              "header or range-coded stream + 2-byte header, on"),
             f"# the test set of {data.description}; accuracy on that test set). Teacher accuracy {base:.4f}.",
             "# bytes_q<p>: the p-th percentile of the encoded size; the engine draws each request's size from them.",
             "# accuracy_snr_<dB> / accuracy_erasure_<p>: accuracy of the unit with the channel in the loop (AWGN on",
             "# the features at that SNR; that fraction of the quantised bits erased), measured on the test set.",
             "split,bottleneck,bytes,accuracy,encode_ms,decode_ms," + ",".join(f"bytes_q{q}" for q in SIZE_PERCENTS)
             + "".join(f",{column}" for column, _ in curve_columns),
             f"0,raw-uint8,{int(data.test_x[0].numel())},{base:.4f},0,0," + ",".join(["" for _ in SIZE_PERCENTS])
             + "," * len(curve_columns)]
    for r in rows:
        curve = r.get("curve", {})
        cells = [f"{curve[level]:.4f}" if level in curve else (f"{r['accuracy']:.4f}" if level == 0.0 and curve else "")
                 for _, level in curve_columns]
        lines.append(f"{r['split']},{r['bottleneck']},{r['bytes']:.1f},{r['accuracy']:.4f},"
                     f"{r['encode_ms']:.4f},{r['decode_ms']:.4f}," + ",".join(f"{v:.1f}" for v in r["quantiles"])
                     + "".join(f",{c}" for c in cells))
    lines.append(f"{splits + 1},none,0,{base:.4f},0,0," + ",".join(["" for _ in SIZE_PERCENTS]) + "," * len(curve_columns))
    (out / "payloads.csv").write_text("\n".join(lines) + "\n")
    from simsplit.ml.measure import measure_blocks, write_profile
    blocks = [(f"B{k + 1}", b) for k, b in enumerate(teacher[:-1])] + [("classifier", teacher[-1])]
    name = "digits-resnet" if config.backbone.kind == "residual" else config.backbone.model
    measurement = measure_blocks(name, blocks, (1, *data.test_x.shape[1:]),
                                 threads=config.threads, warmup=2, repeats=10)
    write_profile(measurement, out / "profile.csv", "host", ["edge-t4"], ["jetson-tx2", "rpi4"])
    summary = {"teacher_accuracy": base, "rows": [{k: v for k, v in r.items() if k != "sizes"} for r in rows],
               "naive_vs_aware": gaps}
    (out / "results.json").write_text(json.dumps(summary, indent=2) + "\n")
    plot_rate_accuracy(rows, base, gaps, out / "rate-accuracy.png")
    return summary


def plot_rate_accuracy(rows, base: float, gaps, path: Path) -> None:
    from simsplit.figures.plots import plt
    fig, ax = plt.subplots(figsize=(7.5, 4.5), constrained_layout=True)
    keys = sorted({(r["split"], r["bottleneck"].split("-q")[0]) for r in rows if r["bottleneck"].startswith("bn-")})
    colours = dict(zip(keys, plt.rcParams["axes.prop_cycle"].by_key()["color"] * 5))
    for split, name in keys:
        points = sorted((r["bytes"], r["accuracy"]) for r in rows
                        if r["split"] == split and r["bottleneck"].startswith(name + "-q") and r["bottleneck"].count("-") == 2)
        ax.plot([p[0] for p in points], [p[1] for p in points], "o-", markersize=3, color=colours[(split, name)],
                label=f"split {split}, {name}: aware (solid), naive (dashed), tables shared (dotted)")
        shared = sorted((r["bytes"], r["accuracy"]) for r in rows if r["split"] == split
                        and r["bottleneck"].startswith(name + "-q") and r["bottleneck"].endswith("-shared-tables"))
        ax.plot([p[0] for p in shared], [p[1] for p in shared], "s:", markersize=3, color=colours[(split, name)])
    for split, reduced in sorted({(g["split"], g["reduced_channels"]) for g in gaps}):
        mine = [g for g in gaps if g["split"] == split and g["reduced_channels"] == reduced]
        sizes = [next(r["bytes"] for r in rows if r["split"] == split and r["bottleneck"] == f"bn-c{reduced}-q{g['quality']}")
                 for g in mine]
        ax.plot(sizes, [g["naive_accuracy"] for g in mine], "x--", markersize=4, alpha=0.7,
                color=colours[(split, f"bn-c{reduced}")])
    entropy = sorted({(r["split"], r["bottleneck"].rsplit("-l", 1)[0]) for r in rows
                      if r["bottleneck"].startswith("entropy-")})
    palette = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for index, (split, name) in enumerate(entropy):
        points = sorted((r["bytes"], r["accuracy"]) for r in rows
                        if r["split"] == split and r["bottleneck"].rsplit("-l", 1)[0] == name)
        ax.plot([p[0] for p in points], [p[1] for p in points], "^-" if "vbr" in name else "v-", markersize=4,
                color=palette[(len(keys) + index) % len(palette)],
                label=f"split {split}, {name} (range-coded{', one model' if 'vbr' in name else ''})")
    ax.axhline(base, color="grey", linestyle=":", label=f"teacher {base:.3f}")
    ax.set_xscale("log")
    ax.set_xlabel("bytes per sample on the wire (log)")
    ax.set_ylabel("top-1 accuracy (test)")
    ax.legend(fontsize=7, loc="lower right", framealpha=0.9)
    ax.set_title("rate-accuracy: JPEG units (quality as the rate knob; naive = trained without the codec)\n"
                 "and range-coded units (lambda as the rate knob), on the test set", fontsize=10)
    fig.savefig(path, dpi=120)
    plt.close(fig)
