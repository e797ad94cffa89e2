"""Train the backbone (teacher), then BottleNet units at each split (BottleFit-style: distil, then fine-tune),
JPEG in the loop, and entropy-coded units beside them; evaluate each with the real codec on the test set and
write the payload table, the backbone's profile and the rate-accuracy figure (:mod:`.outputs`).

Data (:mod:`.data`): scikit-learn's bundled handwritten digits upsampled to 32x32, or the user's image folder.
Backbone: a small residual network trained here, or a torchvision ResNet loaded from the user's weights file.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from simsplit.ml.bottleneck.config import TrainConfig, channel_levels
from simsplit.ml.bottleneck.data import Data, batches, load_data
from simsplit.ml.bottleneck.evaluate import accuracy, evaluate, evaluate_entropy
from simsplit.ml.bottleneck.model import BottleneckUnit, backbone_blocks, run
from simsplit.ml.bottleneck.outputs import write_outputs

Tick = Callable[[], None]
"""Called after every epoch (the command line's progress bar)."""


def train_backbone(config: TrainConfig, data: Data, generator: torch.Generator, tick: Tick) -> torch.nn.ModuleList:
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


def split_channels(teacher: torch.nn.ModuleList, split: int, data: Data) -> int:
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


def train_unit(config: TrainConfig, teacher: torch.nn.ModuleList, split: int, reduced: int, aware: bool, data: Data,
               generator: torch.Generator, tick: Tick) -> tuple[torch.nn.ModuleList, BottleneckUnit]:
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


def jpeg_rows(config: TrainConfig, teacher: torch.nn.ModuleList, data: Data, generator: torch.Generator,
              tick: Tick) -> tuple[list[dict], list[dict]]:
    """Payload rows of every JPEG bottleneck (a unit per split and reduced channels, evaluated at every quality)
    and, with ``naive``, the comparison with the same unit trained without the codec."""
    rows: list[dict] = []
    gaps: list[dict] = []
    for split in config.splits:
        for reduced in config.reduced_channels:
            student, unit = train_unit(config, teacher, split, reduced, True, data, generator, tick)
            unit_rows = jpeg_unit_rows(config, student, unit, split, reduced, data)
            rows += unit_rows
            if config.naive:
                gaps += naive_gaps(config, teacher, split, reduced, unit_rows, data, generator, tick)
    return rows, gaps


def jpeg_unit_rows(config: TrainConfig, student: torch.nn.ModuleList, unit: BottleneckUnit, split: int, reduced: int,
                   data: Data) -> list[dict]:
    """The rows of one trained unit at each quality: ``bn-c<r>-q<quality>`` (its ``curve``: accuracy by channel
    level), the same with JPEG tables and headers shared, and with the channel in the loop at each level."""
    rows = []
    for quality in config.qualities:
        result = evaluate(student, unit, split, quality, data)
        aware_row = {"split": split, "bottleneck": f"bn-c{reduced}-q{quality}", **result, "curve": {}}
        rows.append(aware_row)
        # the same unit and quality with JPEG tables and headers shared (BottleNet's route)
        rows.append({**result, **result["shared"], "split": split,
                     "bottleneck": f"bn-c{reduced}-q{quality}-shared-tables"})
        if config.channel is None:
            continue
        kind = config.channel["kind"]
        for level in channel_levels(config):
            noisy = evaluate(student, unit, split, quality, data, (kind, level), config.seed)
            aware_row["curve"][level] = noisy["accuracy"]
            rows.append({"split": split, "bottleneck": f"bn-c{reduced}-q{quality}-{kind}{level:g}", **noisy})
    return rows


def naive_gaps(config: TrainConfig, teacher: torch.nn.ModuleList, split: int, reduced: int, aware_rows: list[dict],
               data: Data, generator: torch.Generator, tick: Tick) -> list[dict]:
    """BottleNet's Fig. 7: the unit trained without the codec in the loop, evaluated with it at each quality
    (and with 8-bit quantisation alone), beside the aware unit's accuracy in ``aware_rows``."""
    student, unit = train_unit(config, teacher, split, reduced, False, data, generator, tick)
    gaps = []
    for quality in config.qualities:
        naive = evaluate(student, unit, split, quality, data)
        aware = next(r for r in aware_rows if r["split"] == split and r["bottleneck"] == f"bn-c{reduced}-q{quality}")
        gaps.append({"split": split, "reduced_channels": reduced, "quality": quality,
                     "naive_accuracy": naive["accuracy"], "aware_accuracy": aware["accuracy"],
                     "quantised_only_naive_accuracy": evaluate(student, unit, split, None, data)["accuracy"]})
    return gaps


def train_entropy_unit(config: TrainConfig, teacher: torch.nn.ModuleList, split: int, reduced: int, spatial: int,
                       lambdas: list[float], data: Data, generator: torch.Generator, tick: Tick):
    """As :func:`train_unit` with an :class:`~simsplit.ml.bottleneck.entropy.EntropyUnit` (its strided convolution
    reducing space by ``spatial``) and lambda x bits added to both stages' losses; with several ``lambdas`` (gain
    units), a random rate and its lambda per batch."""
    from simsplit.ml.bottleneck.entropy import EntropyUnit
    student = copy.deepcopy(teacher)
    channels = split_channels(teacher, split, data)
    unit = EntropyUnit(channels, reduced, spatial, rates=len(lambdas))
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

    fast: dict[str, Any] = {"params": unit.rate_parameters(), "lr": 5 * config.learning_rate}
    groups: list[dict[str, Any]] = [{"params": unit.main_parameters()}, fast]
    optimiser = torch.optim.Adam(groups, lr=config.learning_rate)
    for _ in range(config.distil_epochs):
        unit.train()
        for xb, _ in batches(data.train_x, data.train_y, config.batch_size, generator):
            weight = pick_rate()
            with torch.no_grad():
                target = run(teacher, xb, 0, split)
            restored, bits = unit(target)  # MSE relative to the features' power, on the scale of the task loss
            step(optimiser, F.mse_loss(restored, target) / target.pow(2).mean() + weight * bits.mean())
        tick()
    groups = [{"params": list(student.parameters()) + unit.main_parameters()}, fast]
    optimiser = torch.optim.Adam(groups, lr=config.learning_rate / 2)
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


def entropy_rows(config: TrainConfig, teacher: torch.nn.ModuleList, data: Data, generator: torch.Generator,
                 tick: Tick) -> list[dict]:
    """Payload rows of every entropy-coded bottleneck the config asks for: ``entropy-factorized-c<r>-l<lambda>``
    (one model per lambda) and ``entropy-vbr-c<r>-l<lambda>`` (one model, every lambda); none without
    ``entropy`` options."""
    options = config.entropy
    rows: list[dict] = []
    if options is None:
        return rows
    for split in options.splits:
        for reduced in options.reduced_channels:
            if "factorized" in options.kinds:
                for weight in options.lambdas:
                    student, unit = train_entropy_unit(config, teacher, split, reduced, options.spatial, [weight],
                                                       data, generator, tick)
                    rows.append({"split": split, "bottleneck": f"entropy-factorized-c{reduced}-l{weight:g}",
                                 **evaluate_entropy(student, unit, split, 0, data)})
            if "vbr" in options.kinds:
                student, unit = train_entropy_unit(config, teacher, split, reduced, options.spatial,
                                                   list(options.lambdas), data, generator, tick)
                for rate, weight in enumerate(options.lambdas):
                    rows.append({"split": split, "bottleneck": f"entropy-vbr-c{reduced}-l{weight:g}",
                                 **evaluate_entropy(student, unit, split, rate, data)})
    return rows


def train_bottlenecks(config: TrainConfig, out: Path, tick: Tick = lambda: None) -> dict:
    """Run the whole pipeline; write payloads.csv, profile.csv, results.json and rate-accuracy.png into ``out``."""
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    generator = torch.Generator().manual_seed(config.seed)
    data = load_data(config)
    teacher = train_backbone(config, data, generator, tick)
    base = accuracy(lambda x: run(teacher, x), data.test_x, data.test_y)
    rows, gaps = jpeg_rows(config, teacher, data, generator, tick)
    rows += entropy_rows(config, teacher, data, generator, tick)
    return write_outputs(config, out, teacher, data, base, rows, gaps)
