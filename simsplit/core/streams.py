"""Independent random streams, one per named component.

Each component (a device's arrivals, the server's service times, ...) gets a
numpy ``Generator`` seeded from ``SeedSequence(seed, spawn_key=(key,))`` where
``key`` is a stable 64-bit hash of the component's name. The stream therefore
depends only on the scenario seed and the component's name: adding a device,
or changing another component's parameters, leaves every other stream's draws
unchanged.

Hashing a seed sequence costs ~18 us per stream; a fleet's per-device streams are hashed together
(:meth:`RandomStreams.prepare`, the same words in numpy's ``uint32`` arithmetic, ~0.3 us each), so
building 10,000 devices does not cost a fifth of a second of hashing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np
from numpy.random.bit_generator import ISeedSequence

BLOCK_SIZE = 4096
"""Variates drawn per refill of a :class:`BlockSampler` (the largest block of a growing one)."""
FIRST_BLOCK = 16
"""First block of a growing :class:`BlockSampler`; each refill doubles it up to BLOCK_SIZE."""


def stream_key(name: str) -> int:
    """Stable 64-bit integer for a component name (independent of PYTHONHASHSEED)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little")


HASHED_KEPT = 50_000
"""Seed words kept across runs (about 200 bytes each), by (seed, stream name)."""
_HASHED: dict[tuple[int, str], np.ndarray] = {}


class RandomStreams:
    """Factory of per-component generators for one run seed."""

    def __init__(self, seed: int):
        self.seed = int(seed)
        self._prepared: dict[str, np.ndarray] = {}
        """Seed words of streams hashed ahead (:meth:`prepare`), by name, until their generator is built."""

    def prepare(self, names: list[str]) -> None:
        """Hash the seeds of the streams called ``names`` at once; :meth:`generator` then builds each of
        them without hashing it alone. The generators are the same either way. Words hashed for this seed
        before (a calibration runs the same seeds hundreds of times) are taken from :data:`_HASHED`."""
        if not 0 <= self.seed < 2 ** 128:  # four 32-bit words of entropy at most (numpy pads to four)
            return
        kept = ((name, _HASHED.get((self.seed, name))) for name in names)  # .get: another thread may clear it
        words = {name: row for name, row in kept if row is not None}
        fresh = [name for name in names if name not in words]
        if fresh:
            hashed = dict(zip(fresh, seed_words(self.seed, [stream_key(name) for name in fresh]), strict=True))
            words.update(hashed)
            if len(_HASHED) + len(fresh) > HASHED_KEPT:
                _HASHED.clear()
            if len(fresh) <= HASHED_KEPT:
                _HASHED.update(((self.seed, name), row) for name, row in hashed.items())
        self._prepared.update((name, words[name]) for name in names)

    def generator(self, name: str) -> np.random.Generator:
        """A fresh generator for the component called ``name``."""
        words = self._prepared.pop(name, None)
        sequence = np.random.SeedSequence(self.seed, spawn_key=(stream_key(name),)) if words is None \
            else _HashedSeed(words)
        # numpy takes any ISeedSequence; its stubs name only SeedSequence
        return np.random.Generator(np.random.PCG64(sequence))  # type: ignore[arg-type]


class _HashedSeed(ISeedSequence):
    """A seed sequence whose four 64-bit words (all PCG64 asks for) were computed ahead."""

    def __init__(self, words: np.ndarray):
        self._words = words

    def generate_state(self, n_words: int, dtype=np.uint32) -> np.ndarray:
        if n_words != 4 or np.dtype(dtype) != np.uint64:
            raise ValueError("a hashed seed holds the four 64-bit words of a PCG64 seed only")
        return self._words


_INIT_A, _MULT_A, _INIT_B, _MULT_B = 0x43B0D7E5, 0x931E8875, 0x8B51F9DD, 0x58F38DED
_MIX_L, _MIX_R, _SHIFT = np.uint32(0xCA01F9DD), np.uint32(0x4973F715), np.uint32(16)
_POOL = 4


