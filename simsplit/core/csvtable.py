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
from typing import Literal, overload

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
    text = read_input(path)
    numbered = [(i, line) for i, line in enumerate(text.splitlines(), start=1)
                if line.strip() and not line.lstrip().startswith("#")]
    if not numbered:
        raise InputError(path, None, "expected a header line and at least one row, got an empty file")
    header_line, header_text = numbered[0]
    header = _cells(header_text)
    _check_header(path, header_line, header, list(required), list(optional), tuple(prefixes))
    rows = []
    for line_no, line_text in numbered[1:]:
        cells = _cells(line_text)
        if len(cells) != len(header):
            raise InputError(path, f"line {line_no}", f"expected {len(header)} cells, got {len(cells)}")
        rows.append(Row(line_no, dict(zip(header, cells, strict=True))))
    if not rows:
        raise InputError(path, None, "expected at least one data row after the header, got none")
    return header, rows


def _cells(line: str) -> list[str]:
    """The stripped cells of one CSV line."""
    return [c.strip() for c in next(csv.reader([line]))]


def _check_header(path: Path, line: int, header: list[str], required: list[str], optional: list[str],
                  prefixes: tuple[str, ...]) -> None:
    """Refuse a header (on ``line``) that lacks a required column, has an unknown one or repeats one."""
    for name in required:
        if name not in header:
            raise InputError(path, f"line {line}", f"expected a column {name!r}, got columns {header}")
    allowed = set(required) | set(optional)
    for name in header:
        if name not in allowed and not (prefixes and name.startswith(prefixes)):
            expected = sorted(allowed) + [p + "*" for p in prefixes]
            raise InputError(path, f"line {line}", f"unknown column {name!r}; expected columns among {expected}")
    if len(set(header)) != len(header):
        raise InputError(path, f"line {line}", "expected unique column names, got a repeated one")


@overload
def number(path: Path, row: Row, column: str, *, integer: Literal[True], minimum: float | None = None,
           maximum: float | None = None, default: float | None = None) -> int: ...
@overload
def number(path: Path, row: Row, column: str, *, integer: Literal[False] = False, minimum: float | None = None,
           maximum: float | None = None, default: float | None = None) -> float: ...
def number(path: Path, row: Row, column: str, *, integer: bool = False, minimum: float | None = None,
           maximum: float | None = None, default: float | None = None) -> float:
    """The cell ``column`` of ``row`` as a finite number within [minimum, maximum].

    An empty or absent cell gives ``default`` if one is set. Raise
    :class:`InputError` naming the line and column otherwise.
    """
    text = row.cells.get(column, "")
    if text == "" and default is not None:
        return default
    value = _finite(text)
    if value is None or not _within(value, integer, minimum, maximum):
        raise InputError(path, f"line {row.line}, column {column}",
                         f"expected {_wanted(integer, minimum, maximum)}, got {text!r}")
    return int(value) if integer else value


def _finite(text: str) -> float | None:
    """``text`` as a finite number of magnitude <= MAX_INPUT_MAGNITUDE (ASCII only), else None."""
    if not text.isascii():
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and abs(value) <= MAX_INPUT_MAGNITUDE else None


def _within(value: float, integer: bool, minimum: float | None, maximum: float | None) -> bool:
    return not ((integer and value != int(value)) or (minimum is not None and value < minimum)
                or (maximum is not None and value > maximum))


def _wanted(integer: bool, minimum: float | None, maximum: float | None) -> str:
    """What a cell should hold, as the error says it: ``a number >= 0 and <= 1``."""
    bounds = ""
    if minimum is not None:
        bounds += f" >= {minimum:g}"
    if maximum is not None:
        bounds += f" <= {maximum:g}" if not bounds else f" and <= {maximum:g}"
    return f"{'an integer' if integer else 'a number'}{bounds}"
