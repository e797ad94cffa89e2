"""Fitting a scenario's parameters to measurements by weighted least squares, with the simulator as the model.

Each evaluation writes the candidate values into in-memory copies of the profile, the payload table and
the group powers, runs the measured groups through :func:`simsplit.simulate` with the same seeds every
time (common random numbers: a deterministic scenario is its own closed form, a stochastic one keeps its
sample path), and compares each group's latency statistic and mean energy per request with the
measurement. Residuals are weighted by the measurements' standard deviations where given, else they are
relative errors. ``scipy.optimize.least_squares`` fits within the bounds; intervals come from the Jacobian
at the optimum; parameters the measurements cannot tell apart are named.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from simsplit.core.config import FieldValueError
from simsplit.core.errors import InputError
from simsplit.core.units import MJ, MS
from simsplit.engine.setup import build_setup
from simsplit.scenario import Scenario, load_scenario
from simsplit.scenario.payloads import PayloadTable
from simsplit.scenario.profiles import ModelProfile
from simsplit.studies.calibration.config import (
    CalibrationConfig,
    Measurement,
    load_config,
    load_measurements,
)
from simsplit.studies.calibration.parameters import Base, Candidate

ROUND_DECIMALS = 6
"""The published tables keep fitted ms and mJ to this many decimals (1 ns, 1 nJ)."""
NULL_TOLERANCE = 1e-7
"""A direction of the (column-normalised) Jacobian with a singular value below this fraction of the largest
is one the measurements cannot see."""


@dataclass
class Parameters:
    """The fitted vector's layout: one entry per parameter, from its block."""

    labels: list[str]
    units: list[str]
    block_of: list[int]
    initial: np.ndarray
    lower: np.ndarray
    upper: np.ndarray


@dataclass
class Fit:
    """A finished calibration: values with intervals, residuals, warnings, and the calibrated inputs."""

    config: CalibrationConfig
    config_path: Path
    base: Base
    parameters: Parameters
    values: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    at_bound: np.ndarray
    measurements: list[Measurement]
    fitted: np.ndarray
    """The calibrated model's value for each measurement (SI)."""
    weighted_residuals: np.ndarray
    dof: int
    warnings: list[str]
    candidate: Candidate
    profile: ModelProfile
    payloads: PayloadTable
    scenario: Scenario
    evaluations: int
    status: str

    @property
    def chi_square(self) -> float:
        return float(np.sum(self.weighted_residuals ** 2))


EVALUATIONS_PER_PARAMETER = 10
"""Model evaluations a fit takes per parameter, for the estimate (finite-difference Jacobians, a few
iterations; the shipped calibration took 8 per parameter)."""


