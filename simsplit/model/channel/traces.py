"""Bandwidth-trace readers. Every format becomes one :class:`Trace`: breakpoints (s), rates (bits/s), period (s).

Rate ``rates_bps[k]`` holds on ``[times_s[k], times_s[k+1])`` and the last one
until ``period_s``; times start at 0. Formats and their units are documented in
``traces/README.md``. A malformed file raises :class:`InputError` naming the
file and line.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from simsplit.core.errors import MAX_INPUT_MAGNITUDE, InputError, read_input
from simsplit.core.units import MBPS, MS

FORMATS = ("mahimahi", "pensieve", "csv", "gnettrack", "mecperf")
MAHIMAHI_PACKET_BITS = 1500 * 8
"""One Mahimahi delivery opportunity carries one 1500-byte packet."""
MAX_BINS = 10_000_000
"""Most windows a binned Mahimahi trace may have (the bins are held in memory)."""
DISPLAY_WINDOW_MS = 100.0
"""Window of the binned view of an exactly read Mahimahi trace (statistics and figures)."""
RATE_UNITS = {"rate_bps": 1.0, "rate_kbps": 1e3, "rate_mbps": MBPS}
TIME_UNITS = {"time_s": 1.0, "time_ms": MS}


@dataclass(frozen=True)
class Trace:
    """A piecewise-constant capacity read from a file."""

    times_s: np.ndarray
    rates_bps: np.ndarray
    period_s: float
    source: str = ""
    opportunities_ms: np.ndarray | None = None
    """A Mahimahi trace read exactly: the integer millisecond stamps of its delivery opportunities, one
    packet each (then ``times_s``/``rates_bps`` are a binned view for statistics and figures only)."""

    @property
    def opportunities_s(self) -> np.ndarray | None:
        """The opportunities' instants (s), or None for a trace read as a rate."""
        return None if self.opportunities_ms is None else self.opportunities_ms / 1e3

    def durations_s(self) -> np.ndarray:
        """How long each step lasts (s)."""
        return np.diff(np.append(self.times_s, self.period_s))

    def statistics(self) -> dict:
        """Duration, time-weighted mean and percentiles of the rate, min, max, outage fraction."""
        weights = self.durations_s()
        order = np.argsort(self.rates_bps, kind="stable")
        cumulative = np.cumsum(weights[order]) / weights.sum()

        def percentile(q):
            return float(self.rates_bps[order][min(np.searchsorted(cumulative, q), len(order) - 1)])

        return {
            "duration_s": float(self.period_s), "steps": int(self.times_s.size),
            "mean_bps": float((self.rates_bps * weights).sum() / weights.sum()),
            "min_bps": float(self.rates_bps.min()), "max_bps": float(self.rates_bps.max()),
            "p5_bps": percentile(0.05), "p50_bps": percentile(0.50), "p95_bps": percentile(0.95),
            "outage_fraction": float(weights[self.rates_bps == 0].sum() / weights.sum()),
        }


def _lines(path: Path) -> list[tuple[int, str]]:
    text = read_input(path)
    lines = [(i, line.strip()) for i, line in enumerate(text.splitlines(), start=1)]
    lines = [(i, line) for i, line in lines if line and not line.startswith("#")]
    if not lines:
        raise InputError(path, None, "expected trace samples, got an empty file")
    return lines


def _cells(path: Path, line: int, text: str, width: int | None = None) -> list[str]:
    """The stripped comma-separated cells of one line; exactly ``width`` of them when given."""
    cells = [c.strip() for c in text.split(",")]
    if width is not None and len(cells) != width:
        raise InputError(path, f"line {line}", f"expected {width} cells, got {len(cells)}")
    return cells


def _float(path: Path, line: int, text: str, what: str, minimum: float | None = None,
           column: int | str | None = None) -> float:
    """``text`` as a finite number (ASCII digits only), >= ``minimum`` if given; errors name the line and
    column and echo the text as written, in the file's own units."""
    where = f"line {line}" if column is None else f"line {line}, column {column}"
    if not text.isascii():
        raise InputError(path, where, f"expected {what} as a number in ASCII digits, got {text!r}")
    try:
        value = float(text)
    except ValueError:
        raise InputError(path, where, f"expected {what} as a number, got {text!r}") from None
    if not math.isfinite(value) or abs(value) > MAX_INPUT_MAGNITUDE:
        raise InputError(path, where, f"expected {what} as a finite number of magnitude <= {MAX_INPUT_MAGNITUDE:g}, "
                         f"got {text!r}")
    if minimum is not None and value < minimum:
        raise InputError(path, where, f"expected {what} >= {minimum:g}, got {text}")
    return value


