"""What a calibration writes: the calibrated profile, payload table and scenario (runnable as they are), the
fitted values with their intervals, every measurement's residual, and each group's prediction.

The tables are the scenario's own files with the fitted columns rewritten (comments, other columns and rows
kept), so a calibrated scenario differs from its base only where the fit says so. Published copies beside
the scenarios carry a first line that marks them as written by ``simsplit calibrate``; any other file at a
publish path is never replaced.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import tempfile
from pathlib import Path

import pandas as pd
import yaml

from simsplit.core.errors import InputError
from simsplit.output.summary import json_safe
from simsplit.scenario.files import with_files
from simsplit.scenario.profiles import HEAD_ENERGY_PREFIX, HEAD_PREFIX, TAIL_PREFIX
from simsplit.studies.calibration.fit import Fit, Problem, relative_errors

MARK = "# Written by simsplit calibrate"
"""First line of every file ``simsplit calibrate`` publishes; only such files are replaced."""


def check_publish(problem: Problem) -> dict[str, Path]:
    """The publish paths (absolute); InputError, before any work, for one simsplit must not replace."""
    publish = problem.config.publish
    if publish is None:
        return {}
    folder = problem.config_path.parent
    paths = {role: (folder / getattr(publish, role)).resolve() for role in ("scenario", "profile", "payloads")}
    if len(set(paths.values())) < 3:
        raise InputError(problem.config_path, "publish", "expected three different files")
    inputs = {Path(problem.base.profile.source).resolve(), Path(problem.base.payloads.source).resolve(),
              Path(problem.base.scenario.source).resolve()}
    for role, path in paths.items():
        if path in inputs:
            raise InputError(problem.config_path, f"publish.{role}", f"expected a new file, got the input {path}")
        if path.exists() and (not path.is_file() or not path.read_text(errors="replace").startswith(MARK)):
            raise InputError(problem.config_path, f"publish.{role}",
                             f"refusing to replace {path}: simsplit calibrate did not write it (its first line is "
                             f"not {MARK!r}); remove it or choose another path")
        if not path.parent.is_dir():
            raise InputError(problem.config_path, f"publish.{role}", f"expected an existing folder, got {path.parent}")
        if not os.access(path.parent, os.W_OK | os.X_OK):
            raise InputError(problem.config_path, f"publish.{role}",
                             f"expected a folder simsplit may write, got {path.parent} (not writable)")
    return paths


def provenance_lines(fit: Fit) -> list[str]:
    from simsplit.core.version import __version__
    config = fit.config_path
    weights = "standard deviations given" if fit.measurements[0].sd is not None else "relative errors"
    return [(MARK + f" {__version__} from {config.name} (fitted to {Path(fit.config.measurements).name}); "
             "rerun it instead of editing this file."),
            (f"# {len(fit.measurements)} measurements, {len(fit.values)} parameters, chi-square "
             f"{fit.chi_square:.4g} on {fit.dof} degrees of freedom ({weights}).")]


def _number(value: float) -> str:
    return repr(float(value))


def _rewrite_csv(path: Path, header_lines: list[str], edit) -> str:
    """The CSV at ``path`` with ``header_lines`` first, its comments kept, and ``edit(header, rows)`` applied
    to its table (cells as strings)."""
    text = Path(path).read_text()
    comments = [line for line in text.splitlines() if line.lstrip().startswith("#")
                and not line.startswith(MARK)]
    table = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    rows = list(csv.reader(table))
    header, body = [c.strip() for c in rows[0]], [[c.strip() for c in row] for row in rows[1:]]
    header, body = edit(header, body)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(body)
    return "\n".join(header_lines + comments) + "\n" + out.getvalue()


def _set_column(header: list[str], body: list[list[str]], name: str, values, after: str | None = None) -> None:
    """Write ``values`` (one per row; None keeps the row's cell) into column ``name``, added (empty, after
    ``after`` or last) if the table lacks it."""
    if name not in header:
        at = header.index(after) + 1 if after in header else len(header)
        header.insert(at, name)
        for row in body:
            row.insert(at, "")
    column = header.index(name)
    for row, value in zip(body, values, strict=True):
        if value is not None:
            row[column] = _number(value)


def profile_text(fit: Fit) -> str:
    candidate = fit.candidate

    def edit(header, body):
        for device_class, values in candidate.head_ms.items():
            _set_column(header, body, HEAD_PREFIX + device_class, values)
        for device_class, values in candidate.head_mj.items():
            _set_column(header, body, HEAD_ENERGY_PREFIX + device_class, values, after=HEAD_PREFIX + device_class)
        for server_class, values in candidate.tail_ms.items():
            _set_column(header, body, TAIL_PREFIX + server_class, values)
        return header, body
    return _rewrite_csv(Path(fit.base.profile.source), provenance_lines(fit), edit)


def payloads_text(fit: Fit) -> str:
    candidate = fit.candidate

    def edit(header, body):
        keys = [(int(row[header.index("split")]), row[header.index("bottleneck")]) for row in body]
        for column, fitted in (("encode_ms", candidate.encode_ms), ("decode_ms", candidate.decode_ms)):
            if fitted:  # rows not fitted keep their cells (an empty cell reads as 0)
                _set_column(header, body, column, [fitted.get(key) for key in keys])
        return header, body
    return _rewrite_csv(Path(fit.base.payloads.source), provenance_lines(fit), edit)


def scenario_text(fit: Fit, folder: Path, name: str, profile: Path, payloads: Path) -> str:
    """The calibrated scenario as YAML, to live in ``folder``: every file path relative to it, the model
    tables replaced by ``profile`` and ``payloads``, fitted group powers filled in."""
    def relative(role: str, path: str) -> str:
        target = {"model.profile": profile, "model.payloads": payloads}.get(role, Path(path))
        return os.path.relpath(target, folder)
    data = with_files(fit.scenario, relative).model_dump(mode="json", exclude_unset=True)
    data["name"] = name
    lines = provenance_lines(fit) + [(f"# Base scenario: {os.path.relpath(fit.base.scenario.source, folder)}; "
                                      "fitted values and intervals: the calibration's result folder.")]
    for key, value in data.items():
        if key == "devices":
            lines.append("devices:")
            lines += ["  - " + yaml.safe_dump(group, default_flow_style=True, sort_keys=False, width=10_000).strip()
                      for group in value]
        else:
            flow = None if isinstance(value, (dict, list)) else False
            lines.append(yaml.safe_dump({key: value}, sort_keys=False, default_flow_style=flow, width=100).rstrip())
    return "\n".join(lines) + "\n"


def parameters_frame(fit: Fit) -> pd.DataFrame:
    p = fit.parameters
    return pd.DataFrame({
        "parameter": p.labels, "unit": p.units, "initial": p.initial, "fitted": fit.values,
        "ci95_low": fit.ci_low, "ci95_high": fit.ci_high, "lower_bound": p.lower, "upper_bound": p.upper,
        "at_bound": fit.at_bound})


def residuals_frame(fit: Fit) -> pd.DataFrame:
    unit = {"latency": "ms", "energy": "mJ"}  # both quantities are written x 1e3 (s -> ms, J -> mJ)
    rows = []
    for m, fitted, relative, weighted in zip(fit.measurements, fit.fitted, relative_errors(fit),
                                             fit.weighted_residuals, strict=True):
        rows.append({"group": m.group, "quantity": m.quantity, "unit": unit[m.quantity], "measured": m.value * 1e3,
                     "sd": _scaled(m.sd), "fitted": fitted * 1e3, "residual": (fitted - m.value) * 1e3,
                     "relative_error": relative, "weighted_residual": weighted})
    return pd.DataFrame(rows)


def predictions_frame(fit: Fit, problem: Problem) -> pd.DataFrame:
    """Every group of the calibrated scenario, measured or not: its latency statistic (ms) and mean energy per
    request (mJ), from one run of the whole calibrated scenario at its own seed and length."""
    predicted = problem.predict(fit.candidate, fit.base.scenario, [fit.base.scenario.seed])
    measured = {(m.group, m.quantity): m.value for m in fit.measurements}
    rows = []
    for group in fit.base.scenario.devices:
        latency, energy = predicted[group.name]
        rows.append({"group": group.name, f"latency_{fit.config.latency_statistic}_ms": latency * 1e3,
                     "energy_mj": energy * 1e3,
                     "measured_latency_ms": _scaled(measured.get((group.name, "latency"))),
                     "measured_energy_mj": _scaled(measured.get((group.name, "energy")))})
    return pd.DataFrame(rows)


def _scaled(value: float | None) -> float | None:
    return None if value is None else value * 1e3


def write_outputs(fit: Fit, problem: Problem, folder: Path, final: Path) -> dict:
    """Write the result folder's files into ``folder`` (which will be moved to ``final``)."""
    (folder / "profile.csv").write_text(profile_text(fit))
    (folder / "payloads.csv").write_text(payloads_text(fit))
    name = f"{fit.base.scenario.name}-calibrated"
    (folder / "scenario.yaml").write_text(scenario_text(fit, final, name, final / "profile.csv",
                                                        final / "payloads.csv"))
    parameters_frame(fit).to_csv(folder / "parameters.csv", index=False)
    residuals_frame(fit).to_csv(folder / "residuals.csv", index=False)
    predictions = predictions_frame(fit, problem)
    predictions.to_csv(folder / "predictions.csv", index=False)
    (folder / "calibration.yaml").write_text(fit.config_path.read_text())
    report = summary(fit)
    (folder / "calibration.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def publish(fit: Fit, paths: dict[str, Path]) -> None:
    """Write the calibrated scenario and tables to the publish paths, all or nothing: each is written beside its
    path first; only when all three are written do they replace what was there, the scenario last (it names the
    other two), and a failure puts back every file already replaced. InputError names the file that failed."""
    if not paths:
        return
    name = paths["scenario"].stem
    texts = {"profile": profile_text(fit), "payloads": payloads_text(fit),
             "scenario": scenario_text(fit, paths["scenario"].parent, name, paths["profile"], paths["payloads"])}
    staged: dict[str, Path] = {}
    replaced: list[tuple[Path, Path | None]] = []  # (published path, the previous file kept aside, or None)
    try:
        for role in ("profile", "payloads", "scenario"):
            staged[role] = _staged(paths[role], texts[role])
        for role in ("profile", "payloads", "scenario"):
            path = paths[role]
            previous = None
            if path.exists():
                previous = path.with_name(f".{path.name}.previous-{os.getpid()}")
                os.replace(path, previous)
            replaced.append((path, previous))
            os.replace(staged[role], path)
            del staged[role]
    except OSError as exc:
        for path, previous in reversed(replaced):
            with contextlib.suppress(OSError):
                if previous is not None:
                    os.replace(previous, path)
                else:
                    path.unlink(missing_ok=True)
        raise InputError(exc.filename or paths["scenario"], None,
                         f"could not publish the calibration ({exc.strerror or exc}); nothing was published") from None
    finally:
        for temporary in staged.values():
            temporary.unlink(missing_ok=True)
    for _, previous in replaced:
        if previous is not None:
            previous.unlink(missing_ok=True)


def _staged(path: Path, text: str) -> Path:
    """``text`` written to a new hidden file beside ``path`` (readable by all, as a published file is)."""
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chmod(temporary, 0o644)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return Path(temporary)


def summary(fit: Fit) -> dict:
    """The calibration as JSON-ready data."""
    return {
        "config": str(fit.config_path), "scenario": fit.base.scenario.source, "status": fit.status,
        "evaluations": fit.evaluations, "chi_square": fit.chi_square, "dof": fit.dof,
        "weights": "standard deviations" if fit.measurements[0].sd is not None else "relative errors",
        "warnings": fit.warnings,
        "parameters": json_safe(parameters_frame(fit).to_dict("records")),
        "residuals": json_safe(residuals_frame(fit).to_dict("records")),
    }
