"""Run control: scenario in, :class:`Result` out (the Python API)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from simsplit.core.errors import InputError
from simsplit.core.heap import return_freed_memory
from simsplit.engine.des import Engine
from simsplit.engine.merged_arrivals import ARRIVALS_PER_DEVICE
from simsplit.engine.setup import Setup, build_setup
from simsplit.output.provenance import provenance, run_key
from simsplit.output.results import Result, build_probes, build_requests, request_columns
from simsplit.output.spool import SpoolSink
from simsplit.output.summary import summarise
from simsplit.scenario import Scenario, load_scenario, validate_scenario

if TYPE_CHECKING:
    from simsplit.engine.records import RunOutput

STREAM_ABOVE_REQUESTS = 200_000
"""Runs estimated to generate more requests than this stream their per-request table to disk."""
FAST_STREAM_WINDOW_ROWS = 16_384
"""Arrivals per window of a streamed fast run (its memory holds about one window's rows)."""


def simulate(scenario: Scenario | str | Path | dict, seed: int | None = None,
             monitor_period_s: float | None = None, setup: Setup | None = None,
             stream: bool | None = None, stream_rows: int = 16_384) -> Result:
    """Run one scenario (a :class:`Scenario`, a YAML path, or a dict of scenario fields).

    ``seed`` overrides the scenario's seed; ``monitor_period_s`` samples the first device's uplink capacity
    and the servers' queues into ``Result.timeseries``; ``setup``, the scenario's :class:`Setup` when the
    caller has built it already (used only if it is this very scenario's, so its files are read once).
    ``stream``: write the per-request table to a Parquet file during the run, in row groups of
    ``stream_rows``, and compute the summary from it a column at a time, so that memory stays flat in run
    length (default: when the run is estimated to exceed :data:`STREAM_ABOVE_REQUESTS` requests); the
    results are the same either way. Raise :class:`~simsplit.core.errors.InputError` for bad input, before
    anything runs.
    """
    scenario = _scenario(scenario, seed)
    if setup is None or setup.scenario is not scenario:
        setup = build_setup(scenario)
    if stream is None:
        from simsplit.engine.feasibility import estimate
        stream = estimate(setup).requests > STREAM_ABOVE_REQUESTS
    fast = _use_fast_path(setup, monitor_period_s)
    engine = None
    if fast:
        output, spool = _run_fast(setup, scenario.seed, stream, stream_rows, monitor_period_s)
    else:
        spool = SpoolSink(setup, setup.device_group(), stream_rows) if stream else None
        engine = Engine(setup, scenario.seed, monitor_period_s, records=spool)
        output = engine.run()
    probes = build_probes(setup, output, output.probes["tail_j"])
    requests: Path | pd.DataFrame
    if spool is not None:
        requests = spool.path
        return_freed_memory()
        summary = summarise(setup, _column_reader(spool.path), output, probes)
    else:
        requests = build_requests(setup, output, output.columns["tail_j"])
        summary = summarise(setup, requests, output, probes)
    summary["engine"] = {"requested": scenario.engine, "used": "fast" if fast else "des",
                         "why_des": [] if fast else _why_des(setup, monitor_period_s)}
    summary["provenance"] = {**provenance(scenario), "run_key": run_key(scenario)}
    monitor = output.timeseries if engine is None else None if engine.monitor is None else engine.monitor.frame()
    return Result(scenario, requests, summary, setup, probes, monitor, spool=spool)


def run_columns(setup: Setup, seed: int) -> dict[str, np.ndarray]:
    """The per-request columns of one run of ``setup`` with ``seed`` (on the fast path where it can run) as
    numpy arrays, categories as codes (:func:`~simsplit.output.results.request_columns` without a table), with
    no summary, probes or provenance: for a caller that reads a few numbers of many runs."""
    if _use_fast_path(setup, None):
        from simsplit.engine.fastpath import run_fast
        output = run_fast(setup, seed)
    else:
        output = Engine(setup, seed).run()
    return request_columns(setup, output, output.columns["tail_j"], table=False)


def _scenario(scenario: Scenario | str | Path | dict, seed: int | None) -> Scenario:
    """The scenario to run: loaded from a YAML path or validated from a dict, with ``seed`` if given;
    InputError for a scenario of several sites."""
    if isinstance(scenario, (str, Path)):
        scenario = load_scenario(scenario)
    elif isinstance(scenario, dict):
        scenario = validate_scenario(scenario, base_dir=Path.cwd())
    if seed is not None:
        source = scenario.source
        scenario = scenario.model_copy(update={"seed": int(seed)})
        scenario._source = source
    if scenario.sites is not None:
        raise InputError(scenario.source, "sites", "expected a scenario of one site here; run the sites with "
                         "simsplit run or simsplit.run_sites")
    return scenario


def _run_fast(setup: Setup, seed: int, stream: bool, stream_rows: int,
              monitor_period_s: float | None = None) -> tuple[RunOutput, SpoolSink | None]:
    """The fast path's run, and the sink its rows went to when ``stream`` (each window's rows go to the file
    as the fast path hands them out)."""
    from simsplit.engine.fastpath import run_fast
    if not stream:
        return run_fast(setup, seed, monitor_period_s=monitor_period_s), None
    device_group = setup.device_group()
    spool = SpoolSink(setup, device_group, stream_rows)
    window = max(FAST_STREAM_WINDOW_ROWS, ARRIVALS_PER_DEVICE * device_group.size)  # a slab visits every device
    output = run_fast(setup, seed, sink=spool.write_chunk, window_rows=window, monitor_period_s=monitor_period_s)
    spool.finish()
    return output, spool


def _why_des(setup: Setup, monitor_period_s: float | None) -> list[str]:
    """Why a run of ``setup`` takes the DES (``engine: des``, or what the fast path cannot do)."""
    if setup.scenario.engine == "des":
        return ["engine: des"]
    from simsplit.engine.eligibility import why_not
    return why_not(setup, monitor_period_s)


def _use_fast_path(setup: Setup, monitor_period_s: float | None) -> bool:
    """Whether the run takes the fast path; InputError for ``engine: fast`` where it cannot."""
    engine = setup.scenario.engine
    if engine == "des":
        return False
    from simsplit.engine.eligibility import why_not
    reasons = why_not(setup, monitor_period_s)
    if engine == "fast" and reasons:
        more = f" (and {len(reasons) - 1} more)" if len(reasons) > 1 else ""
        raise InputError(setup.scenario.source, "engine",
                         f"expected a scenario the fast path can run (engine: auto or des otherwise), "
                         f"got {reasons[0]}{more}")
    return not reasons


def _column_reader(path: Path):
    """``load(name)``: one column of the Parquet table at ``path`` as numpy (categories as codes), the last
    one read kept."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    cache: dict = {}

    def load(name: str):
        if name not in cache:
            cache.clear()
            file = pq.ParquetFile(path)
            kind = file.schema_arrow.field(name).type
            if pa.types.is_dictionary(kind):  # categories: codes over the dictionaries unified
                column = file.read(columns=[name], use_threads=False).column(0)
                cache[name] = column.to_pandas().cat.codes.to_numpy()
                del column
            else:  # a row group at a time into one array: memory holds the column once
                values = np.empty(file.metadata.num_rows, dtype=kind.to_pandas_dtype())
                first = 0
                for group in range(file.num_row_groups):
                    part = file.read_row_group(group, columns=[name], use_threads=False).column(0).to_numpy()
                    values[first:first + part.size] = part
                    first += part.size
                cache[name] = values
            pa.default_memory_pool().release_unused()
        return cache[name]
    return load
