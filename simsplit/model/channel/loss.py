"""Packet erasures on a link: Bernoulli, or Gilbert-Elliott (a two-state chain over successive packets).

A payload travels as ``ceil(bytes / mtu_bytes)`` packets. With retransmission
(ARQ), every erased packet is sent again until it gets through: the transfer
carries the extra bits and waits one feedback delay per retransmission round.
Without it, a payload with any erased packet is lost.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import Field, NonNegativeFloat, PositiveInt, model_validator

from simsplit.core.config import Config, FieldValueError
from simsplit.core.streams import BlockSampler
from simsplit.core.units import BITS_PER_BYTE, MS


class LossConfig(Config):
    """Packet erasures: Bernoulli (``p``) or Gilbert-Elliott (per-packet chain); with or without ARQ."""

    kind: Literal["bernoulli", "gilbert_elliott"]
    p: float | None = Field(default=None, ge=0, lt=1)
    loss_good: float = Field(default=0.0, ge=0, lt=1)
    loss_bad: float = Field(default=0.5, ge=0, lt=1)
    p_good_bad: float = Field(default=0.01, ge=0, le=1)
    p_bad_good: float = Field(default=0.2, ge=0, le=1)
    mtu_bytes: PositiveInt = 1500
    retransmit: bool = True
    feedback_ms: NonNegativeFloat = 8.0

    @model_validator(mode="after")
    def _parameters(self):
        if self.kind == "bernoulli" and self.p is None:
            raise FieldValueError("p", "a bernoulli loss needs p, the erasure probability per packet")
        if self.kind == "gilbert_elliott" and self.p is not None:
            raise FieldValueError("p", "a gilbert_elliott loss takes loss_good, loss_bad, p_good_bad, p_bad_good")
        return self

    @property
    def process_options(self) -> dict:
        """Keyword arguments for :class:`PacketLoss`."""
        common = {"mtu_bytes": self.mtu_bytes, "retransmit": self.retransmit, "feedback_s": self.feedback_ms * MS}
        if self.kind == "bernoulli":
            return {**common, "loss_good": self.p}
        return {**common, "loss_good": self.loss_good, "loss_bad": self.loss_bad,
                "p_good_bad": self.p_good_bad, "p_bad_good": self.p_bad_good}


class PacketLoss:
    """Erasure process of one link direction of one device.

    ``p_good_bad``/``p_bad_good`` are per-packet transition probabilities of the
    Gilbert-Elliott chain and ``loss_good``/``loss_bad`` the erasure
    probabilities in each state; Bernoulli is the one-state case.
    """

    def __init__(self, rng: np.random.Generator, *, mtu_bytes: int, retransmit: bool, feedback_s: float,
                 loss_good: float, loss_bad: float = 0.0, p_good_bad: float = 0.0, p_bad_good: float = 1.0):
        if not 0 <= loss_good < 1 or not 0 <= loss_bad < 1:
            raise ValueError("erasure probabilities must be in [0, 1)")
        self._uniform = BlockSampler(rng, _uniforms, grow=True)
        """Uniform draws from the process's own stream, in blocks (the same numbers as one at a time)."""
        self.mtu_bits = mtu_bytes * BITS_PER_BYTE
        self.retransmit = retransmit
        self.feedback_s = feedback_s
        self.loss = (loss_good, loss_bad)
        self.switch = (p_good_bad, p_bad_good)
        self._bad = False

    @property
    def mean_erasure(self) -> float:
        """Long-run fraction of packet transmissions erased."""
        p_gb, p_bg = self.switch
        bad = p_gb / (p_gb + p_bg) if p_gb + p_bg > 0 else 0.0
        return (1 - bad) * self.loss[0] + bad * self.loss[1]

    def _erased(self) -> bool:
        """Send one packet; whether it was erased (advances the chain)."""
        uniform = self._uniform
        if self._bad:
            if uniform() < self.switch[1]:
                self._bad = False
        elif uniform() < self.switch[0]:
            self._bad = True
        return uniform() < self.loss[self._bad]

    def erased_fraction(self, size_bits: float) -> float:
        """Send a payload of ``size_bits`` once, without retransmission; the fraction of its packets erased."""
        if size_bits <= 0:
            return 0.0
        packets = math.ceil(size_bits / self.mtu_bits)
        return sum([self._erased() for _ in range(packets)]) / packets

    def transmit(self, size_bits: float) -> tuple[float, float, bool]:
        """(bits actually sent, extra feedback delay in s, lost) for a payload of ``size_bits``."""
        if size_bits <= 0:
            return 0.0, 0.0, False
        packets = math.ceil(size_bits / self.mtu_bits)
        if not self.retransmit:
            lost = any([self._erased() for _ in range(packets)])
            return size_bits, 0.0, lost
        if packets == 1:  # the loop below for one packet (a bottleneck's payload), the same draws and bits
            attempts = 1
            while self._erased():
                attempts += 1
            return size_bits * attempts, (attempts - 1) * self.feedback_s, False
        sends, rounds = 0, 0
        for _ in range(packets):
            attempts = 1
            while self._erased():
                attempts += 1
            sends += attempts
            rounds = max(rounds, attempts - 1)
        return size_bits * sends / packets, rounds * self.feedback_s, False

    def transmit_many(self, sizes_bits: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`transmit` of each of ``sizes_bits`` in turn (the same draws, the same numbers), in a compiled
        loop: (bits sent, extra feedback delay s, lost)."""
        from simsplit.model.channel.loss_kernel import transmissions
        parts = []
        rest = np.asarray(sizes_bits, dtype=float)
        draws = int(2 * np.ceil(np.maximum(rest, 0.0) / self.mtu_bits).sum() * (2 if self.retransmit else 1)) + 64
        while True:
            uniforms = self._uniform.upcoming(draws)
            sent, extra, lost, used, self._bad = transmissions(rest, uniforms, self._bad, float(self.mtu_bits),
                                                               self.retransmit, self.feedback_s,
                                                               np.array(self.loss, dtype=float),
                                                               np.array(self.switch, dtype=float))
            self._uniform.skip(used)
            parts.append((sent, extra, lost))
            if sent.size == rest.size:
                break
            rest = rest[sent.size:]
            draws *= 2  # the draws ran out: twice as many for the rest
        return tuple(np.concatenate(values) for values in zip(*parts, strict=True))  # type: ignore[return-value]


def _uniforms(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.random(n)