def _check_times(path: Path, lines: list[int], times: list[float], time_texts: list[str] | None = None) -> None:
    """InputError unless the times strictly increase (rates were checked >= 0 as they were read)."""
    for k in range(1, len(times)):
        if times[k] <= times[k - 1]:
            previous, current = ((time_texts[k - 1], time_texts[k]) if time_texts is not None
                                 else (f"{times[k - 1]:g} s", f"{times[k]:g} s"))
            raise InputError(path, f"line {lines[k]}", f"expected a time after {previous} (times must "
                             f"increase), got {current}")


def _steps(path: Path, lines: list[int], times: list[float], rates: list[float], last_step_s: float | None) -> Trace:
    """Rates holding from each time to the next; the last for ``last_step_s`` (default: the median step)."""
    _check_times(path, lines, times)
    start = times[0]
    rebased = np.array(times) - start
    if last_step_s is None:
        last_step_s = statistics.median(np.diff(rebased)) if len(times) > 1 else 1.0
    return Trace(rebased, np.array(rates, dtype=float), float(rebased[-1] + last_step_s), str(path))


MAHIMAHI_DIGITS = 15
"""Digits a Mahimahi timestamp may have: below 1e15 ms, the bound on every number read."""


def read_mahimahi(path: Path, window_ms: float | None = None) -> Trace:
    """Mahimahi: one integer ms timestamp per 1500-byte delivery opportunity; the period is the last
    timestamp (as ``mm-link`` loops).

    By default the opportunities are kept and replayed exactly
    (:class:`~simsplit.model.channel.opportunities.OpportunityChannel`); ``times_s``/``rates_bps`` then bin
    them in 100 ms windows (wider for very long traces) for statistics only. With ``window_ms`` the
    trace *is* the binned rate (a piecewise-constant approximation that makes short transfers finish
    early; see traces/README.md); the last bin may be shorter.
    """
    if window_ms is not None and not (math.isfinite(window_ms) and window_ms > 0):
        raise InputError(path, "window_ms", f"expected a finite number > 0, got {window_ms:g}")
    stamps: list[tuple[int, int]] = []
    for line, text in _lines(path):
        if not (text.isascii() and text.isdigit()):
            raise InputError(path, f"line {line}",
                             f"expected a non-negative integer millisecond timestamp, got {text!r}")
        if len(text.lstrip("0")) > MAHIMAHI_DIGITS:
            raise InputError(path, f"line {line}", f"expected a millisecond timestamp of at most "
                             f"{MAHIMAHI_DIGITS} digits (under {MAX_INPUT_MAGNITUDE:g} ms), got {len(text):,} digits")
        value = int(text)
        if stamps and value < stamps[-1][1]:
            raise InputError(path, f"line {line}",
                             f"expected a timestamp >= {stamps[-1][1]} (non-decreasing), got {value}")
        stamps.append((line, value))
    period_ms = stamps[-1][1]
    if period_ms <= 0:
        raise InputError(path, f"line {stamps[-1][0]}", "expected the last timestamp > 0 (it is the period), got 0")
    exact = window_ms is None
    window = max(DISPLAY_WINDOW_MS, period_ms / 1e6) if window_ms is None else window_ms
    if period_ms / window > MAX_BINS:
        raise InputError(path, "window_ms", f"expected a window that cuts the {period_ms} ms trace into at most "
                         f"{MAX_BINS:,} bins, got {window:g} ms ({period_ms / window:,.0f} bins)")
    values = np.array([v for _, v in stamps])
    edges = np.arange(0.0, period_ms, window)
    counts = np.histogram(np.minimum(values, period_ms - 1e-9), bins=np.append(edges, period_ms))[0]
    widths_s = np.diff(np.append(edges, period_ms)) / 1e3
    return Trace(edges / 1e3, counts * MAHIMAHI_PACKET_BITS / widths_s, period_ms / 1e3, str(path),
                 values if exact else None)


def read_pensieve(path: Path) -> Trace:
    """Pensieve "cooked": ``time_s  Mbps`` per line. As in Pensieve's simulator, row i's rate covers
    ``(t[i-1], t[i]]``: the first row only marks the start, and the trace lasts ``t[-1] - t[0]``."""
    lines, times, rates, texts = [], [], [], []
    for line, text in _lines(path):
        fields = text.split()
        if len(fields) != 2:
            raise InputError(path, f"line {line}", f"expected two numbers 'time_s Mbps', got {text!r}")
        lines.append(line)
        texts.append(fields[0])
        times.append(_float(path, line, fields[0], "time (s)", column=1))
        rates.append(_float(path, line, fields[1], "rate (Mbps)", minimum=0.0, column=2) * MBPS)
    if len(times) < 2:
        raise InputError(path, None, "expected at least two rows (the first only marks the start), got one")
    _check_times(path, lines, times, texts)
    rebased = np.array(times) - times[0]
    return Trace(rebased[:-1], np.array(rates[1:]), float(rebased[-1]), str(path))


