"""How a report shows numbers: each column of a table in one fixed number of decimals (enough for its largest
value to show :data:`SIGNIFICANT` significant figures and its spread two), a mean beside its 95% interval in the
same decimals, counts with thousands separators, and the columns that are equal in every row folded into one
note."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

SIGNIFICANT = 4
"""Significant figures of the largest value of a column; the column's other values share its decimals."""
MOST_DECIMALS = 9
"""Decimals never exceed this (a column of values below 1e-6 reads as zeros: say it in another unit)."""
MISSING = "-"


def decimals_for(values) -> int:
    """Decimals that show the largest finite magnitude among ``values`` to :data:`SIGNIFICANT` figures, and their
    spread (largest minus smallest, beyond float noise) to two: rates of 0.9996 and 0.99996 differ as shown."""
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    magnitudes = np.abs(finite[finite != 0])
    if not magnitudes.size:
        return 0
    largest = magnitudes.max()
    decimals = SIGNIFICANT - 1 - math.floor(math.log10(largest))
    spread = float(finite.max() - finite.min())
    if spread > 1e-9 * largest:
        decimals = max(decimals, 1 - math.floor(math.log10(spread)))
    return int(min(MOST_DECIMALS, max(0, decimals)))


def fixed(value, decimals: int) -> str:
    """``value`` with ``decimals`` decimals and thousands separators; :data:`MISSING` for None or NaN."""
    if value is None or pd.isna(value):
        return MISSING
    text = f"{float(value):,.{decimals}f}"
    return "0" + text[2:] if text.startswith("-0") and not text.strip("-0.,") else text  # no "-0.000"


def count(value) -> str:
    """A count (requests, rows) with thousands separators."""
    return MISSING if value is None or pd.isna(value) else f"{round(float(value)):,}"


def metric_column(table: pd.DataFrame, key: str, scale: float = 1.0) -> list[str]:
    """Column ``key`` of ``table`` times ``scale``, each value beside its 95% interval (``key_low`` and
    ``key_high``, when the table has them and they differ as shown), all in the column's decimals."""
    values = table[key].to_numpy(dtype=float) * scale
    has_interval = f"{key}_low" in table.columns and f"{key}_high" in table.columns
    lows = table[f"{key}_low"].to_numpy(dtype=float) * scale if has_interval else np.full(len(table), np.nan)
    highs = table[f"{key}_high"].to_numpy(dtype=float) * scale if has_interval else np.full(len(table), np.nan)
    decimals = decimals_for(np.concatenate([values, lows, highs]))
    texts = []
    for value, low, high in zip(values, lows, highs, strict=True):
        text = fixed(value, decimals)
        if np.isfinite(low) and np.isfinite(high) and fixed(low, decimals) != fixed(high, decimals):
            text += f" [{fixed(low, decimals)}, {fixed(high, decimals)}]"
        texts.append(text)
    return texts


def tidy(frame: pd.DataFrame, counts: Sequence[str] = ()) -> pd.DataFrame:
    """``frame`` as text: the ``counts`` columns and integer columns with thousands separators, other numeric
    columns in their column's decimals, anything else as it is (missing values as :data:`MISSING`)."""
    out = pd.DataFrame(index=frame.index)
    for column in frame.columns:
        values = frame[column]
        if column in counts or pd.api.types.is_integer_dtype(values):
            out[column] = [count(v) for v in values]
        elif pd.api.types.is_float_dtype(values):
            decimals = decimals_for(values)
            out[column] = [fixed(v, decimals) for v in values]
        else:
            out[column] = [MISSING if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
                           for v in values]
    return out


def fold_constant(frame: pd.DataFrame, what: str = "row") -> tuple[pd.DataFrame, str]:
    """(``frame`` without the columns, past the first, that show the same text in every row; a note naming them
    with their value). Nothing is folded from a table of one row."""
    if len(frame) < 2:
        return frame, ""
    constant = [c for c in frame.columns[1:] if frame[c].astype(str).nunique() == 1]
    if not constant:
        return frame, ""
    note = f"The same, to the digits shown, in every {what}: " + "; ".join(f"{c} {frame[c].iloc[0]}"
                                                                          for c in constant) + "."
    return frame.drop(columns=constant), note
