"""The fast path with the radio's RRC state machine (:class:`RadioStages`): promotions and tails.

With the state machine, whether a transfer waits for a promotion depends on the device's transfers reserved
before it — its earlier uploads, and the downloads of results that came back before — so each device's uploads
depend on its results, which depend on the server, which depends on every device's uploads. A window is
therefore computed to a fixed point: each device's radio events — an upload reserved at its request's
arrival (or, on a shared cell, when its payload is ready), a shared upload's departure, a result's download
reserved when its service ends — are replayed in time order with the device's own radio state and links
(:meth:`RadioStages._radio_round`), given the departures and service ends of the previous round (the first
round: none, each shared upload taken as leaving as it is sent); then the
cells and servers run with those uploads. When a round decides every upload as the one before, the servers saw
the very uploads the decisions assume, and the window is exact (the first round has no service ends of this
window, so a window takes two rounds and one run of the servers when no decision changes; a window that has
not settled after :data:`MOST_ROUNDS` rounds is split in two). Where every device's own links are constant or
piecewise constant and its downlink loses nothing, a round is compiled (:mod:`simsplit.engine.radio_kernel`).
Radio tails are charged as the DES's :class:`~simsplit.engine.tails.TailLedger` charges them, a window at a time
(:mod:`simsplit.engine.tail_kernel`); a row is handed out once its tails are final.
"""

from __future__ import annotations

import copy
import math

import numpy as np

from simsplit.engine import kernels, radio_kernel
from simsplit.engine.fastpath_stages import WindowStages
from simsplit.engine.tail_kernel import CompiledTails
from simsplit.engine.transfers import transmission

MOST_ROUNDS = 12
"""Rounds a window may take before it is computed as two."""
RADIO_WINDOW_ROWS = 8192
"""Arrivals per window with the state machine: each round copies the window's rows and state back."""

UPLOAD, DEPARTURE, DOWNLOAD = 0, 1, 2
"""A radio event's kind, which is also its order against another kind of the same instant."""


