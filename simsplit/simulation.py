"""Run control: scenario in, :class:`Result` out (the Python API)."""

from __future__ import annotations

from pathlib import Path

from simsplit.engine import Engine
from simsplit.provenance import provenance, run_key
from simsplit.results import Result, build_probes, build_requests, summarise
from simsplit.scenario import Scenario, load_scenario, validate_scenario
from simsplit.setup import Setup, build_setup


def simulate(scenario: Scenario | str | Path | dict, seed: int | None = None,
             monitor_period_s: float | None = None, setup: Setup | None = None) -> Result:
    """Run one scenario (a :class:`Scenario`, a YAML path, or a dict of scenario fields).

    ``seed`` overrides the scenario's seed; ``monitor_period_s`` samples the first device's uplink capacity
    and the servers' queues into ``Result.timeseries``; ``setup``, the scenario's :class:`Setup` when the
    caller has built it already (used only if it is this very scenario's, so its files are read once).
    Raise :class:`~simsplit.errors.InputError` for bad input, before anything runs.
    """
    if isinstance(scenario, (str, Path)):
        scenario = load_scenario(scenario)
    elif isinstance(scenario, dict):
        scenario = validate_scenario(scenario, base_dir=Path.cwd())
    if seed is not None:
        source = scenario.source
        scenario = scenario.model_copy(update={"seed": int(seed)})
        scenario._source = source
    if setup is None or setup.scenario is not scenario:
        setup = build_setup(scenario)
    engine = Engine(setup, scenario.seed, monitor_period_s)
    output = engine.run()
    requests = build_requests(setup, output, output.columns["tail_j"])
    probes = build_probes(setup, output, output.probes["tail_j"])
    summary = summarise(setup, requests, output, probes)
    summary["provenance"] = {**provenance(scenario), "run_key": run_key(scenario)}
    return Result(scenario, requests, summary, setup, probes, engine.monitor_frame())
