"""A moving device's link through the strongest of several cells, with A3 handovers.

Every ``coherence_s`` the device's position (its group's ``mobility``) gives its distance to each cell and
so each cell's mean SNR by the log-distance path loss of :mod:`simsplit.model.channel.fading` (same transmit
power, bandwidth and noise for every cell). The serving cell changes as 3GPP's event A3 says: when a
neighbour's mean SNR exceeds the serving cell's by more than ``hysteresis_db`` at every sample for
``time_to_trigger_ms``, the device hands over to it; the link then carries nothing for
``interruption_ms``; a transfer in flight then resumes where it stopped, or, with ``on_handover:
restart``, starts again from its first bit (what it had sent is lost and counted as sent). Between handovers
the capacity is the serving cell's SNR with block fading, mapped to a rate by Shannon or the LTE CQI table,
as a ``fading`` link does. With ``sharing: dedicated`` the link is the device's own; with ``processor_sharing`` each
cell's time is shared by the transfers it serves (:mod:`simsplit.model.channel.cell_sharing`).
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from typing import Literal

import numpy as np
from pydantic import Field, NonNegativeFloat, model_validator

from simsplit.core.config import Config, FieldValueError
from simsplit.core.units import MS
from simsplit.model.channel.fading import (
    FadingChannel,
    RadioLinkConfig,
    log_distance_path_loss_db,
    rate_from_snr,
    thermal_noise_dbm,
)
from simsplit.model.channel.link import register_channel

MIN_DISTANCE_M = 1.0
"""Distances below this count as this (the path loss model's reference distance)."""


class CellConfig(Config):
    """A base station at (x_m, y_m), and the edge server behind it (a name in ``servers``; none: every
    cell reaches every server alike)."""

    name: str = Field(min_length=1)
    x_m: float
    y_m: float
    server: str | None = Field(default=None, min_length=1)


class CellularLinkConfig(RadioLinkConfig):
    """A moving device's link through the strongest cell (A3 handover with hysteresis and time to trigger,
    an interruption at each handover); SNR from its distance to the cell, block fading, Shannon or CQI."""

    kind: Literal["cellular"]
    cells: list[CellConfig] = Field(min_length=1)
    hysteresis_db: NonNegativeFloat = 3.0
    time_to_trigger_ms: NonNegativeFloat = 160.0
    interruption_ms: NonNegativeFloat = 50.0
    on_handover: Literal["resume", "restart"] = "resume"
    forward_ms: NonNegativeFloat = 0.0
    """Backhaul from one cell's edge server to another's (ms), for a result forwarded after a handover."""

    @model_validator(mode="after")
    def _dedicated(self):
        if self.sharing == "fifo":
            raise FieldValueError("sharing", "expected dedicated (each device's own link) or processor_sharing "
                                             "(each cell's time shared by the transfers it serves)")
        if len({c.server is None for c in self.cells}) > 1:
            raise FieldValueError("cells", "expected a server for every cell or for none")
        names = [c.name for c in self.cells]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise FieldValueError("cells", f"cell names must be unique, got {repeated} more than once")
        return self


DUE_TOLERANCE_S = 1e-9
"""A handover within this of its due instant happens at the sample (s; float rounding of the block ends)."""
ENTRY_BISECTIONS = 60
"""Halvings that locate the instant the A3 condition began (below 1e-15 s over a 10 ms block)."""


class CellularChannel(FadingChannel):
    """The capacity path of one moving device; see the module docstring. ``handovers`` lists the instants
    (s) its handovers happened, ``serving`` the serving cell of each drawn segment."""

    def __init__(self, *, trajectory, cells: list[tuple[float, float]], hysteresis_db: float,
                 time_to_trigger_s: float, interruption_s: float, restart: bool = False, **radio):
        super().__init__(distance_m=1.0, **radio)
        self.restart = restart
        """Whether a transfer cut by a handover starts again from its first bit (else it resumes)."""
        self.trajectory = trajectory
        self.cells = np.asarray(cells, dtype=float)
        self._cells_x, self._cells_y = self.cells[:, 0].copy(), self.cells[:, 1].copy()
        self.hysteresis_db = hysteresis_db
        self.time_to_trigger_s = time_to_trigger_s
        self.interruption_s = interruption_s
        self._offset_db = radio["tx_power_dbm"] - thermal_noise_dbm(radio["bandwidth_hz"], radio["noise_figure_db"])
        self._loss = (radio["reference_loss_db"], radio["path_loss_exponent"])
        self.serving_cell: int | None = None
        self._candidate: int | None = None
        self._candidate_since = 0.0
        self.handovers: list[float] = []
        self.serving: list[int] = []
        """Serving cell of each drawn segment (-1 during an interruption)."""
        self.distances_m: list[float] = []

    def mean_snrs_db(self, at_s: float) -> list[float]:
        """Each cell's SNR (dB) without fading at ``at_s``, from the device's position then."""
        return self._mean_snrs_db(*self.trajectory.position(at_s))

    def _mean_snrs_db(self, x: float, y: float) -> list[float]:
        """Each cell's SNR (dB) without fading at position (x, y) in metres (scalar arithmetic: a sample
        costs a few microseconds, not one numpy call per cell)."""
        distances = np.hypot(self._cells_x - x, self._cells_y - y).tolist()
        offset, (reference_loss_db, exponent) = self._offset_db, self._loss
        return [offset - log_distance_path_loss_db(max(d, MIN_DISTANCE_M), reference_loss_db,
                                                   exponent) for d in distances]

    def _restarts(self, start_s: float, size_bits: float):
        """(finish s, bits sent before each handover that cut the transfer) of ``size_bits`` from ``start_s``:
        with ``restart``, every handover before the finish starts the transfer again from its first bit."""
        finish = super().finish_time(start_s, size_bits)
        wasted = 0.0
        while self.restart and math.isfinite(finish) and size_bits > 0:
            k = bisect_right(self.handovers, start_s)  # the first handover after the (re)start
            if k >= len(self.handovers) or self.handovers[k] >= finish:
                break
            wasted += self.bits_between(start_s, self.handovers[k])
            start_s = self.handovers[k]
            finish = super().finish_time(start_s, size_bits)
        return finish, wasted

    def finish_time(self, start_s: float, size_bits: float) -> float:
        return self._restarts(start_s, size_bits)[0]

    def resent_bits(self, start_s: float, size_bits: float) -> float:
        """Bits a transfer of ``size_bits`` from ``start_s`` sent and lost to handovers (0 when it resumes)."""
        return self._restarts(start_s, size_bits)[1] if self.restart else 0.0

    def handovers_between(self, start_s: float, end_s: float) -> int:
        """Handovers at instants in [start_s, end_s) (s); 0 for a transfer that never ends (``end_s`` inf)."""
        if not math.isfinite(end_s):
            return 0
        self._extend_to_time(end_s)
        return bisect_left(self.handovers, end_s) - bisect_left(self.handovers, start_s)

    def serving_at(self, at_s: float) -> int:
        """Index of the serving cell at ``at_s`` (-1 during a handover's interruption)."""
        self._extend_to_time(at_s)
        return self.serving[bisect_right(self._starts, at_s) - 1]

    def cell_at(self, at_s: float) -> int:
        """The cell serving the device at ``at_s``, or, during a handover's interruption, the one it is
        handing over to."""
        self._extend_to_time(at_s)
        k = bisect_right(self._starts, at_s) - 1
        while self.serving[k] < 0:
            k += 1
            self._extend_to_time(self._starts[k])
        return self.serving[k]

    def cell_before(self, at_s: float) -> int:
        """The cell that carried the data sent just before ``at_s`` (a transfer ending then), or, if the
        device was in an interruption, the one it was handing over to."""
        self._extend_to_time(at_s)
        k = max(bisect_left(self._starts, at_s) - 1, 0)
        return self.serving[k] if self.serving[k] >= 0 else self.cell_at(at_s)

    def distance_at(self, at_s: float) -> float:
        """Distance (m) to the serving cell at the start of the segment holding ``at_s``."""
        self._extend_to_time(at_s)
        return self.distances_m[bisect_right(self._starts, at_s) - 1]

    def _next(self) -> tuple[float, float]:
        now = self._starts[-1]
        x, y = self.trajectory.position(now)
        snrs = self._mean_snrs_db(x, y)
        best = snrs.index(max(snrs))  # the first of the strongest
        if self.serving_cell is None:
            self.serving_cell = best
        serving = self.serving_cell
        due = math.inf  # when a pending handover falls due
        if best != serving and snrs[best] > snrs[serving] + self.hysteresis_db:
            if self._candidate != best:
                self._candidate, self._candidate_since = best, self._entered(best, serving, now)
            due = self._candidate_since + self.time_to_trigger_s
            if now >= due - DUE_TOLERANCE_S:
                self.serving_cell, self._candidate, due = best, None, math.inf
                self.handovers.append(now)
                if self.interruption_s > 0:
                    self._snrs_db.append(-math.inf)
                    self.serving.append(-1)
                    self.distances_m.append(math.nan)
                    return self.interruption_s, 0.0
                serving = best
        else:
            self._candidate = None
        serving = self.serving_cell
        gain = self.draw_gain()
        snr_db = snrs[serving] + 10.0 * math.log10(max(gain, 1e-300))
        self._snrs_db.append(snr_db)
        self.serving.append(serving)
        self.distances_m.append(max(math.hypot(self.cells[serving, 0] - x, self.cells[serving, 1] - y),
                                    MIN_DISTANCE_M))
        # a block ends early where a pending handover falls due, so that it happens at its exact instant
        duration = due - now if due - now < self.coherence_s else self.coherence_s
        return duration, rate_from_snr(snr_db, self.bandwidth_hz, self.mapping, self.efficiency)

    def _entered(self, best: int, serving: int, now: float) -> float:
        """The instant (s), between the previous sample and ``now``, at which cell ``best`` became
        ``hysteresis_db`` stronger than ``serving`` (the A3 entry condition), found by bisection on the
        trajectory: the time-to-trigger counts from there, not from the sample that saw it."""
        low = self._starts[-2] if len(self._starts) > 1 else now
        high = now

        def entered(at: float) -> bool:
            snrs = self.mean_snrs_db(at)
            return snrs[best] > snrs[serving] + self.hysteresis_db

        if entered(low):
            return low
        for _ in range(ENTRY_BISECTIONS):
            middle = 0.5 * (low + high)
            if not low < middle < high:
                break
            if entered(middle):
                high = middle
            else:
                low = middle
        return high


@register_channel("cellular", CellularLinkConfig, per_device=True)
def _build(config: CellularLinkConfig, context) -> CellularChannel:
    if context.mobility is None:
        raise FieldValueError("kind", "a cellular link needs its device group's mobility block")
    return CellularChannel(trajectory=context.mobility, cells=[(c.x_m, c.y_m) for c in config.cells],
                           hysteresis_db=config.hysteresis_db, time_to_trigger_s=config.time_to_trigger_ms * MS,
                           interruption_s=config.interruption_ms * MS, restart=config.on_handover == "restart",
                           shadowing_db=0.0, rng=context.rng,
                           **config.radio_options)
