"""A small residual backbone for 32x32 digits, and the BottleNet unit inserted at one of its split points."""

from __future__ import annotations

import torch
from torch import nn

from simsplit.bottleneck.codec import StraightThroughCodec, awgn, bit_erasure


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


def backbone_blocks(width: int = 16, classes: int = 10) -> nn.ModuleList:
    """Blocks B1..B4 and the classifier; split k sends the output of block k (32x32 -> 16x16 -> 8x8)."""
    return nn.ModuleList([
        nn.Sequential(nn.Conv2d(1, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU()),
        Residual(width, width, 1),
        Residual(width, 2 * width, 2),
        Residual(2 * width, 4 * width, 2),
        nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1), nn.Linear(4 * width, classes)),
    ])


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
