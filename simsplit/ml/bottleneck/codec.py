"""The lossy codec in the forward pass: 8-bit uniform quantisation, then JPEG of the channels tiled into
one grayscale image (Pillow); in the backward pass the codec is the identity (straight-through).

Each sample is quantised with its own minimum and scale (two float32 values, 8 bytes, sent with it);
the bytes on the wire are the real JPEG length plus those 8 bytes. A JPEG file repeats, for every sample,
headers that do not change between samples of one bottleneck at one quality (the quantisation and
Huffman tables, the frame and scan headers: about 300 bytes at these tile sizes); BottleNet sends only the
entropy-coded scan with the tables agreed once. :func:`scan_bytes` measures that route: the scan data and
the end-of-image marker.
"""

from __future__ import annotations

import io
import math

import numpy as np
import torch
from PIL import Image

HEADER_BYTES = 8
"""Per-sample minimum and scale (two float32) sent with the JPEG."""


def tile(channels: np.ndarray) -> np.ndarray:
    """(C, H, W) -> one (rows*H, cols*W) image, channels laid out row by row (unused tiles black)."""
    c, h, w = channels.shape
    cols = math.ceil(math.sqrt(c))
    rows = math.ceil(c / cols)
    image = np.zeros((rows * h, cols * w), dtype=channels.dtype)
    for k in range(c):
        r, q = divmod(k, cols)
        image[r * h:(r + 1) * h, q * w:(q + 1) * w] = channels[k]
    return image


def untile(image: np.ndarray, c: int, h: int, w: int) -> np.ndarray:
    cols = math.ceil(math.sqrt(c))
    return np.stack([image[(k // cols) * h:(k // cols + 1) * h, (k % cols) * w:(k % cols + 1) * w] for k in range(c)])


def quantise(x: np.ndarray) -> tuple[np.ndarray, float, float]:
    """8-bit uniform quantisation of one sample: (codes, minimum, scale)."""
    low, high = float(x.min()), float(x.max())
    scale = (high - low) / 255.0 if high > low else 1.0
    return np.clip(np.rint((x - low) / scale), 0, 255).astype(np.uint8), low, scale


SOS, EOI = b"\xff\xda", b"\xff\xd9"


def scan_bytes(jpeg: bytes) -> int:
    """Bytes of a baseline JPEG that are specific to this image when tables and headers are shared: the
    entropy-coded scan after the start-of-scan header, and the end-of-image marker."""
    start = jpeg.index(SOS)
    header_length = int.from_bytes(jpeg[start + 2:start + 4], "big")
    return len(jpeg) - (start + 2 + header_length)


def jpeg_roundtrip(x: torch.Tensor, quality: int | None,
                   shared_sizes: list[int] | None = None) -> tuple[torch.Tensor, list[int]]:
    """Quantise (and, with a ``quality``, JPEG-code) each sample of ``x`` (N, C, H, W); return the decoded
    tensor and each sample's bytes on the wire. With ``shared_sizes`` (a list), also append each sample's
    bytes when JPEG tables and headers are shared (:func:`scan_bytes` plus the 8-byte minimum and scale)."""
    array = x.detach().cpu().float().numpy()
    out = np.empty_like(array)
    sizes = []
    n, c, h, w = array.shape
    for i in range(n):
        codes, low, scale = quantise(array[i])
        if quality is None:
            decoded, size = codes, codes.size
        else:
            buffer = io.BytesIO()
            Image.fromarray(tile(codes), mode="L").save(buffer, format="JPEG", quality=int(quality))
            size = buffer.tell()
            if shared_sizes is not None:
                shared_sizes.append(scan_bytes(buffer.getvalue()) + HEADER_BYTES)
            buffer.seek(0)
            decoded = untile(np.asarray(Image.open(buffer), dtype=np.uint8), c, h, w)
        out[i] = decoded.astype(np.float32) * scale + low
        sizes.append(size + HEADER_BYTES)
        if quality is None and shared_sizes is not None:
            shared_sizes.append(size + HEADER_BYTES)
    return torch.from_numpy(out).to(x.device, x.dtype), sizes


class StraightThroughCodec(torch.autograd.Function):
    """Forward: the real codec; backward: identity, so gradients reach the encoder through it."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, quality):
        decoded, _ = jpeg_roundtrip(x, quality)
        return decoded

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return grad, None


def awgn(x: torch.Tensor, snr_db: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Add white Gaussian noise at ``snr_db`` relative to each sample's mean power (BottleNet++'s channel)."""
    power = x.pow(2).mean(dim=tuple(range(1, x.dim())), keepdim=True).clamp_min(1e-12)
    noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return x + noise * torch.sqrt(power / 10 ** (snr_db / 10))


def bit_erasure(x: torch.Tensor, p: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """8-bit quantise each sample, erase every bit with probability ``p`` (an erased bit counts as half,
    as BottleNet++ sets it to its mid value), dequantise; straight-through in the backward pass."""
    low = x.amin(dim=tuple(range(1, x.dim())), keepdim=True)
    scale = (x.amax(dim=tuple(range(1, x.dim())), keepdim=True) - low).clamp_min(1e-12) / 255.0
    codes = torch.round((x - low) / scale).clamp(0, 255).to(torch.int64)
    value = torch.zeros_like(x)
    for bit in range(8):
        kept = ((codes >> bit) & 1).to(x.dtype)
        erased = torch.rand(x.shape, generator=generator, device=x.device) < p
        value = value + torch.where(erased, torch.full_like(x, 0.5), kept) * (1 << bit)
    noisy = value * scale + low
    return x + (noisy - x).detach()