class Problem:
    """The scenario, tables, measurements and parameter blocks of one configuration, and the model."""

    def __init__(self, config_path: str | Path):
        self.config_path = Path(config_path)
        self.config = load_config(self.config_path)
        folder = self.config_path.parent
        scenario = load_scenario(folder / self.config.scenario)
        setup = build_setup(scenario)
        self.base = Base(scenario, setup.profile, setup.payloads)
        group_names = [g.name for g in scenario.devices]
        self.measurements = load_measurements(folder / self.config.measurements, group_names)
        self._check_blocks()
        self.parameters = self._layout()
        measured = {m.group for m in self.measurements}
        update: dict[str, Any] = {"devices": [g for g in scenario.devices if g.name in measured]}
        if self.config.duration_s is not None:
            update["duration_s"] = self.config.duration_s
        self.evaluated = _copy(scenario, **update)
        self.seeds = self.config.seeds or [scenario.seed]
        self.evaluations = 0
        self.on_evaluation: Callable[[], None] | None = None
        """Called after each evaluation of the model (progress)."""
        self.observed = np.array([m.value for m in self.measurements])
        self.sigma = np.array([m.sd if m.sd is not None else m.value for m in self.measurements])

    def check_feasible(self, force: bool = False) -> None:
        """InputError, before the fit, if its simulations cannot finish on this machine: one run of the model per
        seed for about :data:`EVALUATIONS_PER_PARAMETER` times the parameters (each Jacobian costs one run per
        parameter, and a fit takes several), with the estimate."""
        from simsplit.engine.feasibility import check_feasible
        runs = len(self.seeds) * EVALUATIONS_PER_PARAMETER * (len(self.parameters.labels) + 1)
        try:
            check_feasible(build_setup(self.evaluated), runs=runs, force=force)
        except InputError as exc:
            raise InputError(self.config_path, None, f"the fit's simulations (about {runs:,}: its seeds times "
                             f"{EVALUATIONS_PER_PARAMETER} per parameter): {exc.detail}") from None

    def _check_blocks(self) -> None:
        seen: dict[tuple[str, str], int] = {}
        for index, block in enumerate(self.config.parameters):
            try:
                block.check(self.base)
            except FieldValueError as exc:
                raise InputError(self.config_path, f"parameters.{index}.{exc.field}", str(exc)) from None
            key = (block.kind, block.target())
            if key in seen:
                raise InputError(self.config_path, f"parameters.{index}",
                                 f"expected each {block.kind} target once, got {block.target()!r} again "
                                 f"(first in parameters.{seen[key]})")
            seen[key] = index

    def _layout(self) -> Parameters:
        labels, units, block_of, initial, lower, upper = [], [], [], [], [], []
        for index, block in enumerate(self.config.parameters):
            names = block.labels(self.base)
            low, high = block.bounds(self.base)
            start = np.clip(block.initial(self.base), low, np.nextafter(high, 0))
            labels += names
            units += [block.unit()] * len(names)
            block_of += [index] * len(names)
            initial.append(start)
            lower.append(low)
            upper.append(high)
        return Parameters(labels, units, block_of, np.concatenate(initial), np.concatenate(lower),
                          np.concatenate(upper))

    # ------------------------------------------------------------ the model
    def candidate(self, values: np.ndarray) -> Candidate:
        candidate = Candidate()
        block_of = np.array(self.parameters.block_of)
        for index, block in enumerate(self.config.parameters):
            block.apply(values[block_of == index], self.base, candidate)
        return candidate

    def tables(self, candidate: Candidate, scenario: Scenario) -> tuple[ModelProfile, PayloadTable, Scenario]:
        """The profile, payload table and scenario with the candidate's values (SI inside)."""
        profile = self.base.profile
        profile = dataclasses.replace(
            profile,
            head_s={**profile.head_s, **{c: v * MS for c, v in candidate.head_ms.items()}},
            head_j={**profile.head_j, **{c: v * MJ for c, v in candidate.head_mj.items()}},
            tail_s={**profile.tail_s, **{c: v * MS for c, v in candidate.tail_ms.items()}})
        entries = dict(self.base.payloads.entries)
        for key in set(candidate.encode_ms) | set(candidate.decode_ms):
            entry = entries[key]
            entries[key] = dataclasses.replace(
                entry, encode_s=candidate.encode_ms.get(key, entry.encode_s / MS) * MS,
                decode_s=candidate.decode_ms.get(key, entry.decode_s / MS) * MS)
        payloads = dataclasses.replace(self.base.payloads, entries=entries)
        if candidate.power_w:
            devices = [g.model_copy(update={"compute_power_w": candidate.power_w[g.name]})
                       if g.name in candidate.power_w else g for g in scenario.devices]
            scenario = _copy(scenario, devices=devices)
        return profile, payloads, scenario

    def predict(self, candidate: Candidate, scenario: Scenario, seeds: list[int]) -> dict[str, tuple[float, float]]:
        """Each group's (latency statistic s, mean energy per request J), averaged over ``seeds``."""
        from simsplit.output.summary import group_outcomes
        from simsplit.studies.simulation import run_columns
        profile, payloads, scenario = self.tables(candidate, scenario)
        setup = build_setup(scenario, tables=(profile, payloads))
        totals: dict[str, np.ndarray] = {}
        statistic = self.config.latency_statistic
        for seed in seeds:
            seeded = _copy(scenario, seed=seed)
            setup = dataclasses.replace(setup, scenario=seeded)
            outcomes = group_outcomes(setup, run_columns(setup, seed).__getitem__, statistic)
            for name, (latency, energy) in outcomes.items():
                if latency is None:
                    raise InputError(self.config_path, "duration_s",
                                     f"expected every measured group to complete requests, but {name!r} completed "
                                     f"none in {scenario.duration_s:g} s with seed {seed}; lengthen the run")
                values = np.array([latency, energy])
                totals[name] = totals.get(name, 0.0) + values
        self.evaluations += 1
        if self.on_evaluation is not None:
            self.on_evaluation()
        return {name: (float(v[0] / len(seeds)), float(v[1] / len(seeds))) for name, v in totals.items()}

    def model_values(self, candidate: Candidate) -> np.ndarray:
        predicted = self.predict(candidate, self.evaluated, self.seeds)
        return np.array([predicted[m.group][0 if m.quantity == "latency" else 1] for m in self.measurements])

    def residuals(self, values: np.ndarray) -> np.ndarray:
        return (self.model_values(self.candidate(values)) - self.observed) / self.sigma


