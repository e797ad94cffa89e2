"""The fast path's uplink stage (:class:`UploadStages`): each offloaded request's payload and losses, then its
upload over its device's own link (compiled, :class:`~simsplit.engine.fastpath_links.LinkArrays`) or through its
cell's events (:class:`~simsplit.engine.fastpath_cells.SharedUplinks`), and on to its server."""

from __future__ import annotations

import math

import numpy as np

from simsplit.engine import kernels
from simsplit.engine.cell_kernel import CompiledUplinks
from simsplit.engine.fastpath_base import StageBase
from simsplit.engine.fastpath_cells import SharedUplinks
from simsplit.engine.fastpath_links import LinkArrays, device_runs, transfer_losses
from simsplit.engine.transfers import erasure_accuracy, snr_accuracy


class UploadStages(StageBase):
    """The uplink stage of a window, and what a transfer's channel changes (handovers, accuracy)."""

    def _upload(self, rows: np.ndarray, head_end: np.ndarray, horizon: float) -> None:
        """Payload sizes, losses and the uplink of offloaded requests ``rows`` (grouped by device): over each
        device's own link, or through its cell's events before ``horizon`` (s)."""
        owner = self._get("device", rows)
        sent, extra, lost, erased = self._payloads(rows, owner)
        clock = self._get("_clock", rows)
        before = self._previous_clocks(owner, clock)
        shared = self.cell_of[owner] >= 0
        if shared.any():
            ready = kernels.after(clock[shared], head_end[shared])  # an event set at the request's arrival
            self._submit_to_cells(rows[shared], owner[shared], (ready, clock[shared], ready), ready, sent[shared],
                                  extra[shared], lost[shared], erased[shared])
            rows, owner, head_end, sent, extra, lost, erased, clock, before = (
                a[~shared] for a in (rows, owner, head_end, sent, extra, lost, erased, clock, before))
        self._set("bits_up", rows, sent)
        start, end = self.uplinks.send(owner, head_end, sent, extra)
        self._handovers(rows, owner, start, end, self.uplinks, "bits_up")
        self._accuracy(rows, owner, start, erased)
        self._set("uplink_wait_s", rows, start - head_end)
        self._set("uplink_start_at_s", rows, start)
        self._set("uplink_s", rows, end - start)
        self._uploaded(rows, owner, end, lost, clock, (clock, before), rows)
        if self.cells is not None:
            self._run_cells(self.cells, horizon)

    def _payloads(self, rows: np.ndarray, owner: np.ndarray) -> tuple[np.ndarray, ...]:
        """Each upload's payload (drawn where its plan draws sizes) and packet losses: (bits sent, feedback delay
        s, lost, fraction erased or NaN)."""
        bits = self.bits_up[owner]
        for d, first, last in device_runs(owner) if self.sizes_vary else ():
            plan = self.plans[d]
            if plan.bits_quantiles is not None:
                drawn = _quantile_draws(plan.bits_quantiles, self.devices[d].payload_draw.take(last - first))
                bits[first:last] = np.ceil(drawn / 8.0) * 8.0  # whole bytes, as drawn_payload_bits
        self._set("payload_bits", rows, bits)
        return transfer_losses(owner, bits, [d.uplink_loss for d in self.devices], self.plans)

    def _previous_clocks(self, owner: np.ndarray, clock: np.ndarray) -> np.ndarray:
        """When each arrival's event was set: at its device's previous arrival (s; -inf: before the run), for rows
        grouped by device, each device's in its order (each row once)."""
        before = np.empty(clock.size)
        for d, first, last in device_runs(owner):
            before[first] = self.last_clock[d]
            before[first + 1:last] = clock[first:last - 1]
            self.last_clock[d] = clock[last - 1]
        return before

    def _uploaded(self, rows, owner, end, lost, clock, scheduled, sequence) -> None:
        """Requests ``rows`` whose upload ends at ``end`` (s; feedback included) set at SimPy's ``clock`` (s): lost,
        or on to their server, reached at ``clock + (end + delay - clock)``; ``scheduled`` (when the arrival's
        event was set, and when the event that set it was, s) and ``sequence`` order simultaneous arrivals at a
        server as the DES does."""
        gone = lost & np.isfinite(end)
        self._set("_lost_at", rows[gone], kernels.after(clock[gone], end[gone]))
        reaches = np.isfinite(end) & ~lost
        at_server = np.full(rows.size, math.inf)
        at_server[reaches] = kernels.after(clock[reaches], end[reaches] + self.up_delay[owner[reaches]])
        arrived = at_server < self.end_s
        self._set("server_arrival_at_s", rows[arrived], at_server[arrived])
        self._set("_done", rows[~arrived], True)
        if not rows.size:
            return
        low = int(rows.min())  # put back in the order the requests arrived (waiting lists stay in it)
        place = np.full(int(rows.max()) - low + 1, -1, dtype=np.int64)
        place[rows - low] = np.arange(rows.size)
        in_order = place[place >= 0]
        target = self.server[owner]
        for s, server in enumerate(self.servers):
            mine = in_order[arrived[in_order] & (target[in_order] == s)]
            server.waiting = tuple(np.concatenate((held, new[mine])) for held, new in
                                   zip(server.waiting, (rows, at_server, *scheduled, sequence), strict=True))

    def _submit_to_cells(self, rows, owner, send, ready, sent, extra, lost, erased) -> None:
        """Uploads over shared cells, ready at ``ready`` (s; their head's end as SimPy's clock) and sent into the
        cell by the events ``send`` = (at s, set at s, ready to send at s; after any promotion); their accuracy is
        decided when ready, their bits when sent (neither if that is after the end)."""
        send_at, set_at, ready_to_send = send
        reached = ready < self.end_s
        self._accuracy(rows[reached], owner[reached], ready_to_send[reached], erased[reached])
        sending = send_at < self.end_s  # its bits are noted as the cell takes it (after any promotion)
        self._set("bits_up", rows[sending], sent[sending])
        self.cell_waiting.add(rows, extra, lost, ready_to_send)
        order = np.argsort(rows, kind="stable")  # readiness set in the order the requests arrived
        assert self.cells is not None  # a device with a shared uplink has its cell
        self.cells.submit(self.cell_of[owner[order]], rows[order], set_at[order], send_at[order], sent[order])

    def _run_cells(self, cells: SharedUplinks | CompiledUplinks,
                   horizon: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every cell's events before ``horizon`` (the end, in the last window): the uploads that ended go on.
        Return their (rows, departure's clock s, end s with the feedback delay)."""
        final = not horizon < self.end_s
        rows, start, end, clock, set_at = cells.run(self.end_s if final else horizon)
        if rows.size:
            extra, lost, ready = self.cell_waiting.take(rows)
            end = end + extra
            self._set("uplink_wait_s", rows, start - ready)
            self._set("uplink_start_at_s", rows, start)
            self._set("uplink_s", rows, end - start)
            self._uploaded(rows, self._get("device", rows), end, lost, clock, (clock, set_at),
                           np.arange(self.cell_sequence, self.cell_sequence + rows.size))
            self.cell_sequence += rows.size
        if final:  # uploads still in the cells stay in flight
            self._set("_done", self.cell_waiting.rows, True)
            self.cell_waiting.clear()
        return rows, clock, end

    def _handovers(self, rows, owner, start, end, links: LinkArrays, bits: str) -> None:
        """Add the handovers of a cellular link during each transfer (rows grouped by device), and the bits
        a transfer restarted by a handover had sent in vain to column ``bits``."""
        if not links.cellular:
            return
        for d, first, last in device_runs(owner):
            channel = links.links[d].channel
            if hasattr(channel, "handovers_between"):
                part = rows[first:last]
                self._set("handovers", part, self._get("handovers", part)
                          + [channel.handovers_between(float(a), float(b))
                             for a, b in zip(start[first:last], end[first:last], strict=True)])
                if channel.restart:
                    sent = self._get(bits, part)
                    self._set(bits, part, sent + [channel.resent_bits(float(a), float(b))
                                                  for a, b in zip(start[first:last], sent, strict=True)])

    def _accuracy(self, rows, owner, start, erased) -> None:
        """Where a plan's accuracy depends on the channel: on a fading uplink, by the SNR at the upload's
        start; sent once without retransmission, by the fraction of its packets erased (the lower)."""
        if not self.accuracy_varies:
            return
        for d, first, last in device_runs(owner):
            plan, channel = self.plans[d], self.devices[d].uplink.channel
            by_snr = plan.accuracy_vs_snr is not None and hasattr(channel, "snr_db_at")
            if not by_snr and np.isnan(erased[first]):
                continue  # the plan's accuracy stands
            part = rows[first:last]
            accuracy = self._get("accuracy", part)
            if by_snr:
                accuracy = np.array([snr_accuracy(plan, channel, float(s)) for s in start[first:last]])
            if not np.isnan(erased[first]):
                accuracy = np.array([erasure_accuracy(plan, float(e), float(a))
                                     for e, a in zip(erased[first:last], accuracy, strict=True)])
            self._set("accuracy", part, accuracy)


def _quantile_draws(quantiles, u: np.ndarray) -> np.ndarray:
    """:func:`simsplit.engine.request_steps.quantile_draw` of every ``u`` at once, with the same arithmetic."""
    probabilities, values = (np.asarray(q, dtype=float) for q in quantiles)
    k = np.searchsorted(probabilities, u, side="right") - 1
    out = np.full(u.size, values[-1])
    inside = k < probabilities.size - 1
    k = k[inside]
    low, high = probabilities[k], probabilities[k + 1]
    spread = high > low
    interpolated = values[k] + (values[k + 1] - values[k]) * (u[inside] - low) / np.where(spread, high - low, 1.0)
    out[inside] = np.where(spread, interpolated, values[np.minimum(k + 1, values.size - 1)])
    return out
