"""Backbones (a small residual network for 32x32 digits, or a torchvision ResNet with the user's weights file)
as a list of blocks, and the BottleNet unit inserted at one of its split points."""

from __future__ import annotations

import torch
from torch import nn

from simsplit.ml.bottleneck.codec import StraightThroughCodec, awgn, bit_erasure


class Residual(nn.Module):
    """A basic residual block (two 3x3 convolutions, batch norm), optionally strided."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),
                                  nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out))
        self.skip = (nn.Identity() if stride == 1 and c_in == c_out else
                     nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)))

    def forward(self, x):
        return torch.relu(self.body(x) + self.skip(x))


def backbone_blocks(width: int = 16, classes: int = 10, in_channels: int = 1) -> nn.ModuleList:
    """Blocks B1..B4 and the classifier; split k sends the output of block k (32x32 -> 16x16 -> 8x8)."""
    return nn.ModuleList([
        nn.Sequential(nn.Conv2d(in_channels, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU()),
        Residual(width, width, 1),
        Residual(width, 2 * width, 2),
        Residual(2 * width, 4 * width, 2),
        nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1), nn.Linear(4 * width, classes)),
    ])


TORCHVISION_RESNETS = ("resnet18", "resnet34", "resnet50", "resnet101")


def torchvision_blocks(name: str, weights_file: str, classes: int) -> tuple[nn.ModuleList, bool]:
    """A torchvision ResNet with the weights of a local ``weights_file`` (a state dict; nothing is
    downloaded) as blocks stem, layer1..layer4, classifier (split k sends block k's output), and whether its
    classifier was replaced by a new one for ``classes`` classes (to be trained: a linear probe)."""
    import pickle

    import torchvision

    from simsplit.core.config import FieldValueError
    model = getattr(torchvision.models, name)(weights=None)
    try:
        model.load_state_dict(torch.load(weights_file, map_location="cpu", weights_only=True))
    except (RuntimeError, pickle.UnpicklingError, EOFError, OSError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise FieldValueError("backbone.weights", f"expected a state dict of torchvision's {name} in {weights_file}: "
                              f"{reason[:200]}") from None
    replaced = model.fc.out_features != classes
    if replaced:
        model.fc = nn.Linear(model.fc.in_features, classes)
    return nn.ModuleList([nn.Sequential(model.conv1, model.bn1, model.relu, model.maxpool), model.layer1,
                          model.layer2, model.layer3, model.layer4,
                          nn.Sequential(model.avgpool, nn.Flatten(1), model.fc)]), replaced


def run(blocks, x, start: int = 0, stop: int | None = None):
    """Blocks ``start`` .. ``stop - 1`` applied in order."""
    for block in list(blocks)[start:stop]:
        x = block(x)
    return x


class BottleneckUnit(nn.Module):
    """BottleNet's unit: device side reduces channels (1x1 conv, BN, leaky ReLU) and space (strided 3x3 conv,
    linear); plain ReLUs there let 2-channel codes die (a constant code, chance accuracy) in some trainings.
    The channel in between is the codec (JPEG at ``quality``; ``None`` for 8-bit quantisation alone;
    optionally with BottleNet++ noise); the server side restores space and channels."""

    def __init__(self, channels: int, reduced: int, spatial: int = 2):
        super().__init__()
        self.encoder = nn.Sequential(nn.Conv2d(channels, reduced, 1, bias=False), nn.BatchNorm2d(reduced),
                                     nn.LeakyReLU(0.1),
                                     nn.Conv2d(reduced, reduced, 3, spatial, 1))
        self.decoder = nn.Sequential(nn.ConvTranspose2d(reduced, reduced, spatial, spatial), nn.ReLU(),
                                     nn.Conv2d(reduced, channels, 1, bias=False), nn.BatchNorm2d(channels), nn.ReLU())
        self.quality: int | None = None
        self.codec_in_training = True
        self.channel: tuple[str, float] | None = None

    def transmit(self, z: torch.Tensor) -> torch.Tensor:
        """What the server receives for the encoded ``z``."""
        if self.channel is not None:
            kind, level = self.channel
            z = awgn(z, level) if kind == "awgn" else bit_erasure(z, level)
        if self.training and not self.codec_in_training:
            return z  # naive training: the codec is left out until inference
        return StraightThroughCodec.apply(z, self.quality)

    def forward(self, x):
        return self.decoder(self.transmit(self.encoder(x)))