def calibrate(config_path: str | Path) -> Fit:
    """Fit the configuration's parameters; raise InputError for bad input before any evaluation."""
    return fit(Problem(config_path))


def fit(problem: Problem) -> Fit:
    """Fit ``problem``'s parameters to its measurements."""
    from scipy.optimize import least_squares
    p = problem.parameters
    solution = least_squares(problem.residuals, p.initial, bounds=(p.lower, p.upper), method="trf",
                             x_scale="jac", diff_step=problem.config.diff_step, max_nfev=200 * (len(p.initial) + 1))
    values = solution.x
    candidate = _rounded(problem.candidate(values))
    fitted = problem.model_values(candidate)
    weighted = (fitted - problem.observed) / problem.sigma
    at_bound = (solution.active_mask != 0) | np.isclose(values, p.lower, rtol=0, atol=1e-6) \
        | np.isclose(values, p.upper, rtol=0, atol=1e-6)
    jacobian = _jacobian(problem, values, solution.fun)
    low, high, dof, warnings = _intervals(problem, jacobian, values, weighted, at_bound)
    profile, payloads, scenario = problem.tables(candidate, problem.base.scenario)
    return Fit(problem.config, problem.config_path, problem.base, p, values, low, high, at_bound,
               problem.measurements, fitted, weighted, dof, warnings, candidate, profile, payloads, scenario,
               problem.evaluations, solution.message)


def _jacobian(problem: Problem, values: np.ndarray, residuals: np.ndarray) -> np.ndarray:
    """Forward differences of the weighted residuals at ``values`` (backward where a step would leave the
    bounds), with the configured relative step."""
    p = problem.parameters
    columns = []
    for i, value in enumerate(values):
        step = problem.config.diff_step * max(1.0, abs(value))
        if value + step > p.upper[i]:
            step = -step
        moved = values.copy()
        moved[i] = value + step
        columns.append((problem.residuals(moved) - residuals) / (moved[i] - value))
    return np.column_stack(columns)


