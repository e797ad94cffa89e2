"""What every stage of the fast path's window reads (:class:`StageBase`): the run's arrays and state, set once
per run by :class:`~simsplit.engine.fastpath._FastRun`, and the buffer of rows the stages fill in."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from simsplit.engine.cell_kernel import CompiledUplinks
from simsplit.engine.fastpath_cells import CellWaiting, SharedUplinks
from simsplit.engine.fastpath_links import LinkArrays
from simsplit.engine.fastpath_monitor import MonitorSeries
from simsplit.engine.tail_kernel import CompiledTails
from simsplit.engine.wiring import Device

if TYPE_CHECKING:
    from simsplit.engine.fastpath_serving import ServerQueue


class StageBase:
    """The attributes below, set once per run: the rows' columns (``buffer``, from row ``base``), each device's plan
    as arrays indexed by device, the links, cells and servers, and the results waiting for their download
    (``back``)."""

    end_s: float
    warmup_s: float
    deadline_s: float
    devices: list[Device]
    plans: list
    head: np.ndarray
    local: np.ndarray
    bits_up: np.ndarray
    bits_down: np.ndarray
    service: np.ndarray
    batch_kind: np.ndarray
    server: np.ndarray
    up_delay: np.ndarray
    propagation: np.ndarray
    down_delay: np.ndarray
    half_rtt: np.ndarray
    compute_free: np.ndarray
    sizes_vary: bool
    accuracy_varies: bool
    uplinks: LinkArrays
    downlinks: LinkArrays
    servers: list[ServerQueue]
    monitor: MonitorSeries | None
    tails: CompiledTails | None
    cells: SharedUplinks | CompiledUplinks | None
    cell_of: np.ndarray
    cell_waiting: CellWaiting
    cell_sequence: int
    last_clock: np.ndarray
    """Each device's last arrival's clock so far (s; -inf: none yet)."""
    back: tuple[np.ndarray, np.ndarray]
    base: int
    buffer: dict[str, np.ndarray]

    def _set(self, name: str, rows: np.ndarray, values) -> None:
        self.buffer[name][rows - self.base] = values

    def _get(self, name: str, rows: np.ndarray) -> np.ndarray:
        return self.buffer[name][rows - self.base]
