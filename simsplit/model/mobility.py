"""Where each device is over time: static, random waypoint, a route at a speed profile, or a replayed
position trace. A device's path is piecewise linear (legs of constant velocity) and drawn lazily from the
device's own stream (``devices/<group>/<i>/mobility``) as far as a query reaches.

Positions are in metres on a plane (x, y). A cellular link (:mod:`simsplit.model.channel.cellular`) reads a
device's distance to each cell from its trajectory.
"""

from __future__ import annotations

import csv
import itertools
import math
import os
from bisect import bisect_right
from collections.abc import Callable
from typing import ClassVar, Literal

import numpy as np
from pydantic import Field, NonNegativeFloat, PositiveFloat, model_validator

from simsplit.core.config import Config, FieldValueError
from simsplit.core.registry import Registry

MAX_LEGS_PER_QUERY = 10_000_000


class Trajectory:
    """A piecewise-linear path: leg k starts at ``times[k]`` at ``points[k]`` and moves at ``velocities[k]``
    (m/s) until ``times[k + 1]``. ``next_leg() -> (duration s, end x m, end y m)`` draws the next leg from
    the current end (a duration of ``inf`` ends the path there: the device stays)."""

    def __init__(self, start: tuple[float, float],
                 next_leg: Callable[[tuple[float, float]], tuple[float, float, float]]):
        self._next_leg = next_leg
        self.times = [0.0]
        self.points = [(float(start[0]), float(start[1]))]
        self.velocities: list[tuple[float, float]] = []

    def _extend(self, at_s: float) -> None:
        drawn = 0
        while self.times[-1] <= at_s:
            duration, x, y = self._next_leg(self.points[-1])
            x0, y0 = self.points[-1]
            if duration == math.inf:
                self.velocities.append((0.0, 0.0))
                self.times.append(math.inf)
                self.points.append((x0, y0))
                return
            self.velocities.append(((x - x0) / duration, (y - y0) / duration) if duration > 0 else (0.0, 0.0))
            self.times.append(self.times[-1] + duration)
            self.points.append((float(x), float(y)))
            drawn += 1
            if drawn > MAX_LEGS_PER_QUERY:
                raise ValueError("a trajectory needed more than 10 million legs for one query")

    def position(self, at_s: float) -> tuple[float, float]:
        """(x, y) in metres at ``at_s`` (s)."""
        self._extend(at_s)
        k = bisect_right(self.times, at_s) - 1
        (x, y), (vx, vy) = self.points[k], self.velocities[k]
        dt = at_s - self.times[k]
        return x + vx * dt, y + vy * dt

    def speed(self, at_s: float) -> float:
        """Speed (m/s) at ``at_s``."""
        self._extend(at_s)
        vx, vy = self.velocities[bisect_right(self.times, at_s) - 1]
        return math.hypot(vx, vy)


class MobilityConfig(Config):
    """The base of a mobility block: ``trajectory(rng, index)`` builds device ``index``'s path."""

    def trajectory(self, rng: np.random.Generator, index: int) -> Trajectory:
        raise NotImplementedError


mobility = Registry("mobility", base=MobilityConfig)
"""The movement models (:func:`register_mobility`)."""


def register_mobility(kind: str, config: type[Config], build: Callable | None = None):
    """A device's movement. ``build(config, rng, index) -> Trajectory`` (:class:`Trajectory`) for device
    ``index`` of its group, drawing from the device's own stream ``rng``. The block subclasses
    :class:`MobilityConfig`."""
    return mobility.register(kind, config, build)


class StaticConfig(MobilityConfig):
    """The device stays at (x_m, y_m)."""

    kind: Literal["static"]
    x_m: float = 0.0
    y_m: float = 0.0

    def trajectory(self, rng, index):
        return Trajectory((self.x_m, self.y_m), lambda p: (math.inf, *p))