class RadioStages(WindowStages):
    """A window's stages with the RRC state machine (see the module); :class:`~simsplit.engine.fastpath._FastRun`
    sets ``tails`` (a :class:`~simsplit.engine.tail_kernel.CompiledTails`) and ``radio_pending`` when some group's
    radio has one."""

    tails: CompiledTails | None
    metered: np.ndarray
    """Per device: its radio has a tail (its transfers' tails are charged)."""
    radio_pending: dict[str, np.ndarray]
    """Shared uploads whose payload is ready only after the last window's horizon: their decision waits."""
    radio_arrays: radio_kernel.RadioArrays | None
    """The devices' radios and own links as arrays, where the compiled round stands in for the Python one."""

    def _radio_window(self, rows: np.ndarray, head_end: np.ndarray, horizon: float) -> None:
        """Offloaded requests ``rows`` (grouped by device; heads ending at ``head_end`` s) through their radio,
        links, cells and servers, to a fixed point (see the module)."""
        owner = self._get("device", rows)
        sent, extra, lost, erased = self._payloads(rows, owner)
        clock = self._get("_clock", rows)
        uploads = {"rows": rows, "owner": owner, "clock": clock, "before": self._previous_clocks(owner, clock),
                   "head_end": head_end, "sent": sent, "extra": extra, "lost": lost, "erased": erased}
        self._settle({name: np.concatenate((self.radio_pending[name], values)) for name, values in uploads.items()},
                     horizon)

    def _settle(self, uploads: dict, horizon: float) -> None:
        """Rounds until the uploads' decisions repeat (see the module); a window that has not settled after
        :data:`MOST_ROUNDS` is computed as two, split at an arrival."""
        stop = min(horizon, self.end_s)
        checkpoint = _Checkpoint(self)
        saved_radio, saved_network = checkpoint.save_radio(), checkpoint.save_network()
        guess = _nothing_yet()
        decided = None
        for round_ in range(MOST_ROUNDS):
            if round_:  # (the first round finds the radio and the network as saved)
                checkpoint.restore_radio(saved_radio)
            plan = self._radio_round(uploads, guess, stop)
            if decided is not None and np.array_equal(plan["promotion"], decided, equal_nan=True):
                self._finish_radio_window(uploads, plan, guess, stop)
                return
            if round_:
                checkpoint.restore_network(saved_network)
            guess = self._network(uploads, plan, horizon)
            decided = plan["promotion"]
        checkpoint.restore_radio(saved_radio)
        checkpoint.restore_network(saved_network)
        rows = uploads["rows"]
        fresh = np.unique(rows[~np.isin(rows, self.radio_pending["rows"])])
        if fresh.size < 2:  # pragma: no cover - one arrival settles in three rounds
            raise RuntimeError("the radio's decisions did not settle for one arrival")
        middle = int(fresh[fresh.size // 2])
        split_at = float(self.buffer["arrival_at_s"][middle - self.base])
        first = rows < middle
        self._settle({name: values[first] for name, values in uploads.items()}, split_at)
        self._settle({name: np.concatenate((self.radio_pending[name], values[~first]))
                      for name, values in uploads.items()}, horizon)

    # ------------------------------------------------------------ one round
    def _radio_round(self, uploads: dict, guess: dict, stop: float) -> dict:
        """Every radio event of the window before ``stop`` in time order, device by device: each upload's
        promotion (NaN: its payload is ready after ``stop``), send instant and, on its own link, start and end;
        each guessed download's promotion, send instant, loss, start and end."""
        n = uploads["rows"].size
        shared = self.cell_of[uploads["owner"]] >= 0
        moment = uploads["clock"].copy()  # a dedicated upload is reserved at its request's arrival
        moment[shared] = kernels.after(uploads["clock"][shared], uploads["head_end"][shared])  # a shared one when ready
        down_rows, down_at = guess["downloads"]
        gone_rows, gone_at, gone_end = guess["departures"]
        first_round = guess.get("first", False)
        device = np.concatenate((uploads["owner"], self._get("device", gone_rows), self._get("device", down_rows)))
        at = np.concatenate((moment, gone_at, down_at))
        kind = np.concatenate((np.full(n, UPLOAD), np.full(gone_rows.size, DEPARTURE),
                               np.full(down_rows.size, DOWNLOAD)))
        index = np.concatenate((np.arange(n), np.arange(gone_rows.size), np.arange(down_rows.size)))
        order = _by_device_then_time(device, at)
        plan = {"promotion": np.full(n, math.nan), "send_at": np.full(n, math.nan), "start": np.full(n, math.nan),
                "end": np.full(n, math.nan), "moment": moment, "shared": shared,
                "down": np.full((down_rows.size, 6), math.nan)}  # promotion, send at, sent, feedback, lost, start
        down_end = np.full(down_rows.size, math.nan)
        if self.radio_arrays is not None:
            each_upload = np.full((n, 4), math.nan)  # promotion, send at, start, end
            arrays = self.radio_arrays
            radio_kernel.radio_round(order, device, at, kind, index, stop, moment, shared, uploads["head_end"],
                                     uploads["sent"], uploads["extra"], gone_end, down_at, self.bits_down,
                                     first_round, arrays.radio, arrays.up, arrays.up_free, arrays.down,
                                     arrays.down_free, arrays.steps_up, arrays.steps_down, each_upload,
                                     plan["down"], down_end)
            plan["promotion"], plan["send_at"], plan["start"], plan["end"] = each_upload.T
            plan["down_end"] = down_end
            return plan
        devices, head_end, bits = self.devices, uploads["head_end"], uploads["sent"]
        for k in order.tolist():
            if not at[k] < stop:
                continue
            d, j = int(device[k]), int(index[k])
            unit = devices[d]
            radio = unit.radio
            if kind[k] == UPLOAD:
                ready = float(moment[j]) if shared[j] else float(head_end[j])
                send_at = ready if unit.always_connected else radio.wake(ready)
                plan["promotion"][j], plan["send_at"][j] = send_at - ready, send_at
                if shared[j]:
                    radio.begin()
                    if first_round:  # no departures known yet: as if it left its cell as it is sent
                        radio.finish(send_at)
                    continue
                start, end = unit.uplink.reserve(send_at, float(bits[j]), float(uploads["extra"][j]))
                radio.note(end)
                plan["start"][j], plan["end"][j] = start, end
            elif kind[k] == DEPARTURE:
                radio.finish(float(gone_end[j]))
            else:
                ready = float(down_at[j])
                send_at = ready if unit.always_connected else radio.wake(ready)
                sent, extra, lost = transmission(unit.downlink_loss, float(self.bits_down[d]))
                start, end = unit.downlink.reserve(send_at, sent, extra)
                radio.note(end)
                plan["down"][j] = (send_at - ready, send_at, sent, extra, lost, start)
                down_end[j] = end
        plan["down_end"] = down_end
        return plan

    def _network(self, uploads: dict, plan: dict, horizon: float) -> dict:
        """The cells and servers given the round's uploads: what the next round reads (each shared upload's
        departure, and each result's service end before ``horizon``)."""
        shared, decided = plan["shared"], ~np.isnan(plan["promotion"])
        own = ~shared
        rows, owner, clock = uploads["rows"], uploads["owner"], uploads["clock"]
        self._uploaded(rows[own], owner[own], plan["end"][own], uploads["lost"][own], clock[own],
                       (clock[own], uploads["before"][own]), rows[own])
        sending = shared & decided
        if sending.any():
            ready, send_at = plan["moment"][sending], plan["send_at"][sending]
            promoted = send_at != ready
            event_at = np.where(promoted, kernels.after(ready, send_at), ready)  # a promotion's wait is an event
            set_at = np.where(promoted, ready, clock[sending])
            self._submit_to_cells(rows[sending], owner[sending], (event_at, set_at, send_at), ready,
                                  *(uploads[name][sending] for name in ("sent", "extra", "lost", "erased")))
        departures = self._run_cells(self.cells, horizon) if self.cells is not None else _nothing_yet()["departures"]
        for server in self.servers:
            self._serve(server, horizon)
        back_rows, ends = self.back
        ready = ends < horizon
        order = np.argsort(ends[ready], kind="stable")  # each device's results by (end, start order), as _download
        return {"departures": departures, "downloads": (back_rows[ready][order], ends[ready][order])}

    # ------------------------------------------------------------ the settled window
    def _finish_radio_window(self, uploads: dict, plan: dict, guess: dict, stop: float) -> None:
        """Write the settled window: uploads on their own links, promotions, downloads; carry the shared uploads
        not yet ready; note every transfer's tail and charge those now final."""
        rows, owner, shared = uploads["rows"], uploads["owner"], plan["shared"]
        decided = ~np.isnan(plan["promotion"])
        own = ~shared
        start, end, send_at = plan["start"][own], plan["end"][own], plan["send_at"][own]
        self._set("bits_up", rows[own], uploads["sent"][own])
        self._handovers(rows[own], owner[own], start, end, self.uplinks, "bits_up")
        self._accuracy(rows[own], owner[own], start, uploads["erased"][own])
        with np.errstate(invalid="ignore"):  # a transfer that never starts (a link down for good): inf - inf is
            self._set("uplink_wait_s", rows[own], start - send_at)  # NaN, as the DES's floats give it, quietly
            self._set("uplink_s", rows[own], end - start)
        self._set("uplink_start_at_s", rows[own], start)
        self._set("promotion_s", rows[decided], plan["promotion"][decided])
        waiting = shared & ~decided
        self.radio_pending = {name: values[waiting] for name, values in uploads.items()}
        if not stop < self.end_s:  # ready only after the end: in flight
            self._set("_done", self.radio_pending["rows"], True)
        down_rows, ends = guess["downloads"]
        taken = ~np.isnan(plan["down"][:, 1])
        self._radio_downloads(down_rows[taken], ends[taken], plan["down"][taken], plan["down_end"][taken])
        self.back = tuple(values[self.back[1] >= stop] for values in self.back)  # type: ignore[assignment]
        gone_rows = guess["departures"][0]
        if self.tails is not None:
            self.tails.note_window(rows[own], gone_rows, down_rows[taken])
            self.tails.resolve_window(stop)

    def _radio_downloads(self, rows, ends, down, down_end) -> None:
        """The results' downloads the settled round reserved (``down``: promotion, send at, bits sent, feedback,
        lost, start), as :meth:`~simsplit.engine.fastpath_stages.WindowStages._download` writes them."""
        owner = self._get("device", rows)
        promotion, send_at, sent, start = down[:, 0], down[:, 1], down[:, 2], down[:, 5]
        lost = down[:, 4] > 0
        self._set("promotion_s", rows, self._get("promotion_s", rows) + promotion)
        self._set("bits_down", rows, sent)
        self._handovers(rows, owner, start, down_end, self.downlinks, "bits_down")
        with np.errstate(invalid="ignore"):  # as for the uploads (_finish_radio_window)
            self._set("downlink_wait_s", rows, start - send_at)
            self._set("downlink_s", rows, down_end - start)
        self._set("downlink_start_at_s", rows, start)
        self._set("propagation_s", rows, self.propagation[owner])
        gone = lost & np.isfinite(down_end)
        self._set("_lost_at", rows[gone], kernels.after(ends[gone], down_end[gone]))
        kept = ~lost
        finish_at = down_end[kept] + self.down_delay[owner[kept]] + self.half_rtt[owner[kept]]
        self._set("finish_at_s", rows[kept], finish_at)
        delivered = np.isfinite(finish_at)
        self._set("_result_at", rows[kept][delivered], kernels.after(ends[kept][delivered], finish_at[delivered]))
        self._set("_done", rows, True)


class _Checkpoint:
    """What a round changes, saved before a window's first round and put back before each next one: each device's
    radio, own links and downlink loss process; the cells, servers, results waiting and the buffer."""

    def __init__(self, stages: RadioStages) -> None:
        self.stages = stages

    def save_radio(self) -> list | tuple:
        """Each device's radio state, its own links' state and its downlink's loss process."""
        if self.stages.radio_arrays is not None:
            return self.stages.radio_arrays.save()
        saved = []
        for unit in self.stages.devices:
            radio = unit.radio
            saved.append((getattr(radio, "_active_until_s", None), getattr(radio, "_in_progress", None),
                          _link_state(unit.uplink), _link_state(unit.downlink), copy.deepcopy(unit.downlink_loss)))
        return saved

    def restore_radio(self, saved) -> None:
        if self.stages.radio_arrays is not None:
            self.stages.radio_arrays.restore(saved)
            return
        for unit, (active, in_progress, up, down, loss) in zip(self.stages.devices, saved, strict=True):
            if active is not None:
                unit.radio._active_until_s, unit.radio._in_progress = active, in_progress
            _set_link_state(unit.uplink, up)
            _set_link_state(unit.downlink, down)
            unit.downlink_loss = copy.deepcopy(loss)

    def save_network(self) -> tuple:
        """The cells', servers' and buffer's state (the run's growing lists by their lengths)."""
        stages = self.stages
        kept = _kept_as_is(stages.servers, stages.monitor)
        state = copy.deepcopy((stages.servers, stages.cells, stages.cell_waiting, stages.cell_sequence, stages.back),
                              kept)
        lengths = [len(values) for values in _growing(stages.servers, stages.monitor)]
        return state, lengths, {name: values.copy() for name, values in stages.buffer.items()}

    def restore_network(self, saved: tuple) -> None:
        state, lengths, buffer = saved
        stages = self.stages
        kept = _kept_as_is(stages.servers, stages.monitor)
        for values, length in zip(_growing(stages.servers, stages.monitor), lengths, strict=True):
            del values[length:]
        stages.servers, stages.cells, stages.cell_waiting, stages.cell_sequence, stages.back = \
            copy.deepcopy(state, kept)
        for name, values in buffer.items():
            stages.buffer[name][:] = values


def radio_stages(setup, device_group: np.ndarray) -> tuple[CompiledTails | None, np.ndarray, dict[str, np.ndarray]]:
    """A run's tail ledger (None: no group's radio has the state machine), which devices' radios have a tail,
    and no shared upload waiting for its decision yet."""
    machine = [bool(g.network.radio.promotion_delay_s or g.network.radio.tail_stages_s) for g in setup.groups]
    metered = np.array([bool(setup.groups[g].network.radio.tail_stages_s) for g in device_group], dtype=bool)
    pending = {name: np.empty(0, dtype=np.int64 if name in ("rows", "owner") else bool if name == "lost" else float)
               for name in ("rows", "owner", "clock", "before", "head_end", "sent", "extra", "lost", "erased")}
    return (CompiledTails(setup.groups, device_group) if any(machine) else None), metered, pending


def _by_device_then_time(device: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The order of a round's events: by device, then time, then as listed (kind, then number): a stable sort by
    time, then a stable sort by device (a radix sort on 16 bits where the devices fit), in about half the time of
    ``np.lexsort`` on the four keys."""
    by_time = np.argsort(at, kind="stable")
    owner = device[by_time]
    if device.size and device.max() < np.iinfo(np.int16).max:
        owner = owner.astype(np.int16)
    return by_time[np.argsort(owner, kind="stable")]


def _nothing_yet() -> dict:
    """A first round's guess: no service ends in the window, each shared upload leaving its cell as it is sent
    (a small payload on a cell that is not full takes a few milliseconds: the decisions are then mostly those
    of the fixed point, and the window settles in two rounds and one run of the servers)."""
    empty = np.empty(0, dtype=np.int64)
    return {"departures": (empty, np.empty(0), np.empty(0)), "downloads": (empty, np.empty(0)), "first": True}


def _link_state(link) -> tuple | None:
    return (link._free_at_s, link._spare_bits) if hasattr(link, "_spare_bits") else None


def _set_link_state(link, state: tuple | None) -> None:
    if state is not None:
        link._free_at_s, link._spare_bits = state


def _growing(servers: list, monitor) -> list[list]:
    """The run's lists that only grow (each server's busy times and tenants' arrivals, the monitor's changes)."""
    lists = [values for s in servers for values in (s.busy, s.background_busy, s.background_arrivals)]
    return lists + (list(monitor._changes) if monitor is not None else [])


def _kept_as_is(servers: list, monitor) -> dict:
    """A deep copy's memo that keeps the servers' configurations and the growing lists themselves."""
    kept = {id(s.config): s.config for s in servers}
    kept.update({id(values): values for values in _growing(servers, monitor)})
    return kept

