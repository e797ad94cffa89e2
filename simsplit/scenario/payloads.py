"""Payload tables: what each (split point, bottleneck) puts on the wire and what it costs.

One row per ``(split, bottleneck)``: the mean bytes sent per inference, the
top-1 accuracy of the whole pipeline with that bottleneck, and the extra
encode time on the device and decode time on the server. The row at the local
split L (bytes 0) gives the unsplit model's accuracy. A row may also give the
distribution of its encoded sizes as quantile columns ``bytes_q<percent>``
(``bytes_q0`` and ``bytes_q100`` at least): the engine then draws each
request's bytes from the piecewise-linear quantile function through them.
See ``docs/formats.md`` for the CSV layout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from simsplit.core.csvtable import number, read_table
from simsplit.core.errors import InputError
from simsplit.core.units import MS


@dataclass(frozen=True)
class PayloadEntry:
    """One bottleneck configuration at one split point."""

    split: int
    bottleneck: str
    bytes: float
    """Mean bytes on the wire per inference."""
    accuracy: float
    """Top-1 accuracy, a fraction in [0, 1]."""
    encode_s: float
    """Extra device time (s) to encode the payload."""
    decode_s: float
    """Extra server time (s) to decode it."""
    bytes_p95: float | None = None
    """95th percentile of the bytes per inference, when the table was measured (information only)."""
    accuracy_vs_erasure: tuple[tuple[float, ...], tuple[float, ...]] | None = None
    """(erased fractions of the payload's packets, accuracy at each): without retransmission a request is
    delivered with the accuracy at its erased fraction (linear in between) instead of being lost."""
    accuracy_vs_snr: tuple[tuple[float, ...], tuple[float, ...]] | None = None
    """(uplink SNRs in dB, accuracy at each): on a fading uplink a request's accuracy follows the SNR its
    upload started in (linear in between, the end values beyond)."""
    size_quantiles: tuple[tuple[float, ...], tuple[float, ...]] | None = None
    """(probabilities in [0, 1], bytes): the quantile function of the encoded size, when the table gives
    ``bytes_q<percent>`` columns; None: every request sends ``bytes``."""
    line: int = field(default=0, compare=False)

    def quantile_mean(self) -> float:
        """Mean bytes of the piecewise-linear quantile function (``bytes`` without a distribution)."""
        if self.size_quantiles is None:
            return self.bytes
        probabilities, sizes = self.size_quantiles
        pieces = zip(probabilities, probabilities[1:], sizes, sizes[1:], strict=False)  # neighbouring points
        return sum((b - a) * (x + y) / 2 for a, b, x, y in pieces)


@dataclass(frozen=True)
class PayloadTable:
    """All payload entries of one model, keyed by (split, bottleneck)."""

    entries: dict[tuple[int, str], PayloadEntry]
    source: str = field(default="", compare=False)

    def at_split(self, split: int) -> list[PayloadEntry]:
        """Entries at ``split``, in file order."""
        return [e for (s, _), e in self.entries.items() if s == split]

    def get(self, split: int, bottleneck: str) -> PayloadEntry | None:
        return self.entries.get((split, bottleneck))


def load_payloads(path: str | Path) -> PayloadTable:
    """Read and validate a payload CSV. Raise :class:`InputError` naming the line and column."""
    path = Path(path)
    header, rows = read_table(path, required=["split", "bottleneck", "bytes", "accuracy"],
                              optional=["encode_ms", "decode_ms", "bytes_p95"],
                              prefixes=["bytes_q", ERASURE_PREFIX, SNR_PREFIX])
    quantile_columns = _quantile_columns(path, header)
    erasure_columns = _level_columns(path, header, ERASURE_PREFIX, 0.0, 1.0)
    snr_columns = _level_columns(path, header, SNR_PREFIX, -100.0, 100.0)
    entries: dict[tuple[int, str], PayloadEntry] = {}
    for row in rows:
        split = number(path, row, "split", integer=True, minimum=0)
        bottleneck = row.cells["bottleneck"]
        if not bottleneck:
            raise InputError(path, f"line {row.line}, column bottleneck", "expected a non-empty name")
        key = (split, bottleneck)
        if key in entries:
            raise InputError(path, f"line {row.line}", f"expected one row per (split, bottleneck), got "
                             f"({split}, {bottleneck}) again (first on line {entries[key].line})")
        entries[key] = PayloadEntry(
            split=split, bottleneck=bottleneck,
            bytes=number(path, row, "bytes", minimum=0),
            accuracy=number(path, row, "accuracy", minimum=0, maximum=1),
            encode_s=number(path, row, "encode_ms", minimum=0, default=0.0) * MS,
            decode_s=number(path, row, "decode_ms", minimum=0, default=0.0) * MS,
            bytes_p95=number(path, row, "bytes_p95", minimum=0) if row.cells.get("bytes_p95") else None,
            size_quantiles=_size_quantiles(path, row, quantile_columns),
            accuracy_vs_erasure=_accuracy_curve(path, row, erasure_columns),
            accuracy_vs_snr=_accuracy_curve(path, row, snr_columns),
            line=row.line)
    return PayloadTable(entries, source=str(path))


QUANTILE_PREFIX = "bytes_q"
ERASURE_PREFIX = "accuracy_erasure_"
SNR_PREFIX = "accuracy_snr_"


def _level_columns(path: Path, header: list[str], prefix: str, low: float, high: float) -> list[tuple[float, str]]:
    """Columns ``<prefix><level>`` as (level, name), by level: erased fractions in [0, 1] or SNRs in dB."""
    columns = []
    for name in header:
        if not name.startswith(prefix):
            continue
        text = name[len(prefix):]
        try:
            level = float(text) if text.isascii() else math.nan
        except ValueError:
            level = math.nan
        if not low <= level <= high:
            raise InputError(path, "header", f"expected columns {prefix}<level> with a level in {low:g}..{high:g}, "
                             f"got {name!r}")
        columns.append((level, name))
    columns.sort()
    levels = [level for level, _ in columns]
    if len(set(levels)) != len(levels):
        raise InputError(path, "header", f"expected each {prefix}<level> once, got {[n for _, n in columns]}")
    return columns


def _accuracy_curve(path: Path, row, columns: list[tuple[float, str]]):
    """(levels, accuracies) of a row's accuracy curve, or None when the row leaves the columns empty."""
    if not columns or all(not row.cells.get(name) for _, name in columns):
        return None
    return (tuple(level for level, _ in columns),
            tuple(number(path, row, name, minimum=0, maximum=1) for _, name in columns))


def _quantile_columns(path: Path, header: list[str]) -> list[tuple[float, str]]:
    """The ``bytes_q<percent>`` columns as (probability, name), by probability; checked."""
    columns = [(percent / 100, name) for percent, name in _level_columns(path, header, QUANTILE_PREFIX, 0.0, 100.0)]
    if columns and (columns[0][0] != 0.0 or columns[-1][0] != 1.0):
        raise InputError(path, "header", "expected bytes_q0 and bytes_q100 among the quantile columns (the "
                         f"smallest and largest size), got {[n for _, n in columns]}")
    return columns


def _size_quantiles(path: Path, row, columns: list[tuple[float, str]]):
    """(probabilities, sizes) of a row's size distribution, or None when the row leaves them empty."""
    if not columns or all(not row.cells.get(name) for _, name in columns):
        return None
    sizes = [number(path, row, name, minimum=0) for _, name in columns]
    for (_, name), low, high in zip(columns[1:], sizes, sizes[1:], strict=False):
        if high < low:
            raise InputError(path, f"line {row.line}, column {name}", f"expected sizes non-decreasing with the "
                             f"percent, got {high:g} after {low:g}")
    return tuple(p for p, _ in columns), tuple(sizes)


def raw_payload_lines(profile, accuracy: float) -> list[str]:
    """A payload table (CSV lines) that sends the raw tensor at every split: the 8-bit input at split 0,
    then each split's output at fp32, fp16 and int8 (the ``output_bytes*`` columns of a measured profile),
    all at the unsplit ``accuracy`` (an assumption: no loss from fp16 or int8 features), and the local row."""
    lines = ["split,bottleneck,bytes,accuracy,encode_ms,decode_ms",
             f"0,raw-uint8,{int(profile.output_bytes[0])},{accuracy},0,0"]
    fp16 = profile.info.get("output_bytes_fp16")
    int8 = profile.info.get("output_bytes_int8")
    for split in range(1, profile.local_split):
        lines.append(f"{split},raw-fp32,{int(profile.output_bytes[split])},{accuracy},0,0")
        if fp16 is not None:
            lines.append(f"{split},raw-fp16,{fp16[split]},{accuracy},0,0")
        if int8 is not None:
            lines.append(f"{split},raw-int8,{int8[split]},{accuracy},0,0")
    lines.append(f"{profile.local_split},none,0,{accuracy},0,0")
    return lines