def _intervals(problem: Problem, jac: np.ndarray, values: np.ndarray, weighted: np.ndarray, at_bound: np.ndarray):
    """95% intervals from the Jacobian of the weighted residuals at the optimum; warnings for what the data
    cannot identify. Without standard deviations the residual variance scales the covariance."""
    from scipy.stats import norm, t
    labels = problem.parameters.labels
    n, p = jac.shape
    free = np.flatnonzero(~at_bound)
    warnings = [f"{labels[i]} stopped at its bound ({values[i]:.6g} {problem.parameters.units[i]}): the data push "
                "it beyond; its interval is not given" for i in np.flatnonzero(at_bound)]
    low, high = np.full(p, np.nan), np.full(p, np.nan)
    dof = n - free.size
    unseen, unseen_warnings = _unidentified(jac, free, labels)
    warnings += unseen_warnings
    if dof <= 0:
        warnings.append(f"{free.size} free parameters for {n} measurements: no intervals (fix some parameters "
                        "or add measurements)")
        return low, high, dof, warnings
    known_sd = problem.measurements[0].sd is not None
    scale = 1.0 if known_sd else float(np.sum(weighted ** 2)) / dof
    quantile = float(norm.ppf(0.975)) if known_sd else float(t.ppf(0.975, dof))
    identified = np.array([i for i in free if i not in unseen], dtype=int)
    if identified.size:
        J = jac[:, identified]
        covariance = scale * np.linalg.pinv(J.T @ J)
        half = quantile * np.sqrt(np.clip(np.diag(covariance), 0.0, None))
        bounds = problem.parameters
        low[identified] = np.maximum(values[identified] - half, bounds.lower[identified])
        high[identified] = np.minimum(values[identified] + half, bounds.upper[identified])
    if known_sd:
        warnings += _misfit(weighted, dof)
    return low, high, dof, warnings


def _unidentified(jac: np.ndarray, free: np.ndarray, labels: list[str]) -> tuple[set[int], list[str]]:
    """(the free parameters the measurements cannot determine, a warning for each reason): no measurement
    depends on it, or only a combination of it with others is determined (a null direction of the
    column-normalised Jacobian)."""
    unseen: set[int] = set()
    warnings: list[str] = []
    if not free.size:
        return unseen, warnings
    J = jac[:, free]
    norms = np.linalg.norm(J, axis=0)
    for k in np.flatnonzero(norms == 0):
        warnings.append(f"no measurement depends on {labels[free[k]]}: it cannot be fitted from these data")
        unseen.add(int(free[k]))
    seen = np.flatnonzero(norms > 0)
    if seen.size:
        _, singular, vt = np.linalg.svd(J[:, seen] / norms[seen], full_matrices=True)
        null = [vt[i] for i in range(vt.shape[0])
                if i >= singular.size or singular[i] < NULL_TOLERANCE * singular[0]]
        for direction in null:
            involved = [int(free[seen[k]])
                        for k in np.flatnonzero(np.abs(direction) > 0.1 * np.abs(direction).max())]
            unseen.update(involved)
            warnings.append("the measurements cannot tell apart " + ", ".join(labels[i] for i in involved)
                            + ": only a combination of them is determined; fix all but one")
    return unseen, warnings


def _misfit(weighted: np.ndarray, dof: int) -> list[str]:
    """A warning when the chi-square of the residuals weighted by known standard deviations says the model
    does not fit (p < 0.01)."""
    from scipy.stats import chi2
    chi_square = float(np.sum(weighted ** 2))
    if chi2.sf(chi_square, dof) < 0.01:
        return [f"chi-square {chi_square:.4g} on {dof} degrees of freedom (p < 0.01): the model does not "
                "fit the measurements within their spread; see the largest residuals"]
    return []


def _rounded(candidate: Candidate) -> Candidate:
    """The candidate with its tables' values rounded as they are written (so the files reproduce the fit)."""
    def curve(values: dict) -> dict:
        return {k: np.round(v, ROUND_DECIMALS) for k, v in values.items()}

    def scalar(values: dict) -> dict:
        return {k: round(v, ROUND_DECIMALS) for k, v in values.items()}
    return Candidate(curve(candidate.head_ms), curve(candidate.head_mj), curve(candidate.tail_ms),
                     scalar(candidate.encode_ms), scalar(candidate.decode_ms), scalar(candidate.power_w))


def _copy(scenario: Scenario, **update) -> Scenario:
    copy = scenario.model_copy(update=update)
    copy._source = scenario.source
    return copy


def relative_errors(fit: Fit) -> np.ndarray:
    """(fitted - measured) / measured for each measurement."""
    observed = np.array([m.value for m in fit.measurements])
    return (fit.fitted - observed) / observed
