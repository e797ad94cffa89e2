"""Numbers in sentences: a count with its noun in the right number, and a duration in the unit that reads best.
Every command's messages use these, so that "1 device group" and "0.4 s" read the same everywhere."""

from __future__ import annotations

import math


def counted(count: float, noun: str, plural: str | None = None) -> str:
    """``count`` with thousands separators and ``noun``, plural (``plural``, default noun + "s") unless 1."""
    return f"{count:,.0f} {noun if count == 1 else plural or noun + 's'}"


def duration(seconds: float) -> str:
    """``seconds`` as "under 0.1 s", "2.5 s", "45 s", "3 min 05 s" or "2 h 10 min"; "for ever" if infinite."""
    if not math.isfinite(seconds):
        return "for ever"
    seconds = max(0.0, seconds)
    if seconds < 0.1:
        return "under 0.1 s"
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 59.5:
        return f"{seconds:.0f} s"
    whole = round(seconds)  # rounded once, then split: never "1 min 60 s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    minutes = round(seconds / 60)
    return f"{minutes // 60:,} h {minutes % 60:02d} min"
