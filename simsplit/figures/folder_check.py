"""A result folder read before it is drawn: each file the figures and the report read is parsed and checked for
what they need (a JSON object with its keys, a table with its columns), so that a truncated, empty, junk or
wrong-typed file is one line naming it, not a traceback from deep inside a figure.
"""

from __future__ import annotations

import json
from pathlib import Path

from simsplit.core.errors import InputError

NEEDS: dict[str, list[tuple[str, tuple[str, ...], bool]]] = {
    "run": [("summary.json", ("scenario", "warmup_s", "groups", "latency_s", "energy_j", "latency_parts_s"), True),
            ("requests.parquet", ("arrival_at_s", "latency_s", "status", "group"), False),
            ("timeseries.parquet", (), False)],
    "compare": [("compare.csv", ("strategy", "latency_mean_s", "energy_j"), True),
                ("compare.json", ("scenario", "seeds"), False),
                ("latency-quantiles.csv", ("strategy", "level", "latency_s"), False)],
    "sweep": [("sweep.json", ("name", "factors"), True), ("table.parquet", (), True)],
    "sites": [("summary.json", ("scenario", "warmup_s", "groups", "latency_s", "energy_j", "latency_parts_s", "sites"),
               True), ("sites.csv", ("site", "latency_mean_s", "latency_p95_s", "completed"), True)],
}
"""Per folder kind: (file, the keys or columns it must hold, whether it must be there)."""
MAX_JSON_BYTES = 64 * 2**20
"""A JSON file larger than this is not one simsplit wrote."""


def check_folder(folder: Path, kind: str) -> None:
    """InputError naming the first file of ``folder`` (a result folder of ``kind``) that cannot be read or lacks
    what the figures read."""
    for name, needed, required in NEEDS.get(kind, []):
        path = folder / name
        if not path.exists() and not required:
            continue
        if not path.is_file():
            raise InputError(path, None, f"expected the {kind} folder's {name}, got "
                             f"{'nothing' if not path.exists() else 'something that is not a file'}")
        found = _read_json(path) if name.endswith(".json") else _read_columns(path)
        missing = [key for key in needed if key not in found]
        if missing:
            raise InputError(path, None, f"expected {', '.join(map(repr, missing))} in it (a damaged file, or "
                             "one from another program)")


def _read_json(path: Path) -> list[str]:
    """The keys of the JSON object in ``path``; InputError if it is not one."""
    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            raise InputError(path, None, f"expected a JSON file of at most {MAX_JSON_BYTES // 2**20} MB")
        data = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise InputError(path, None, f"cannot read it: {type(exc).__name__}: {_first_line(exc)}") from None
    if not isinstance(data, dict):
        raise InputError(path, None, f"expected a JSON object, got {type(data).__name__}")
    return list(data)


def _read_columns(path: Path) -> list[str]:
    """The column names of the table in ``path`` (Parquet or CSV), read whole to find damage; InputError if it
    cannot be read."""
    import pandas as pd
    try:
        table = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except Exception as exc:  # pyarrow and pandas raise many kinds for a damaged file
        raise InputError(path, None, f"cannot read it: {type(exc).__name__}: {_first_line(exc)}") from None
    return [str(column) for column in table.columns]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else "no detail"