class RandomWaypointConfig(MobilityConfig):
    """Random waypoint in the rectangle [0, width_m] x [0, height_m]: from a uniform start, go to a uniform
    destination at a speed uniform in speed_mps [low, high], pause uniform in pause_s [low, high], repeat."""

    kind: Literal["random_waypoint"]
    width_m: PositiveFloat
    height_m: PositiveFloat
    speed_mps: list[PositiveFloat] = Field(min_length=2, max_length=2)
    pause_s: list[NonNegativeFloat] = Field(default=[0.0, 0.0], min_length=2, max_length=2)

    @model_validator(mode="after")
    def _ranges(self):
        for name in ("speed_mps", "pause_s"):
            low, high = getattr(self, name)
            if low > high:
                raise FieldValueError(name, f"expected [low, high] with low <= high, got {[low, high]}")
        return self

    def trajectory(self, rng, index):
        pausing = [False]

        def next_leg(point):
            if pausing[0]:
                pausing[0] = False
                pause = rng.uniform(*self.pause_s)
                if pause > 0:
                    return pause, *point
            pausing[0] = True
            x, y = rng.uniform(0.0, self.width_m), rng.uniform(0.0, self.height_m)
            speed = rng.uniform(*self.speed_mps)
            return math.hypot(x - point[0], y - point[1]) / speed, x, y
        return Trajectory((rng.uniform(0.0, self.width_m), rng.uniform(0.0, self.height_m)), next_leg)


class RouteConfig(MobilityConfig):
    """Along the polyline waypoints_m [[x, y], ...] at speed_mps (one speed, or one per segment), every
    device starting start_gap_s after the previous one; at the end: stop, loop back to the start, or
    reverse."""

    kind: Literal["route"]
    waypoints_m: list[list[float]] = Field(min_length=2)
    speed_mps: list[PositiveFloat] = Field(min_length=1)
    end: Literal["stop", "loop", "reverse"] = "stop"
    start_gap_s: NonNegativeFloat = 0.0

    @model_validator(mode="after")
    def _shape(self):
        if any(len(point) != 2 for point in self.waypoints_m):
            raise FieldValueError("waypoints_m", "expected points [x, y]")
        if len(self.speed_mps) not in (1, len(self.waypoints_m) - 1):
            raise FieldValueError("speed_mps", f"expected one speed or {len(self.waypoints_m) - 1} (one per "
                                  f"segment), got {len(self.speed_mps)}")
        if self.end != "stop" and self.lap_s() == 0.0:
            raise FieldValueError("waypoints_m", f"expected a route of some length to {self.end} along, got one "
                                  "whose waypoints all coincide")
        return self

    def lap_s(self) -> float:
        """Time (s) one pass along the route takes (the way back to the start too, for ``loop``)."""
        points = [tuple(p) for p in self.waypoints_m]
        speeds = self.speed_mps * (len(points) - 1) if len(self.speed_mps) == 1 else list(self.speed_mps)
        lap = math.fsum(math.dist(a, b) / v for a, b, v in zip(points, points[1:], speeds, strict=False))
        return lap + (math.dist(points[-1], points[0]) / speeds[-1] if self.end == "loop" else 0.0)

    def legs_within(self, duration_s: float) -> float:
        """Legs a device drives in ``duration_s`` (an upper estimate; a route that stops has at most its own)."""
        segments = len(self.waypoints_m) - 1 + (self.end == "loop")
        if self.end == "stop":
            return segments + 1
        return (duration_s / self.lap_s() + 1) * segments

    def trajectory(self, rng, index):
        points = [tuple(p) for p in self.waypoints_m]
        speeds = self.speed_mps * (len(points) - 1) if len(self.speed_mps) == 1 else list(self.speed_mps)
        state = {"segment": -1 if self.start_gap_s * index > 0 else 0, "forward": True}

        def next_leg(point):
            k = state["segment"]
            if k < 0:  # waiting at the start for its turn
                state["segment"] = 0
                return self.start_gap_s * index, *point
            if k >= len(points) - 1:
                if self.end == "stop":
                    return math.inf, *point
                if self.end == "loop":
                    state["segment"] = 0
                    return math.hypot(points[0][0] - point[0], points[0][1] - point[1]) / speeds[-1], *points[0]
                points.reverse()
                speeds.reverse()
                state["segment"] = k = 0
            target = points[k + 1]
            state["segment"] = k + 1
            return math.hypot(target[0] - point[0], target[1] - point[1]) / speeds[k], *target
        return Trajectory(points[0], next_leg)


