"""The compiled loop of :meth:`simsplit.model.channel.loss.PacketLoss.transmit_many`: many payloads' packet
erasures from one block of the loss process's uniform draws, with the very comparisons and arithmetic of
:meth:`~simsplit.model.channel.loss.PacketLoss.transmit`."""

from __future__ import annotations

import numpy as np

from simsplit.core.compiling import compiled, inlined


@inlined
def _packet(uniforms, at, state, retransmit, loss, switch):
    """One packet sent (until delivered, with ``retransmit``), two draws per attempt from ``uniforms[at:]`` (the
    chain's step from ``state``, the erasure): (attempts, 0 if the draws ran out; the last attempt erased; the
    next draw; the chain's state)."""
    attempts = 1
    while True:
        if at + 2 > uniforms.size:
            return 0, False, at, state
        if state:
            if uniforms[at] < switch[1]:
                state = False
        elif uniforms[at] < switch[0]:
            state = True
        erased = uniforms[at + 1] < loss[1 if state else 0]
        at += 2
        if not retransmit or not erased:
            return attempts, erased, at, state
        attempts += 1


@compiled
def transmissions(sizes, uniforms, bad, mtu_bits, retransmit, feedback_s, loss, switch):
    """:meth:`simsplit.model.channel.loss.PacketLoss.transmit` of each of ``sizes`` (bits) in turn, each packet's
    two draws (the chain's step, the erasure) from ``uniforms``, the chain starting ``bad``: (bits sent, extra
    feedback s, lost) of the transfers done before the draws ran out, the draws they used and the chain's state
    after them."""
    n = sizes.size
    sent, extra, lost = np.empty(n), np.zeros(n), np.zeros(n, dtype=np.bool_)
    used = 0
    for j in range(n):
        size = sizes[j]
        if size <= 0:
            sent[j] = 0.0
            continue
        packets = int(np.ceil(size / mtu_bits))
        at, state, sends, rounds, erased_any = used, bad, 0, 0, False
        for _ in range(packets):
            attempts, erased, at, state = _packet(uniforms, at, state, retransmit, loss, switch)
            if attempts == 0:  # the draws ran out
                return sent[:j], extra[:j], lost[:j], used, bad
            erased_any = erased_any or erased
            sends += attempts
            if attempts - 1 > rounds:
                rounds = attempts - 1
        if not retransmit:
            sent[j], lost[j] = size, erased_any
        elif packets == 1:
            sent[j], extra[j] = size * sends, (sends - 1) * feedback_s
        else:
            sent[j], extra[j] = size * sends / packets, rounds * feedback_s
        used, bad = at, state
    return sent, extra, lost, used, bad
