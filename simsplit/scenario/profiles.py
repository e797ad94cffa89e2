"""Model profiles: per split point, the compute on each side and the tensor crossing it.

A profile has one row per split point ``0..L``. Split ``k`` runs layers
``1..k`` on the device (the *head*) and ``k+1..L`` on a server (the *tail*):
split 0 sends the input, split L runs everything on the device. Times are
cumulative: ``head_s[c][k]`` is the time the head up to ``k`` takes on device
class ``c``, and ``tail_s[c][k]`` the time the rest takes on server class
``c``. See ``docs/formats.md`` for the CSV layout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from simsplit.core.csvtable import Row, number, read_table
from simsplit.core.errors import InputError
from simsplit.core.units import MJ, MS

INFO_COLUMNS = ("output_bytes_fp16", "output_bytes_int8", "output_shape", "head_params", "block_ms", "block_iqr_ms")
"""Optional columns a measured profile adds for people (sizes at other precisions, shape, parameters,
the block's own median time and spread); kept as written, not used by the engine."""
HEAD_PREFIX = "head_ms_"
HEAD_ENERGY_PREFIX = "head_mj_"
TAIL_PREFIX = "tail_ms_"


@dataclass(frozen=True)
class ModelProfile:
    """Per-split compute times (s), output sizes (bytes) and optional FLOPs of one model."""

    names: tuple[str, ...]
    """Name of each split point, index = split."""
    head_s: dict[str, np.ndarray]
    """Device class -> cumulative head time (s) per split."""
    tail_s: dict[str, np.ndarray]
    """Server class -> remaining tail time (s) per split."""
    output_bytes: np.ndarray
    """Raw size (bytes) of the tensor crossing each split (split 0: the input)."""
    flops: np.ndarray | None = None
    """Head FLOPs per split, if the profile gives them."""
    head_j: dict[str, np.ndarray] = field(default_factory=dict)
    """Device class -> cumulative device energy (J) of the head per split, for the classes whose profile
    gives it (measured); other classes are charged their group's compute power times the head time."""
    source: str = field(default="", compare=False)
    """Where the profile was read from."""
    info: dict[str, list[str]] = field(default_factory=dict, compare=False)
    """The optional informational columns, as written."""

    @property
    def local_split(self) -> int:
        """The split that runs the whole model on the device (L)."""
        return len(self.names) - 1

    @property
    def device_classes(self) -> list[str]:
        return sorted(self.head_s)

    @property
    def server_classes(self) -> list[str]:
        return sorted(self.tail_s)


def load_profile(path: str | Path) -> ModelProfile:
    """Read and validate a profile CSV. Raise :class:`InputError` naming the line and column."""
    path = Path(path)
    header, rows = read_table(path, required=["split", "name", "output_bytes"], optional=["flops", *INFO_COLUMNS],
                              prefixes=[HEAD_PREFIX, HEAD_ENERGY_PREFIX, TAIL_PREFIX])
    head_columns, energy_columns, tail_columns = _class_columns(path, header)
    if len(rows) < 2:
        raise InputError(path, None, "expected rows for split points 0..L with L >= 1, got one row")
    names = _split_names(path, rows)
    head_s = {name[len(HEAD_PREFIX):]: _times(path, rows, name, increasing=True) for name in head_columns}
    tail_s = {name[len(TAIL_PREFIX):]: _times(path, rows, name, increasing=False) for name in tail_columns}
    head_j = {name[len(HEAD_ENERGY_PREFIX):]: _head_energy(path, header, rows, name, head_s)
              for name in energy_columns}
    output_bytes = _column(path, rows, "output_bytes", integer=True).astype(np.int64)
    flops = _column(path, rows, "flops") if "flops" in header else None
    info = {name: [row.cells[name] for row in rows] for name in INFO_COLUMNS if name in header}
    return ModelProfile(tuple(names), head_s, tail_s, output_bytes, flops, head_j, source=str(path), info=info)


def _class_columns(path: Path, header: list[str]) -> tuple[list[str], list[str], list[str]]:
    """The head time, head energy and tail time columns (``head_ms_<device class>``, ``head_mj_<device class>``,
    ``tail_ms_<server class>``); at least one head and one tail time column."""
    head_columns = [h for h in header if h.startswith(HEAD_PREFIX) and len(h) > len(HEAD_PREFIX)]
    energy_columns = [h for h in header if h.startswith(HEAD_ENERGY_PREFIX)]
    tail_columns = [h for h in header if h.startswith(TAIL_PREFIX) and len(h) > len(TAIL_PREFIX)]
    if not head_columns or not tail_columns:
        raise InputError(path, "header", f"expected at least one {HEAD_PREFIX}<device class> and one "
                         f"{TAIL_PREFIX}<server class> column, got {header}")
    return head_columns, energy_columns, tail_columns


def _split_names(path: Path, rows: list[Row]) -> list[str]:
    """The name of each split point, checking the rows number them 0, 1, 2, ... in order."""
    names = []
    for expected_split, row in enumerate(rows):
        split = number(path, row, "split", integer=True, minimum=0)
        if split != expected_split:
            raise InputError(path, f"line {row.line}, column split",
                             f"expected split points 0, 1, 2, ... in order, so {expected_split}, got {split}")
        name = row.cells["name"]
        if not name:
            raise InputError(path, f"line {row.line}, column name", "expected a non-empty name")
        names.append(name)
    return names


def _column(path: Path, rows: list[Row], name: str, **kw) -> np.ndarray:
    """Column ``name`` as non-negative numbers (``kw``: :func:`~simsplit.core.csvtable.number`'s bounds)."""
    return np.array([number(path, row, name, minimum=0, **kw) for row in rows], dtype=float)


def _times(path: Path, rows: list[Row], name: str, increasing: bool) -> np.ndarray:
    """A head (cumulative, ``increasing``) or tail (remaining) time column (ms in the file), in s."""
    values = _column(path, rows, name)
    _check_monotone(path, rows, name, values, increasing)
    return values * MS


def _head_energy(path: Path, header: list[str], rows: list[Row], name: str,
                 head_s: dict[str, np.ndarray]) -> np.ndarray:
    """A cumulative head energy column (mJ in the file), in J; its device class needs a head time column, and
    no compute (time 0) means no energy."""
    device_class = name[len(HEAD_ENERGY_PREFIX):]
    if device_class not in head_s:
        raise InputError(path, f"header, column {name}", f"expected a {HEAD_PREFIX}{device_class} column beside "
                         f"it (energy needs the time it is spent in), got {header}")
    values = _column(path, rows, name)
    _check_monotone(path, rows, name, values, increasing=True, quantity="energy")
    timeless = np.flatnonzero((values > 0) & (head_s[device_class] == 0))
    if timeless.size:
        row = rows[timeless[0]]
        raise InputError(path, f"line {row.line}, column {name}",
                         f"expected 0 where {HEAD_PREFIX}{device_class} is 0 (no compute, no energy), "
                         f"got {row.cells[name]}")
    return values * MJ


def _check_monotone(path: Path, rows: list[Row], name: str, values: np.ndarray, increasing: bool,
                    quantity: str = "time") -> None:
    """Refuse a head column that decreases or a tail column that increases along the splits."""
    steps = np.diff(values)
    bad = np.flatnonzero(steps < 0 if increasing else steps > 0)
    if bad.size:
        row, before = rows[bad[0] + 1], rows[bad[0]]
        trend = f"non-decreasing (cumulative head {quantity})" if increasing else \
            "non-increasing (remaining tail time)"
        raise InputError(path, f"line {row.line}, column {name}",
                         f"expected {trend} along the splits, got {row.cells[name]} after {before.cells[name]}")