def seed_words(seed: int, keys: list[int]) -> np.ndarray:
    """For each 64-bit ``key``, ``SeedSequence(seed, spawn_key=(key,)).generate_state(4, np.uint64)``
    (``0 <= seed < 2**128``), computed for all keys at once: numpy's hash of the entropy words (the
    seed's 32-bit words padded to the pool's four, then the key's one or two words), in wrapping
    ``uint32`` arithmetic. Shape (len(keys), 4), uint64."""
    key = np.asarray(keys, dtype=np.uint64).reshape(-1)
    seed_part = [(seed >> (32 * i)) & 0xFFFFFFFF for i in range(_POOL)]
    low, high = (key & np.uint64(0xFFFFFFFF)).astype(np.uint32), (key >> np.uint64(32)).astype(np.uint32)
    hash_const = [_INIT_A]

    def hashmix(value):
        value = value ^ np.uint32(hash_const[0])
        hash_const[0] = (hash_const[0] * _MULT_A) & 0xFFFFFFFF
        value = value * np.uint32(hash_const[0])
        return value ^ (value >> _SHIFT)

    def mix(x, y):
        result = _MIX_L * x - _MIX_R * y
        return result ^ (result >> _SHIFT)

    with np.errstate(over="ignore"):
        pool = [hashmix(np.full(key.size, word, dtype=np.uint32)) for word in seed_part]
        for source in range(_POOL):
            for target in range(_POOL):
                if source != target:
                    pool[target] = mix(pool[target], hashmix(pool[source]))
        pool = [mix(pool[target], hashmix(low)) for target in range(_POOL)]
        with_high = high != 0  # a key below 2**32 is one word of entropy
        pool = [np.where(with_high, mix(pool[target], hashmix(high)), pool[target]) for target in range(_POOL)]
        out, out_const = [], _INIT_B
        for i in range(2 * _POOL):
            value = pool[i % _POOL] ^ np.uint32(out_const)
            out_const = (out_const * _MULT_B) & 0xFFFFFFFF
            value = value * np.uint32(out_const)
            out.append(value ^ (value >> _SHIFT))
    return np.stack(out, axis=1).view(np.uint64)


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

    __slots__ = ("_block", "_draw", "_index", "_owns", "_rng", "_size")

    def __init__(self, rng: np.random.Generator, draw: Callable[[np.random.Generator, int], np.ndarray],
                 grow: bool = False):
        self._rng = rng
        self._draw = draw
        self._block: list[float] = []
        self._index = 0
        self._size = FIRST_BLOCK if grow else BLOCK_SIZE
        self._owns = grow
        """It owns its generator: how many variates it draws at a time changes nothing but the cost."""

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
        """The next ``n`` variates as an array: the same numbers ``n`` calls would hand out (drawn in the
        same blocks where the generator is shared; exactly the rest, at once, where the sampler owns it),
        so calls and takes can be mixed freely."""
        parts = []
        rest = self._block[self._index:self._index + n]
        if rest:
            parts.append(np.asarray(rest, dtype=float))
            self._index += len(rest)
        left = n - len(rest)
        while left > 0:
            size = left if self._owns else self._size  # an owner draws exactly the rest, in one call
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

    def upcoming(self, n: int) -> np.ndarray:
        """The next ``n`` variates without handing them out (:meth:`skip` hands out the ones used): only for a
        sampler that owns its generator, where how many it draws at a time changes no number."""
        if not self._owns:
            raise ValueError("upcoming() needs a sampler that owns its generator")
        left = len(self._block) - self._index
        if left < n:
            more = np.asarray(self._draw(self._rng, n - left), dtype=float).tolist()
            self._block, self._index = self._block[self._index:] + more, 0
        return np.array(self._block[self._index:self._index + n], dtype=float)

    def skip(self, n: int) -> None:
        """Hand out the next ``n`` variates (already seen through :meth:`upcoming`)."""
        if self._index + n > len(self._block):
            raise ValueError("skip() past the variates upcoming() drew")
        self._index += n
