"""Finished requests streamed to a Parquet file during the run, so that memory stays flat in run length.

A finished request's row waits (compactly) until its radio tail is final (:class:`~simsplit.model.energy.TailMeter`)
and every request that arrived before it has been written; rows then go out in arrival order, in row groups
of ``chunk_rows``, through :func:`~simsplit.output.results.build_requests`, so the file holds exactly the table an
in-memory run builds. Only requests still in flight, or finished but waiting behind one, stay in memory.
"""

from __future__ import annotations

import os
import tempfile
import weakref
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from simsplit.engine.records import RecordSink, RunOutput, rows_to_columns

if TYPE_CHECKING:
    import pyarrow.parquet as pq


class SpoolSink(RecordSink):
    """A :class:`RecordSink` that writes rows out as soon as they are final, in arrival order."""

    def __init__(self, setup, device_group: np.ndarray, chunk_rows: int = 65_536, folder: Path | None = None):
        super().__init__()
        self._added = 0
        self._setup, self._device_group, self.chunk_rows = setup, device_group, chunk_rows
        self._held: dict[int, tuple] = {}
        """Finished rows not yet written, by arrival sequence."""
        self._open: dict[int, int] = {}
        """Transfers of a request whose tail is not yet final, by sequence (requests still in flight too)."""
        self._tails: dict[int, float] = {}
        self._next = 0
        """Sequence of the next row to write."""
        self._ready: list[tuple] = []
        self._ready_tails: list[float] = []
        self._writer: pq.ParquetWriter | None = None
        self.rows_written = 0
        self._blocks: list[np.ndarray] = []
        """Rows handed to :meth:`write_chunk` and not yet written (float64 blocks of :attr:`FIELDS`)."""
        self._block_tails: list[np.ndarray] = []
        self._held_rows = 0
        if folder is None:
            remove_orphans()
            folder = Path(tempfile.mkdtemp(prefix=f"{SPOOL_PREFIX}{os.getpid()}-"))
            self._cleanup = weakref.finalize(self, _remove_folder, folder)
        self.path = folder / "requests.parquet"

    # ------------------------------------------------------------ tails
    def open_tail(self, sequence: int) -> None:
        """A transfer of request ``sequence`` whose tail is not yet known."""
        self._open[sequence] = self._open.get(sequence, 0) + 1

    def tail(self, sequence: int, tail_j: float) -> None:
        """One of its transfers' tails is final."""
        self._tails[sequence] = self._tails.get(sequence, 0.0) + tail_j
        left = self._open[sequence] - 1
        if left:
            self._open[sequence] = left
        else:
            del self._open[sequence]

    # ------------------------------------------------------------ rows
    def add(self, request) -> None:
        """A finished request; every ``chunk_rows`` of them, write out what is final."""
        self._held[request.sequence] = self.row(request)
        self._added += 1
        if self._added >= self.chunk_rows:
            self._added = 0
            if self.before_flush is not None:
                self.before_flush()
            self.flush()

    def close(self, in_flight, request_tail_j) -> None:  # type: ignore[override]  # no columns: they are in the file
        """The run is over (every tail final): write the rest, requests still in flight included."""
        self.before_flush = None
        for request in in_flight:  # in arrival order
            self._held[request.sequence] = self.row(request)
        self.flush(final=True)

    def flush(self, final: bool = False) -> None:
        """Write every row that is final and whose predecessors are all written (all rows when ``final``)."""
        held, sequence = self._held, self._next
        while sequence in held and sequence not in self._open:
            self._ready.append(held.pop(sequence))
            self._ready_tails.append(self._tails.pop(sequence, 0.0))
            sequence += 1
            if len(self._ready) >= self.chunk_rows:
                self._write()
        self._next = sequence
        if final:
            if held or self._open:
                raise RuntimeError(f"{len(held)} rows still held at the end of the run")  # a bookkeeping bug
            self._write()
            self._close_file()

    def _write(self, empty: bool = False) -> None:
        if not self._ready and not empty:
            return
        table = np.array(self._ready, dtype=float) if self._ready else np.empty((0, len(self.FIELDS)))
        self._write_table(table, np.array(self._ready_tails, dtype=float))

    def _write_table(self, table: np.ndarray, tails: np.ndarray) -> None:
        """Write rows of :attr:`FIELDS` (float64, in arrival order) and their tails (J) as one row group."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        from simsplit.output.results import build_requests
        columns = rows_to_columns(table)
        output = RunOutput(columns, self._device_group, 0.0, 0, [], {})
        frame = build_requests(self._setup, output, tails)
        arrow = pa.Table.from_pandas(frame, preserve_index=False)
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, arrow.schema)
        self._writer.write_table(arrow)
        self.rows_written += len(frame)
        self._ready, self._ready_tails = [], []

    def write_chunk(self, columns: dict[str, np.ndarray]) -> None:
        """Append the next rows of a run (columns in arrival order, ``tail_j`` included), as a fast run hands
        them out; row groups of ``chunk_rows`` go out as they fill, as :meth:`flush` writes them during a
        run; :meth:`finish` writes the rest."""
        rows = columns["device"].size
        if not rows:
            return
        first = self.rows_written + self._held_rows
        self._blocks.append(np.column_stack([columns[name].astype(float) for name in self.FIELDS[:-1]]
                                            + [np.arange(first, first + rows, dtype=float)]))
        self._block_tails.append(np.asarray(columns["tail_j"], dtype=float))
        self._held_rows += rows
        if self._held_rows >= self.chunk_rows:
            table, tails = np.concatenate(self._blocks), np.concatenate(self._block_tails)
            whole = len(table) - len(table) % self.chunk_rows
            for start in range(0, whole, self.chunk_rows):
                self._write_table(table[start:start + self.chunk_rows], tails[start:start + self.chunk_rows])
            self._blocks, self._block_tails, self._held_rows = [table[whole:]], [tails[whole:]], len(table) - whole

    def finish(self) -> None:
        """Write the rows :meth:`write_chunk` still holds, and close the file."""
        if self._held_rows:
            self._write_table(np.concatenate(self._blocks), np.concatenate(self._block_tails))
        self._close_file()

    def _close_file(self) -> None:
        """Close the Parquet file, writing an empty row group first if no row was written (for the schema)."""
        if self._writer is None:
            self._write(empty=True)
        assert self._writer is not None  # the write above opened it
        self._writer.close()

    def columns(self, in_flight) -> dict[str, np.ndarray]:
        raise TypeError("a spooled run's rows are in its Parquet file")


def _remove_folder(folder: Path) -> None:
    import shutil
    shutil.rmtree(folder, ignore_errors=True)


SPOOL_PREFIX = "simsplit-requests-"
"""A spool folder is ``<temporary folder>/simsplit-requests-<pid of its run>-<random>``."""


def remove_orphans(folder: Path | None = None) -> list[Path]:
    """Remove the spool folders that runs killed before they could clean up left in the temporary folder: those
    named as simsplit names them, owned by this user, holding nothing but a spool file, whose run's process is
    gone. Returns what it removed."""
    import re
    root = Path(folder or tempfile.gettempdir())
    pattern = re.compile(re.escape(SPOOL_PREFIX) + r"(\d+)-[A-Za-z0-9_]+")
    removed = []
    for candidate in root.glob(f"{SPOOL_PREFIX}*"):
        match = pattern.fullmatch(candidate.name)
        try:
            if (match is None or candidate.is_symlink() or not candidate.is_dir()
                    or candidate.stat().st_uid != os.getuid() or _alive(int(match.group(1)))
                    or any(entry.name != "requests.parquet" for entry in candidate.iterdir())):
                continue
        except OSError:
            continue
        _remove_folder(candidate)
        removed.append(candidate)
    return removed


def _alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (one of another user's counts too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True