def read_csv(path: Path) -> Trace:
    """Generic CSV with a header naming the units: a ``time_s`` or ``time_ms`` column and a
    ``rate_bps``, ``rate_kbps`` or ``rate_mbps`` column (other columns ignored). Each rate holds until the
    next row's time; the last row's time is the end of the trace (its rate is not used), as a Mahimahi
    trace's last timestamp is its period."""
    numbered = _lines(path)
    header_line, header_text = numbered[0]
    header = _cells(path, header_line, header_text)
    time_cols = [h for h in header if h in TIME_UNITS]
    rate_cols = [h for h in header if h in RATE_UNITS]
    if len(time_cols) != 1 or len(rate_cols) != 1:
        raise InputError(path, f"line {header_line}", f"expected one time column ({'/'.join(TIME_UNITS)}) and one "
                         f"rate column ({'/'.join(RATE_UNITS)}), got columns {header}")
    ti, ri = header.index(time_cols[0]), header.index(rate_cols[0])
    lines, times, rates, texts = [], [], [], []
    for line, text in numbered[1:]:
        cells = _cells(path, line, text, len(header))
        lines.append(line)
        texts.append(f"{time_cols[0]} {cells[ti]}")
        times.append(_float(path, line, cells[ti], time_cols[0], column=time_cols[0]) * TIME_UNITS[time_cols[0]])
        rates.append(_float(path, line, cells[ri], rate_cols[0], minimum=0.0, column=rate_cols[0])
                     * RATE_UNITS[rate_cols[0]])
    if len(times) < 2:
        raise InputError(path, None, f"expected at least two data rows (the last marks the end), got {len(times)}")
    _check_times(path, lines, times, texts)
    rebased = np.array(times) - times[0]
    return Trace(rebased[:-1], np.array(rates[:-1], dtype=float), float(rebased[-1]), str(path))


def read_gnettrack(path: Path, direction: str = "down", states: tuple[str, ...] = ("D",)) -> Trace:
    """G-NetTrack drive-test CSV (UCC 4G/5G datasets): ``Timestamp`` (YYYY.MM.DD_HH.MM.SS, 1 s),
    ``DL_bitrate``/``UL_bitrate`` in kbit/s, ``-`` for missing. Keeps rows whose ``State`` is in
    ``states``, averages rows of the same second, and holds each second's rate for 1 s or until the next
    kept second. (In these datasets UL_bitrate is the uplink traffic during a download, not capacity.)"""
    column = {"down": "DL_bitrate", "up": "UL_bitrate"}[direction]
    numbered = _lines(path)
    header_line, header_text = numbered[0]
    header = _cells(path, header_line, header_text)
    for needed in ("Timestamp", column):
        if needed not in header:
            raise InputError(path, f"line {header_line}", f"expected a column {needed!r}, got columns {header[:6]}...")
    ti, ri = header.index("Timestamp"), header.index(column)
    si = header.index("State") if "State" in header else None
    seconds: dict[float, list[float]] = {}
    first_line: dict[float, int] = {}
    previous = None
    for line, text in numbered[1:]:
        cells = _cells(path, line, text, len(header))
        stamp = _gnettrack_second(path, line, cells[ti], previous)
        previous = stamp
        if (si is not None and cells[si] not in states) or cells[ri] in ("-", ""):
            continue
        rate = _float(path, line, cells[ri], f"{column} (kbit/s)", minimum=0.0, column=column)
        seconds.setdefault(stamp, []).append(rate * 1e3)
        first_line.setdefault(stamp, line)
    if not seconds:
        raise InputError(path, None, f"expected rows with State in {list(states)} and a {column} value, got none")
    stamps = sorted(seconds)
    return _steps(path, [first_line[s] for s in stamps], stamps, [float(np.mean(seconds[s])) for s in stamps], 1.0)


