"""A calibration's configuration file and its table of measurements.

The configuration (YAML) names a scenario, a measurement table, the parameters to fit and where to
publish the calibrated files; paths are relative to the configuration file. The measurement table (CSV)
has one row per device group of the scenario: its measured latency and/or device energy per request,
optionally with their standard deviations. See ``docs/calibration.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, NonNegativeInt, PositiveFloat, ValidationError

from simsplit.core.config import Config
from simsplit.core.csvtable import Row, number, read_table
from simsplit.core.errors import InputError
from simsplit.core.units import MJ, MS
from simsplit.scenario.loader import read_yaml
from simsplit.scenario.messages import input_error
from simsplit.studies.calibration.parameters import Parameter


class PublishConfig(Config):
    """Where to write the calibrated scenario and tables besides the result folder (relative to the
    configuration file). An existing file is replaced only if simsplit calibrate wrote it."""

    scenario: str
    profile: str
    payloads: str


class CalibrationConfig(Config):
    """What to fit to what: ``simsplit calibrate CONFIG``."""

    scenario: str
    """The scenario whose device groups the measurements correspond to."""
    measurements: str
    """CSV: group, latency_ms and/or energy_mj, optionally latency_sd_ms and energy_sd_mj."""
    parameters: list[Parameter] = Field(min_length=1)
    latency_statistic: Literal["mean", "p50", "p95", "p99"] = "mean"
    """Which statistic of a group's latency the measurements report (energy is always the mean)."""
    seeds: list[NonNegativeInt] | None = Field(default=None, min_length=1)
    """Seeds to average each evaluation over, the same at every evaluation (common random numbers);
    default: the scenario's seed."""
    duration_s: PositiveFloat | None = None
    """Simulated time of each evaluation (default: the scenario's)."""
    diff_step: PositiveFloat = Field(default=1e-6, le=0.1)
    """Relative step of the finite-difference Jacobian (larger for stochastic runs)."""
    publish: PublishConfig | None = None


@dataclass(frozen=True)
class Measurement:
    """One measured quantity of one device group, in SI (s or J)."""

    group: str
    quantity: str
    """``latency`` or ``energy``."""
    value: float
    sd: float | None
    line: int


def load_config(path: str | Path) -> CalibrationConfig:
    """Read and validate the configuration file; raise InputError naming the file and field."""
    path = Path(path)
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise InputError(path, None, f"expected a mapping of calibration fields, got {type(data).__name__}")
    try:
        return CalibrationConfig.model_validate(data)
    except ValidationError as exc:
        raise input_error(exc, CalibrationConfig, data, str(path)) from None


def load_measurements(path: str | Path, groups: list[str]) -> list[Measurement]:
    """The measurements of ``path``, each naming one of ``groups``; raise InputError naming line and column."""
    path = Path(path)
    header, rows = read_table(path, required=["group"],
                              optional=["latency_ms", "energy_mj", "latency_sd_ms", "energy_sd_mj", "note"])
    if "latency_ms" not in header and "energy_mj" not in header:
        raise InputError(path, "header", f"expected a latency_ms or an energy_mj column, got {header}")
    seen: dict[str, int] = {}
    measurements: list[Measurement] = []
    for row in rows:
        group = row.cells["group"]
        if group not in groups:
            raise InputError(path, f"line {row.line}, column group",
                             f"expected a device group of the scenario, got {group!r} (groups: {', '.join(groups)})")
        if group in seen:
            raise InputError(path, f"line {row.line}, column group",
                             f"expected one row per group, got {group!r} again (first on line {seen[group]})")
        seen[group] = row.line
        measurements += _row_measurements(path, row, group)
    sds = {m.sd is None for m in measurements}
    if len(sds) > 1:
        first = next(m for m in measurements if m.sd is None)
        raise InputError(path, f"line {first.line}", "expected a standard deviation for every value or for none "
                         "(the fit weights by them)")
    return measurements


MIN_RELATIVE_SD = 1e-9
"""The smallest standard deviation of a measurement, relative to its value."""


def _row_measurements(path: Path, row: Row, group: str) -> list[Measurement]:
    """The latency and/or energy measured on one row of the table (SI); raise InputError naming the column."""
    found = []
    for quantity, unit, scale in (("latency", "ms", MS), ("energy", "mj", MJ)):
        column = f"{quantity}_{unit}"
        if row.cells.get(column, "") == "":
            if row.cells.get(f"{quantity}_sd_{unit}", ""):
                raise InputError(path, f"line {row.line}, column {quantity}_sd_{unit}",
                                 f"expected it empty when {column} is empty")
            continue
        value = number(path, row, column, minimum=0)
        if value == 0:
            raise InputError(path, f"line {row.line}, column {column}", "expected a number > 0, got 0")
        sd = number(path, row, f"{quantity}_sd_{unit}", minimum=0, default=math.nan)
        if sd == 0:
            raise InputError(path, f"line {row.line}, column {quantity}_sd_{unit}", "expected a number > 0, got 0")
        if sd < value * MIN_RELATIVE_SD:  # its weight 1/sd^2 would overflow the fit
            raise InputError(path, f"line {row.line}, column {quantity}_sd_{unit}", f"expected a standard deviation "
                             f"of at least {MIN_RELATIVE_SD:g} of the value ({value:g}), got {sd:g}")
        found.append(Measurement(group, quantity, value * scale, None if math.isnan(sd) else sd * scale, row.line))
    if not found:
        raise InputError(path, f"line {row.line}", "expected a latency_ms or an energy_mj value, got neither")
    return found
