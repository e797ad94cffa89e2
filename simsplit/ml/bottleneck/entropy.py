"""Entropy-coded bottlenecks (CompressAI): the split tensor reduced as in BottleNet, then quantised to
integers and range-coded under a learned factorized prior (Ballé et al.'s ``EntropyBottleneck``), trained
with a rate–task loss (cross-entropy and distillation plus lambda x bits). The payload is the real range-coded
bit stream of ``compress()``.

Variable rate from one set of weights: per-rate **gain units** (a learned gain per channel before
quantisation and its inverse after, one pair per rate; Cui et al.'s gain units, standing in for Datta et
al.'s rate-control input), trained with a random rate and its lambda per batch, so that one model serves
every rate it was trained for.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)  # compressai's torch.jit.script under torch 2.14
    from compressai.entropy_models import EntropyBottleneck

HEADER_BYTES = 2
"""Bytes sent before each bit stream: the model and rate index (the shape is fixed by the split)."""


class EntropyUnit(nn.Module):
    """Device side: 1x1 conv to ``reduced`` channels, BN, leaky ReLU, strided 3x3 conv (as BottleNet's
    unit); then gain (rate ``rate``), rounding and range coding under a factorized prior; server side:
    inverse gain, transposed conv and 1x1 conv back to ``channels``. ``rates`` > 1 gives gain units."""

    def __init__(self, channels: int, reduced: int, spatial: int = 2, rates: int = 1):
        super().__init__()
        self.encoder = nn.Sequential(nn.Conv2d(channels, reduced, 1, bias=False), nn.BatchNorm2d(reduced),
                                     nn.LeakyReLU(0.1), nn.Conv2d(reduced, reduced, 3, spatial, 1))
        self.decoder = nn.Sequential(nn.ConvTranspose2d(reduced, reduced, spatial, spatial), nn.ReLU(),
                                     nn.Conv2d(reduced, channels, 1, bias=False), nn.BatchNorm2d(channels), nn.ReLU())
        self.entropy = EntropyBottleneck(reduced, init_scale=2.0)  # latents start near unit scale
        spread = torch.linspace(1.0, -1.0, rates) if rates > 1 else torch.zeros(1)  # gains from e to 1/e
        self.log_gain = nn.Parameter(spread.view(-1, 1).repeat(1, reduced))
        self.rate = 0

    def _gain(self) -> torch.Tensor:
        return self.log_gain[self.rate].exp().view(1, -1, 1, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(restored features, bits per sample): noise for rounding in training, rounding in evaluation."""
        gain = self._gain()
        y_hat, likelihoods = self.entropy(self.encoder(x) * gain)
        bits = -torch.log2(likelihoods).flatten(1).sum(1)
        return self.decoder(y_hat / gain), bits

    def aux_loss(self) -> torch.Tensor:
        """The entropy model's quantile loss (trained by its own optimiser, as CompressAI does)."""
        return self.entropy.loss()

    def main_parameters(self) -> list[nn.Parameter]:
        """The encoder's and decoder's weights."""
        return [p for name, p in self.named_parameters() if name.startswith(("encoder.", "decoder."))]

    def rate_parameters(self) -> list[nn.Parameter]:
        """The prior's density and the gains: trained faster (few steps on a small dataset)."""
        return [p for name, p in self.named_parameters()
                if name == "log_gain" or (name.startswith("entropy.") and not name.endswith("quantiles"))]

    def aux_parameters(self) -> list[nn.Parameter]:
        return [p for name, p in self.named_parameters() if name.endswith("quantiles")]

    def prepare(self) -> None:
        """Build the range coder's tables from the trained prior (before :meth:`compress`)."""
        self.entropy.update(force=True)

    def compress(self, x: torch.Tensor) -> tuple[list[bytes], tuple[int, int]]:
        """The range-coded bit stream of each sample of ``x`` and the latent's spatial shape."""
        y = self.encoder(x) * self._gain()
        return self.entropy.compress(y), tuple(y.shape[-2:])

    def decompress(self, strings: list[bytes], shape: tuple[int, int]) -> torch.Tensor:
        """The server side: bit streams back to features at the split."""
        return self.decoder(self.entropy.decompress(strings, shape) / self._gain())