def _gnettrack_second(path: Path, line: int, text: str, previous: float | None) -> float:
    """A G-NetTrack ``Timestamp`` (YYYY.MM.DD_HH.MM.SS, UTC) as POSIX seconds, not before ``previous``."""
    try:
        stamp = datetime.strptime(text, "%Y.%m.%d_%H.%M.%S").replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        raise InputError(path, f"line {line}, column Timestamp",
                         f"expected YYYY.MM.DD_HH.MM.SS, got {text!r}") from None
    if previous is not None and stamp < previous:
        raise InputError(path, f"line {line}, column Timestamp", f"expected time not before the previous row, "
                         f"got {text!r}")
    return stamp


def read_mecperf(path: Path) -> Trace:
    """MECPerf: comma-separated ``YYYY-MM-DD HH:MM:SS.ffffff_<Mbit/s>`` items (sparse per-test averages).
    Each value holds until the next sample; the last for the median gap."""
    lines, times, rates = [], [], []
    for line, text in _lines(path):
        for item_no, item in enumerate((i.strip() for i in text.split(",")), start=1):
            if not item:
                continue
            stamp, _, value = item.rpartition("_")
            try:
                at = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=timezone.utc).timestamp()
            except ValueError:
                raise InputError(path, f"line {line}",
                                 f"expected 'YYYY-MM-DD HH:MM:SS.ffffff_<Mbps>', got {item!r}") from None
            lines.append(line)
            times.append(at)
            rates.append(_float(path, line, value, "rate (Mbps)", minimum=0.0, column=f"item {item_no}") * MBPS)
    if not times:
        raise InputError(path, None, "expected at least one 'YYYY-MM-DD HH:MM:SS.ffffff_<Mbps>' item, got none")
    return _steps(path, lines, times, rates, None)


def read_trace(path: str | Path, fmt: str, **options) -> Trace:
    """Read ``path`` in format ``fmt`` (one of :data:`FORMATS`)."""
    path = Path(path)
    readers = {"mahimahi": read_mahimahi, "pensieve": read_pensieve, "csv": read_csv,
               "gnettrack": read_gnettrack, "mecperf": read_mecperf}
    if fmt not in readers:
        raise InputError(path, None, f"expected a trace format among {list(FORMATS)}, got {fmt!r}")
    return readers[fmt](path, **options)


MAX_MAHIMAHI_LINES = 20_000_000
"""Delivery opportunities a converted Mahimahi trace may hold (one line each: about 180 MB, and as many Python
integers while it is written)."""


def write_trace(trace: Trace, path: str | Path, fmt: str) -> None:
    """Write ``trace`` as ``csv`` (time_s, rate_mbps), ``pensieve`` or ``mahimahi`` (delivery opportunities)."""
    path = Path(path)
    if fmt == "csv":
        rows = [f"{t:.6f},{r / MBPS:.6f}" for t, r in zip(trace.times_s, trace.rates_bps, strict=True)]
        rows.append(f"{trace.period_s:.6f},{trace.rates_bps[-1] / MBPS:.6f}")  # marks the end
        path.write_text("time_s,rate_mbps\n" + "\n".join(rows) + "\n")
    elif fmt == "pensieve":
        ends = np.append(trace.times_s[1:], trace.period_s)
        rows = [f"0.000000\t{trace.rates_bps[0] / MBPS:.6f}"]
        rows += [f"{t:.6f}\t{r / MBPS:.6f}" for t, r in zip(ends, trace.rates_bps, strict=True)]
        path.write_text("\n".join(rows) + "\n")
    elif fmt == "mahimahi":
        from simsplit.model.channel.steps import StepChannel
        channel = StepChannel(trace.times_s, trace.rates_bps, "hold")
        total = channel.bits_between(0.0, trace.period_s)
        packets = int(total // MAHIMAHI_PACKET_BITS)
        if packets > MAX_MAHIMAHI_LINES:
            raise InputError(path, None, f"expected a Mahimahi trace of at most {MAX_MAHIMAHI_LINES:,} delivery "
                             f"opportunities (about {MAX_MAHIMAHI_LINES * 9 / 1e6:,.0f} MB), got {packets:,} for "
                             f"{trace.period_s:,.0f} s at {total / trace.period_s / MBPS:,.2f} Mbit/s on average; "
                             "convert a shorter trace, or to csv")
        stamps = [max(1, math.ceil(channel.finish_time(0.0, (k + 1) * MAHIMAHI_PACKET_BITS) * 1e3 - 1e-9))
                  for k in range(packets)]
        stamps.append(max(stamps[-1] if stamps else 1, int(round(trace.period_s * 1e3))))
        path.write_text("\n".join(str(s) for s in stamps) + "\n")
    else:
        raise ValueError(f"cannot write format {fmt!r}; expected csv, pensieve or mahimahi")
