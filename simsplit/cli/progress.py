"""Progress of a long command: a bar with its ETA on a terminal, and a line every :data:`LOG_EVERY_S` otherwise
(a log, a CI job, a pipe), both on stderr, so that no long run goes without a sign of life.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

from simsplit.cli.app import err_console
from simsplit.core.words import duration

LOG_EVERY_S = 10.0
"""Seconds between two progress lines when stderr is not a terminal."""


class _Lines:
    """Progress as a line every ``every_s`` seconds: done of total, elapsed, and the time left at the pace so
    far."""

    def __init__(self, label: str, total: float, unit: str, every_s: float, clock: Callable[[], float]):
        self.label, self.total, self.unit, self.every_s, self.clock = label, total, unit, every_s, clock
        self.done = 0.0
        self.started = clock()
        self.last = self.started

    def advance(self, amount: float = 1.0) -> None:
        self.done += amount
        now = self.clock()
        if now - self.last >= self.every_s:
            self.last = now
            err_console.print(self.line(now), markup=False, highlight=False, soft_wrap=True)

    def line(self, now: float) -> str:
        elapsed = now - self.started
        share = min(self.done / self.total, 1.0) if self.total else 1.0  # a total may be an estimate
        left = elapsed * (1 - share) / share if share > 0 else float("nan")
        eta = "" if share == 0 else ", almost done" if left < 0.1 else f", about {duration(left)} left"
        return (f"{self.label}: {self.done:,.0f} of {self.total:,.0f} {self.unit} ({100 * share:.0f}%), "
                f"{duration(elapsed)} so far{eta}")


@contextlib.contextmanager
def progress(label: str, total: float, unit: str = "runs", every_s: float | None = None,
             clock: Callable[[], float] = time.monotonic) -> Iterator[Callable[[float], None]]:
    """A function ``advance(amount=1)`` for ``total`` units of work: a bar with its ETA on a terminal, else a
    line every ``every_s`` seconds (default :data:`LOG_EVERY_S`)."""
    if err_console.is_terminal:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn(unit),
                      TimeRemainingColumn(), console=err_console, transient=True) as bar:
            task = bar.add_task(label, total=total)

            def advance(amount: float = 1.0) -> None:
                bar.advance(task, amount)
            yield advance
        return
    lines = _Lines(label, total, unit, LOG_EVERY_S if every_s is None else every_s, clock)
    yield lines.advance
