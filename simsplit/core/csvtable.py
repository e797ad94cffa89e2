"""Reading small CSV input tables with errors that name the file, line and column.

Lines starting with ``#`` are comments (use them for provenance); blank lines
are skipped. The first other line is the header.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from simsplit.core.errors import MAX_INPUT_MAGNITUDE, InputError, read_input


@dataclass(frozen=True)
class Row:
    """One data row: its 1-based line number in the file and its cells by column."""

    line: int
    cells: dict[str, str]


def read_table(path: Path, required: Iterable[str], optional: Iterable[str] = (),
               prefixes: Iterable[str] = ()) -> tuple[list[str], list[Row]]:
    """Header and rows of the CSV at ``path``.

    Columns must be ``required`` ones, ``optional`` ones, or start with one
    of ``prefixes``. Raise :class:`InputError` for a missing file, no header,
    no rows, a missing or unknown column, or a row with the wrong cell count.
    """
    required, optional, prefixes = list(required), list(optional), tuple(prefixes)
    text = read_input(path)
    numbered = [(i, line) for i, line in enumerate(text.splitlines(), start=1)
                if line.strip() and not line.lstrip().startswith("#")]
    if not numbered:
        raise InputError(path, None, "expected a header line and at least one row, got an empty file")
    header_line, header_text = numbered[0]
    header = [h.strip() for h in next(csv.reader([header_text]))]
    for name in required:
        if name not in header:
            raise InputError(path, f"line {header_line}", f"expected a column {name!r}, got columns {header}")
    allowed = set(required) | set(optional)
    for name in header:
        if name not in allowed and not (prefixes and name.startswith(prefixes)):
            expected = sorted(allowed) + [p + "*" for p in prefixes]
            raise InputError(path, f"line {header_line}", f"unknown column {name!r}; expected columns among {expected}")
    if len(set(header)) != len(header):
        raise InputError(path, f"line {header_line}", "expected unique column names, got a repeated one")
    rows = []
    for line_no, line_text in numbered[1:]:
        cells = [c.strip() for c in next(csv.reader([line_text]))]
        if len(cells) != len(header):
            raise InputError(path, f"line {line_no}", f"expected {len(header)} cells, got {len(cells)}")
        rows.append(Row(line_no, dict(zip(header, cells))))
    if not rows:
        raise InputError(path, None, "expected at least one data row after the header, got none")
    return header, rows


def number(path: Path, row: Row, column: str, *, integer: bool = False, minimum: float | None = None,
           maximum: float | None = None, default: float | None = None) -> float:
    """The cell ``column`` of ``row`` as a finite number within [minimum, maximum].

    An empty or absent cell gives ``default`` if one is set. Raise
    :class:`InputError` naming the line and column otherwise.
    """
    text = row.cells.get(column, "")
    where = f"line {row.line}, column {column}"
    if text == "" and default is not None:
        return default
    kind = "an integer" if integer else "a number"
    bounds = ""
    if minimum is not None:
        bounds += f" >= {minimum:g}"
    if maximum is not None:
        bounds += f" <= {maximum:g}" if not bounds else f" and <= {maximum:g}"
    try:
        if not text.isascii():
            raise ValueError(text)
        value = float(text)
    except ValueError:
        raise InputError(path, where, f"expected {kind}{bounds}, got {text!r}") from None
    if not math.isfinite(value) or abs(value) > MAX_INPUT_MAGNITUDE or (integer and value != int(value)) \
            or (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise InputError(path, where, f"expected {kind}{bounds}, got {text!r}")
    return int(value) if integer else value