class TraceMobilityConfig(MobilityConfig):
    """Positions replayed from a CSV file with columns time_s, device, x_m, y_m (device: the index within
    the group; e.g. exported from SUMO), linear between samples, held before the first and after the last."""

    input_files: ClassVar[tuple[str, ...]] = ("file",)
    kind: Literal["trace"]
    file: str

    def trajectory(self, rng, index):
        samples = read_positions(self.file).get(index)
        if samples is None:
            raise FieldValueError("file", f"{self.file} has no positions for device {index}")
        times, xs, ys = samples
        legs = iter(range(1, len(times)))

        def next_leg(point):
            k = next(legs, None)
            if k is None:
                return math.inf, *point
            return times[k] - times[k - 1], xs[k], ys[k]
        return Trajectory((xs[0], ys[0]), next_leg)


Positions = tuple[list[float], list[float], list[float]]
"""One device's position trace: times (s), x (m), y (m)."""
_POSITIONS: dict[str, dict[int, Positions]] = {}


def read_positions(path: str) -> dict[int, Positions]:
    """Per device index: (times s, x m, y m) of a position trace, times strictly increasing from >= 0."""
    stat = os.stat(path)
    key = f"{path}:{stat.st_mtime_ns}:{stat.st_size}"
    if key in _POSITIONS:
        return _POSITIONS[key]
    out = {device: _device_positions(path, device, samples) for device, samples in _read_samples(path).items()}
    _POSITIONS[key] = out
    return out


def _read_samples(path: str) -> dict[int, list[tuple[float, float, float]]]:
    """The trace's (time s, x m, y m) samples per device index, in file order."""
    rows: dict[int, list[tuple[float, float, float]]] = {}
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(line for line in handle if not line.startswith("#"))
        missing = {"time_s", "device", "x_m", "y_m"} - set(reader.fieldnames or ())
        if missing:
            raise FieldValueError("file", f"{path}: expected columns time_s, device, x_m, y_m; missing "
                                  f"{sorted(missing)}")
        for line, row in enumerate(reader, start=2):
            device, sample = _position_row(path, line, row)
            rows.setdefault(device, []).append(sample)
    return rows


def _position_row(path: str, line: int, row: dict) -> tuple[int, tuple[float, float, float]]:
    """One row's device index and (time s, x m, y m): finite numbers, time and device >= 0."""
    try:
        t, device, x, y = float(row["time_s"]), int(row["device"]), float(row["x_m"]), float(row["y_m"])
    except (TypeError, ValueError):
        raise FieldValueError("file", f"{path}: line {line}: expected numbers, got {dict(row)}") from None
    if not all(math.isfinite(v) for v in (t, x, y)) or t < 0 or device < 0:
        raise FieldValueError("file", f"{path}: line {line}: expected finite numbers, time_s >= 0 and "
                              f"device >= 0, got {dict(row)}")
    return device, (t, x, y)


def _device_positions(path: str, device: int, samples: list[tuple[float, float, float]]) -> Positions:
    """One device's samples as columns, held at the first position from time 0 when they start later."""
    times = [t for t, _, _ in samples]
    if any(b <= a for a, b in itertools.pairwise(times)):
        raise FieldValueError("file", f"{path}: device {device}: expected strictly increasing time_s")
    if times[0] > 0:
        samples = [(0.0, samples[0][1], samples[0][2])] + samples
    ts, xs, ys = zip(*samples, strict=True)
    return list(ts), list(xs), list(ys)


register_mobility("static", StaticConfig, lambda config, rng, index: config.trajectory(rng, index))
register_mobility("random_waypoint", RandomWaypointConfig, lambda config, rng, index: config.trajectory(rng, index))
register_mobility("route", RouteConfig, lambda config, rng, index: config.trajectory(rng, index))
register_mobility("trace", TraceMobilityConfig, lambda config, rng, index: config.trajectory(rng, index))
