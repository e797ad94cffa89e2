"""The ``train-bottleneck`` configuration (YAML): the data, the backbone, the BottleNet units to train (splits,
reduced channels, JPEG qualities, an optional channel in the loop) and the entropy-coded units beside them."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveFloat, PositiveInt, model_validator

from simsplit.core.config import Config, FieldValueError


class EntropyOptions(Config):
    """Entropy-coded bottlenecks to train beside the JPEG ones (CompressAI; see
    :mod:`simsplit.ml.bottleneck.entropy`)."""

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


def channel_levels(config: TrainConfig) -> list[float]:
    """SNRs (dB) or erasure probabilities the BottleNet++ option trains at (the first) and evaluates at."""
    if config.channel is None:
        return []
    return list(config.channel["snr_db"] if config.channel["kind"] == "awgn" else config.channel["p"])

