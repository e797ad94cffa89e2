"""Independent random streams, one per named component.

Each component (a device's arrivals, the server's service times, ...) gets a
numpy ``Generator`` seeded from ``SeedSequence(seed, spawn_key=(key,))`` where
``key`` is a stable 64-bit hash of the component's name. The stream therefore
depends only on the scenario seed and the component's name: adding a device,
or changing another component's parameters, leaves every other stream's draws
unchanged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np

BLOCK_SIZE = 4096
"""Variates drawn per refill of a :class:`BlockSampler` (the largest block of a growing one)."""
FIRST_BLOCK = 16
"""First block of a growing :class:`BlockSampler`; each refill doubles it up to BLOCK_SIZE."""


def stream_key(name: str) -> int:
    """Stable 64-bit integer for a component name (independent of PYTHONHASHSEED)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little")


class RandomStreams:
    """Factory of per-component generators for one run seed."""

    def __init__(self, seed: int):
        self.seed = int(seed)

    def generator(self, name: str) -> np.random.Generator:
        """A fresh generator for the component called ``name``."""
        sequence = np.random.SeedSequence(self.seed, spawn_key=(stream_key(name),))
        return np.random.Generator(np.random.PCG64(sequence))


class BlockSampler:
    """Draws variates in blocks and hands them out one at a time.

    ``draw(rng, n)`` must return ``n`` variates; numpy's block draws give the
    same sequence as repeated scalar draws, so the block size never changes
    the numbers a sampler hands out. With ``grow`` (for a sampler that owns
    its generator) blocks start at FIRST_BLOCK and double up to BLOCK_SIZE, so
    a fleet of devices with few requests each does not draw 4,096 variates
    per device; a sampler that shares its generator with other draws must
    keep a fixed block, since the block size then decides which draws it gets.
    """

    __slots__ = ("_block", "_draw", "_index", "_rng", "_size")

    def __init__(self, rng: np.random.Generator, draw: Callable[[np.random.Generator, int], np.ndarray],
                 grow: bool = False):
        self._rng = rng
        self._draw = draw
        self._block: list[float] = []
        self._index = 0
        self._size = FIRST_BLOCK if grow else BLOCK_SIZE

    def __call__(self) -> float:
        """The next variate."""
        index = self._index
        if index == len(self._block):
            size = self._size
            self._block = self._draw(self._rng, size).tolist()
            if size < BLOCK_SIZE:
                self._size = 2 * size
            index = 0
        self._index = index + 1
        return self._block[index]

    def take(self, n: int) -> np.ndarray:
        """The next ``n`` variates as an array: the same numbers ``n`` calls would hand out, drawn in the
        same blocks, so calls and takes can be mixed freely."""
        parts = []
        rest = self._block[self._index:self._index + n]
        if rest:
            parts.append(np.asarray(rest, dtype=float))
            self._index += len(rest)
        left = n - len(rest)
        while left > 0:
            size = self._size
            block = np.asarray(self._draw(self._rng, size), dtype=float)
            if size < BLOCK_SIZE:
                self._size = 2 * size
            if left >= size:  # used up whole
                parts.append(block)
                self._block, self._index = [], 0
                left -= size
            else:
                parts.append(block[:left])
                self._block, self._index = block.tolist(), left
                left = 0
        if not parts:
            return np.empty(0)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)
