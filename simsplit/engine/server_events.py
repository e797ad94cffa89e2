"""A fast-path server whose queue needs its events replayed (:class:`ServerEvents`): dynamic batching, a queue
capacity, ``drop_expired`` or earliest deadline first. It keeps the jobs still queued or in service, the
workers' batches and the pending events between windows, and runs each window's arrivals through the
compiled loop :func:`simsplit.engine.server_kernel.serve`.
"""

from __future__ import annotations

import math

import numpy as np

from simsplit.core.units import MS
from simsplit.engine import server_kernel as kernel


class ServerEvents:
    """One server's event state between windows, for :class:`~simsplit.engine.fastpath_stages.ServerQueue`."""

    def __init__(self, config) -> None:
        batching = config.batching
        self.params = np.array([config.workers, batching.max_batch,
                                -1 if config.queue_capacity is None else config.queue_capacity,
                                int(config.drop_expired), int(batching.mix_kinds), int(config.discipline == "edf")],
                               dtype=np.int64)
        self.batch_factor = np.array([batching.max_wait_ms * MS]
                                     + [batching.scaling.factor(b) for b in range(1, batching.max_batch + 1)])
        self.state = np.zeros(11, dtype=np.int64)
        self.state[kernel.IDLE] = config.workers
        self.floats = np.array([math.inf, math.inf])  # see server_kernel.TIMER_AT
        self.slots = np.zeros((config.workers, 3))
        self.slot_jobs = np.zeros((config.workers, batching.max_batch), dtype=np.int64)
        self.events = np.empty((config.workers + 4, 6))
        self.factors = np.empty(0)
        """Service factors drawn and not yet used."""
        self.rejected = 0
        """Other tenants' jobs refused by a full queue."""
        self.batches = np.empty((0, 3))
        """Batches started and not yet handed on (start s, end s or NaN while in service, another tenant's), in
        the order they started, from serial number :attr:`first_batch`: the DES lists its busy intervals so."""
        self.first_batch = 0
        self.ended_starts = np.empty(0)
        """The start (s) of each batch the last call ended, in the order they ended."""
        # the jobs queued or in service: the kernel's table rows, and each one's request row (-1: another tenant's)
        self.jobs = np.empty((0, 5))
        self.tie = np.empty(0, dtype=np.int64)
        self.key = np.empty(0, dtype=np.int64)
        self.rows = np.empty(0, dtype=np.int64)
        self.out = np.empty((0, 5))
        self.size = np.empty(0, dtype=np.int64)
        self.queue = np.empty(0, dtype=np.int64)
        self.was_queued = np.empty(0, dtype=bool)

    def run(self, arrivals: dict[str, np.ndarray], stop: float, factor, changes: bool = True) -> dict[str, np.ndarray]:
        """The server's events before ``stop`` (s) with the new ``arrivals`` (columns ``rows`` (-1: another
        tenant's), ``at``, ``scheduled``, ``scheduled2`` (when the event that set the arrival was set), ``base``,
        ``deadline``, ``key``, in order of arrival); ``factor`` is the
        service factor's sampler (None: none). Return, per row that arrived, been queued or in service: ``rows``,
        ``enqueued``, ``start``, ``end``, ``size``, ``fate``, ``fate_at``; and ``done`` (rows whose service ended, in
        the order the DES hands them on) and ``batches`` (start, end s, another tenant's) of the batches ended;
        with ``changes`` (for a monitor), also ``queue_changes`` and ``busy_changes``."""
        carried = self.rows.size
        rows = np.concatenate((self.rows, arrivals["rows"]))
        count = rows.size
        jobs = np.concatenate((self.jobs, np.column_stack((arrivals["at"], arrivals["scheduled"], arrivals["base"],
                                                           arrivals["deadline"], arrivals["scheduled2"]))))
        tie = np.concatenate((self.tie, np.where(arrivals["rows"] >= 0, kernel.REQUEST_TIE, kernel.TENANT_TIE)))
        key = np.concatenate((self.key, arrivals["key"]))
        self.was_queued = np.isnan(self.out[:, 1])  # carried jobs not yet started
        out = np.concatenate((self.out, np.full((count - carried, 5), math.nan)))
        size = np.concatenate((self.size, np.zeros(count - carried, dtype=np.int64)))
        fate = np.zeros(count, dtype=np.int8)
        queue = np.empty(max(count, 1), dtype=np.int64)
        length = int(self.state[kernel.QUEUE_LENGTH])
        queue[:length] = self.queue
        self.state[kernel.QUEUE_HEAD] = 0
        factors = self._factors(count, factor)
        self.state[kernel.FACTORS_USED] = 0
        done = np.empty(count, dtype=np.int64)
        started, ended = np.empty((count, 3)), np.empty((count + len(self.slots), 2))
        self.events = kernel.serve(jobs, tie, key, carried, stop, self.params, factors, self.batch_factor, queue,
                                   self.state, self.floats, self.slots, self.slot_jobs, self.events, out, fate, size,
                                   done, started, ended)
        self.factors = factors[self.state[kernel.FACTORS_USED]:]
        done = done[:self.state[kernel.DONE]]
        batches = self._batches(started[:self.state[kernel.STARTED]], ended[:self.state[kernel.ENDED]])
        self.rejected += int(np.count_nonzero((fate == kernel.REJECTED) & (rows < 0)))
        result = {"rows": rows, "enqueued": out[:, 0], "start": out[:, 1], "end": out[:, 2], "size": size,
                  "fate": fate, "fate_at": out[:, 3], "done": rows[done], "done_end": out[done, 2], "batches": batches}
        if changes:
            result["queue_changes"] = self._queue_changes(carried, out, fate, jobs[:, 1])
            result["busy_changes"] = (started[:self.state[kernel.STARTED], 0], started[:self.state[kernel.STARTED], 2],
                                      ended[:self.state[kernel.ENDED], 1], self.ended_starts)
        self._keep(fate == kernel.WAITING, rows, jobs, tie, key, out, size, queue)
        return result

    def _queue_changes(self, carried: int, out: np.ndarray, fate: np.ndarray,
                       scheduled: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The waiting jobs' changes in this call: (instants s, +1 joined / -1 left, when the event of each was
        set s) — joined when a new job was queued (or started at once), left when a job waiting started or
        expired."""
        queued = ~np.isnan(out[carried:, 0])
        joined = out[carried:, 0][queued]
        waited = np.concatenate((self.was_queued, np.ones(len(out) - carried, dtype=bool)))
        left = waited & ~np.isnan(out[:, 1])
        gone = fate == kernel.EXPIRED
        at = np.concatenate((joined, out[:, 1][left], out[:, 3][gone]))
        set_at = np.concatenate((scheduled[carried:][queued], out[:, 4][left], out[:, 4][gone]))
        return at, np.concatenate((np.ones(joined.size, dtype=np.int64),
                                   np.full(at.size - joined.size, -1))), set_at

    def _batches(self, started: np.ndarray, ended: np.ndarray) -> np.ndarray:
        """The batches whose service ended and all started before them (in the order they started), as (start,
        end, another tenant's) rows; the others wait for their end."""
        self.batches = np.concatenate((self.batches, np.column_stack((started[:, 0], np.full(len(started), math.nan),
                                                                      started[:, 1]))))
        ended_at = ended[:, 0].astype(np.int64) - self.first_batch
        self.batches[ended_at, 1] = ended[:, 1]
        self.ended_starts = self.batches[ended_at, 0]
        unfinished = np.flatnonzero(np.isnan(self.batches[:, 1]))
        cut = unfinished[0] if unfinished.size else len(self.batches)
        out, self.batches = self.batches[:cut], self.batches[cut:]
        self.first_batch += cut
        return out

    def _factors(self, count: int, factor) -> np.ndarray:
        """Enough service factors for every job not yet started to start alone (empty without a factor)."""
        if factor is None:
            return np.empty(0)
        needed = count - len(self.factors)
        return np.concatenate((self.factors, factor.take(needed))) if needed > 0 else self.factors

    def _keep(self, waiting, rows, jobs, tie, key, out, size, queue) -> None:
        """Keep the jobs still queued or in service as the next call's first rows, the queue and the workers'
        batches renumbered to them."""
        renumber = np.cumsum(waiting) - 1
        self.rows, self.jobs, self.tie, self.key = rows[waiting], jobs[waiting], tie[waiting], key[waiting]
        self.out, self.size = out[waiting], size[waiting]
        head, length = int(self.state[kernel.QUEUE_HEAD]), int(self.state[kernel.QUEUE_LENGTH])
        self.queue = renumber[queue[head:head + length]]
        for worker in np.flatnonzero(self.slots[:, 0] > 0):
            count = int(self.slots[worker, 0])
            self.slot_jobs[worker, :count] = renumber[self.slot_jobs[worker, :count]]

    def unfinished(self) -> np.ndarray:
        """The batches not yet handed on at the end of the run (end NaN: still in service), as :meth:`run`'s."""
        out, self.batches = self.batches, np.empty((0, 3))
        return out
