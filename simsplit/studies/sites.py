"""Many independent sites of one scenario, run in parallel, their summaries merged into one.

A scenario with a ``sites`` block describes one site (a cell: its devices, links and servers) and how many
there are. Site ``k`` is the scenario with its own seed (:func:`site_seed`, a function of the scenario's
seed and ``k`` only) and its own draws of the ``vary`` fields (from the stream ``sites/<k>/vary``), so a
site's run never depends on which worker ran it or in what order. Each site runs on the engine the
scenario asks for (the fast path where it applies), is tallied a chunk of rows at a time
(:class:`~simsplit.output.tally.Tally`), and writes its rows (all, sampled or none, as ``records`` says) to its
own Parquet part; the tallies merge in site order, so the summary is the same bytes whatever the number
of workers. Sites run on a local process pool or a Dask cluster (``scheduler``), several per task.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from simsplit.core.streams import RandomStreams, stream_key
from simsplit.scenario import Scenario

if TYPE_CHECKING:
    import pyarrow.parquet as pq

CHUNK_ROWS = 65_536
"""Rows of a site's table built and tallied at a time: a window's ~40 columns (~20 MB) stay near the
caches; windows of 262,144 rows ran ~30% slower on one core, and two workers slowed each other more."""


def site_seed(seed: int, site: int) -> int:
    """The seed of site ``site`` of a scenario seeded ``seed`` (a 63-bit integer)."""
    state = np.random.SeedSequence(seed, spawn_key=(stream_key(f"sites/{site}"),)).generate_state(1, np.uint64)
    return int(state[0] >> np.uint64(1))


def site_values(scenario: Scenario, site: int) -> dict[str, Any]:
    """The values of the ``vary`` fields at site ``site``, drawn in order from its own stream."""
    assert scenario.sites is not None  # a scenario of several sites
    rng = RandomStreams(scenario.seed).generator(f"sites/{site}/vary")
    values: dict[str, Any] = {}
    for vary in scenario.sites.vary:
        if vary.uniform is not None:
            low, high = vary.uniform
            values[vary.field] = float(rng.uniform(low, high))
        elif vary.choice is not None:  # exactly one of the two is given
            values[vary.field] = vary.choice[int(rng.integers(len(vary.choice)))]
    return values


def site_scenario(scenario: Scenario, site: int) -> Scenario:
    """Site ``site`` as a scenario of its own (no ``sites`` block, its seed, its drawn fields); InputError
    naming the site and field when a drawn value does not fit the field."""
    from simsplit.scenario import validate_scenario
    data = scenario.model_dump(mode="json")
    data.pop("sites")
    data["seed"] = site_seed(scenario.seed, site)
    for field, value in site_values(scenario, site).items():
        keys = field.split(".")
        node = data
        for key in keys[:-1]:
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[int(keys[-1]) if isinstance(node, list) else keys[-1]] = value
    source = scenario.source
    result = validate_scenario(data, source=f"{source} (site {site})",
                               base_dir=Path(source).parent if Path(source).exists() else None)
    result._source = source
    return result


@dataclass
class SiteOutcome:
    """What one site's run sends back: its numbers, never its rows."""

    site: int
    seed: int
    values: dict[str, Any]
    engine: str
    tally: Any
    servers: dict[str, np.ndarray]
    """Per server: (busy worker-s, other tenants' busy worker-s, completed requests, energy J, other tenants'
    jobs, those rejected, and the dynamic energy of this site's own busy time J)."""
    rows_written: int
    handovers: np.ndarray
    """Per group, its devices' handovers after the warm-up."""
    workers: dict[str, int]
    """Per server, its workers at this site (a site may vary them)."""
    forwarded_results: int | None = None
    """Results forwarded to the server of the device's new cell (None: no cells name servers)."""


def new_tally(setup):
    """An empty :class:`~simsplit.output.tally.Tally` of ``setup``'s groups."""
    from simsplit.output.tally import Tally
    scenario = setup.scenario
    return Tally([g.group.name for g in setup.groups], [g.label for g in setup.groups],
                 sorted({p.bottleneck for p in setup.plans}), max(p.split for p in setup.plans),
                 scenario.deadline_s, scenario.warmup_s)


class _SitePart:
    """A site's Parquet part: the rows ``records`` keeps (all, or a sample of ``fraction``), written a chunk
    at a time."""

    def __init__(self, path: Path, seed: int, fraction: float):
        self.path, self.seed, self.fraction = path, seed, fraction
        self._writer: pq.ParquetWriter | None = None
        self.written = 0
        """Rows written so far."""

    def write(self, columns: dict) -> None:
        """Write the kept rows of a chunk (the columns of :func:`~simsplit.output.results.request_columns`)."""
        import pandas as pd
        import pyarrow as pa
        import pyarrow.parquet as pq

        from simsplit.output.results import sampled
        frame = pd.DataFrame(columns)
        if self.fraction < 1.0:
            frame = frame[sampled(frame["device"].to_numpy(), frame["request_id"].to_numpy(), self.seed,
                                  self.fraction)]
        table = pa.Table.from_pandas(frame.reset_index(drop=True), preserve_index=False)
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, table.schema)
        self._writer.write_table(table)
        self.written += len(frame)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


def fixed_blocks(chunks: Iterable[dict], rows: int) -> Iterator[dict]:
    """The rows of ``chunks`` (dicts of equally long columns) again, in blocks of exactly ``rows`` (the last one
    shorter): a tally's sums then follow the rows alone, not how an engine handed them out."""
    held: list[dict] = []
    count = 0
    for chunk in chunks:
        held.append(chunk)
        count += len(chunk["device"])
        while count >= rows:
            merged = {name: np.concatenate([c[name] for c in held]) for name in held[0]}
            yield {name: values[:rows] for name, values in merged.items()}
            held = [{name: values[rows:] for name, values in merged.items()}]
            count -= rows
    if count:
        yield {name: np.concatenate([c[name] for c in held]) for name in held[0]}


def run_site(scenario: Scenario, site: int, folder: str | None) -> SiteOutcome:
    """Run site ``site``; write its rows to ``folder/site-<k>.parquet`` (if ``folder`` and ``records`` keep
    any)."""
    from simsplit.engine.des import Engine
    from simsplit.engine.records import COMPLETED, RunOutput, handover_times
    from simsplit.engine.setup import build_setup
    from simsplit.output.results import request_columns
    from simsplit.output.summary import device_handovers
    from simsplit.studies.simulation import _use_fast_path

    own = site_scenario(scenario, site)
    setup = build_setup(own)
    fast = _use_fast_path(setup, None)
    tally = new_tally(setup)
    fraction = own.record_fraction
    part = None  # where rows go (else only the tally reads them)
    if folder is not None and fraction > 0.0:
        part = _SitePart(Path(folder) / f"site-{site:05d}.parquet", own.seed, fraction)
    served = np.zeros(len(own.server_list), dtype=np.int64)
    plan_server = np.array([-1 if p.local else p.server for p in setup.plans], dtype=np.int64)

    def take(chunk: dict) -> None:
        """Tally a chunk of rows (columns in arrival order) and write the ones ``records`` keeps."""
        columns = request_columns(setup, RunOutput(chunk, device_group, own.duration_s, own.seed, [], {}),
                                  chunk["tail_j"], table=part is not None)
        tally.add(columns)
        measured = (chunk["status"] == COMPLETED) & (chunk["arrival_at_s"] >= own.warmup_s)
        target = plan_server[chunk["plan"][measured]]
        served[:] += np.bincount(target[target >= 0], minlength=served.size)[: served.size]
        if part is not None and chunk["device"].size:
            part.write(columns)

    if fast:
        from simsplit.engine.fastpath import _FastRun
        run = _FastRun(setup, own.seed)
        device_group = run.device_group
        for chunk in fixed_blocks(run.chunks(CHUNK_ROWS), CHUNK_ROWS):  # as the DES's below: the same sums
            take(chunk)
        servers_out = run.server_records()
        times: Sequence[list[float]] = handover_times(run.devices)
        forwarded = None  # cells that name servers keep a run on the DES
    else:
        output = Engine(setup, own.seed).run()
        device_group = output.device_group
        columns = output.columns
        for first in range(0, max(columns["device"].size, 1), CHUNK_ROWS):
            take({name: values[first:first + CHUNK_ROWS] for name, values in columns.items()})
        servers_out = output.servers
        times = output.handover_times
        forwarded = output.forwarded_results
    handovers = device_handovers(times, device_group, len(setup.groups), own.warmup_s, own.duration_s)
    if part is not None:
        part.close()
    return SiteOutcome(site, own.seed, site_values(scenario, site), "fast" if fast else "des", tally,
                       _site_servers(own, servers_out, served), 0 if part is None else part.written, handovers,
                       {c.name: c.workers for c in own.server_list}, forwarded)


def _site_servers(own: Scenario, servers_out: list, served: np.ndarray) -> dict[str, np.ndarray]:
    """Per server of site scenario ``own``, over its measured window: the numbers of
    :attr:`SiteOutcome.servers` (``served``: its completed requests)."""
    from simsplit.output.summary import server_energy, server_totals
    measured_s = own.duration_s - own.warmup_s
    servers = {}
    for server, config, count in zip(servers_out, own.server_list, served, strict=True):
        busy, background, jobs, rejected = server_totals(server, own.warmup_s, own.duration_s)
        energy = server_energy(config.power, config.workers, measured_s, busy, background, int(count))["energy_j"] \
            if config.power is not None else math.nan
        dynamic = (config.power.busy_w - config.power.idle_w) * (busy - background) if config.power is not None \
            else math.nan
        servers[config.name] = np.array([busy, background, float(count), energy, float(jobs), float(rejected),
                                         dynamic])
    return servers


def run_sites_batch(scenario: Scenario, sites: list[int], folder: str | None) -> list[SiteOutcome]:
    """Several sites in one task (fewer round trips to a cluster's scheduler)."""
    return [run_site(scenario, site, folder) for site in sites]


def _batches(count: int, workers: int, scheduler: str | None = None) -> list[list[int]]:
    """Sites 0..count-1 in contiguous batches: one site each on the local process pool (a task costs
    little there, and single sites keep the workers evenly loaded to the end), about four batches per
    worker on a Dask cluster (each task pays a round trip to its scheduler)."""
    if scheduler is None:
        return [[site] for site in range(count)]
    size = max(1, math.ceil(count / (4 * max(workers, 1))))
    return [list(range(first, min(first + size, count))) for first in range(0, count, size)]


def run_all(scenario: Scenario, folder: str | None, workers: int = 1, scheduler: str | None = None,
            progress=None) -> list[SiteOutcome]:
    """Every site's outcome, in site order: in this process (``workers`` 1, no scheduler), on a local
    process pool, or on a Dask cluster (``scheduler``: ``local`` or an address)."""
    assert scenario.sites is not None  # a scenario of several sites
    batches = _batches(scenario.sites.count, workers, scheduler)
    outcomes: list[SiteOutcome] = []

    def done(batch: list[SiteOutcome]) -> None:
        outcomes.extend(batch)
        if progress is not None:
            progress(len(batch))
    if scheduler is None and workers <= 1:
        for batch in batches:
            done(run_sites_batch(scenario, batch, folder))
    else:
        from simsplit.core.pool import run_parallel
        run_parallel(run_sites_batch, [(scenario, batch, folder) for batch in batches], workers, scheduler, done)
    return sorted(outcomes, key=lambda o: o.site)


def merged_summary(scenario: Scenario, outcomes: list[SiteOutcome]) -> dict:
    """One summary of every site (in site order): counts and means over all their requests, quantiles
    from the merged sketches, the mean's 95% interval across sites (each site one independent
    replication), servers over all sites' copies."""
    from simsplit.output.summary import json_safe
    tally = copy.deepcopy(outcomes[0].tally)
    for outcome in outcomes[1:]:
        tally.merge(outcome.tally)
    measured_s = scenario.duration_s - scenario.warmup_s
    overall = tally.block(0)
    summary: dict[str, Any] = {"scenario": scenario.name, "seed": scenario.seed, "duration_s": scenario.duration_s,
                               "warmup_s": scenario.warmup_s, "deadline_s": scenario.deadline_s,
                               "sites": len(outcomes)}
    summary.update({k: overall[k] for k in ("generated", "completed", "dropped", "lost", "timed_out", "in_flight")})
    summary["throughput_rps"] = overall["completed"] / measured_s
    summary.update({k: v for k, v in overall.items() if k not in summary})
    summary["latency_s"]["ci95"] = _latency_ci95(outcomes)
    summary["server_utilisation"], summary["servers"] = _merged_servers(scenario, outcomes, measured_s)
    summary["groups"] = {name: {"strategy": label, **tally.block(g + 1)}
                         for g, (name, label) in enumerate(zip(tally.groups, tally.strategies, strict=True))}
    per_group = np.sum([o.handovers for o in outcomes], axis=0)
    for block, count in zip([summary, *summary["groups"].values()], [per_group.sum(), *per_group], strict=True):
        block["handovers"] = int(count)
    forwarded = [o.forwarded_results for o in outcomes if o.forwarded_results is not None]
    if forwarded:
        summary["forwarded_results"] = int(sum(forwarded))
    engines = [o.engine for o in outcomes]
    summary["engine"] = {"requested": scenario.engine, "used": {e: engines.count(e) for e in sorted(set(engines))}}
    return json_safe(summary)


def _latency_ci95(outcomes: list[SiteOutcome]) -> dict[str, list]:
    """The 95% interval of the mean latency across sites, each site one replication, centred on the pooled
    mean the summary reports (the ratio estimator: sites weighted by their completed requests); none for the
    sketched quantiles."""
    from simsplit.core.stats import ratio_interval
    scopes = [o.tally.scope(0) for o in outcomes]
    sums = np.array([scope.latency_sum for scope in scopes if scope.statuses[1]], dtype=float)
    counts = np.array([scope.statuses[1] for scope in scopes if scope.statuses[1]], dtype=float)
    low, high = ratio_interval(sums, counts)
    return {"mean": [low, high], "p50": [None, None], "p95": [None, None], "p99": [None, None]}


def _merged_servers(scenario: Scenario, outcomes: list[SiteOutcome], measured_s: float) -> tuple[float, dict]:
    """(the utilisation of every server of every site, each server's block over all sites' copies)."""
    servers, busy_all, capacity_all = {}, 0.0, 0.0
    for config in scenario.server_list:
        busy, background, served, energy, jobs, rejected, dynamic = np.sum([o.servers[config.name] for o in outcomes],
                                                                            axis=0)
        capacity = sum(o.workers[config.name] for o in outcomes) * measured_s
        busy_all, capacity_all = busy_all + busy, capacity_all + capacity
        block = {"utilisation": busy / capacity, "background_utilisation": background / capacity,
                 "background_jobs": int(jobs), "background_rejected": int(rejected)}
        if config.power is not None:
            share = (busy - background) / busy if busy > 0 else 1.0
            block.update({"energy_j": energy, "energy_kwh": energy / 3.6e6, "mean_power_w": energy / measured_s,
                          "dynamic_j_per_request": dynamic / served if served else None,
                          "j_per_request": energy * share / served if served else None})
        servers[config.name] = block
    return busy_all / capacity_all, servers


def sites_table(outcomes: list[SiteOutcome]):
    """One row per site: its seed, engine, drawn values and headline numbers."""
    import pandas as pd
    rows = []
    for o in outcomes:
        block = o.tally.block(0)
        rows.append({"site": o.site, "seed": str(o.seed), "engine": o.engine, **o.values,
                     "generated": block["generated"], "completed": block["completed"],
                     "latency_mean_s": block["latency_s"]["mean"], "latency_p95_s": block["latency_s"]["p95"],
                     "energy_j": block["energy_j"]["total"], "rows_written": o.rows_written})
    return pd.DataFrame(rows)


def run_sites(scenario: Scenario, out: Path | None = None, workers: int = 1, scheduler: str | None = None,
              progress=None) -> dict:
    """Run every site of ``scenario`` and return the merged summary; with ``out``, write the folder
    atomically: ``summary.json``, ``sites.csv``, ``scenario.yaml`` and ``requests/site-<k>.parquet``."""
    import json

    from simsplit.output.outdir import write_folder
    from simsplit.output.provenance import portable_copy, provenance, run_key
    from simsplit.scenario import to_yaml
    site_scenario(scenario, 0)  # a drawn value that does not fit fails here, before any work
    if out is None:
        outcomes = run_all(scenario, None, workers, scheduler, progress)
        summary = merged_summary(scenario, outcomes)
        summary["provenance"] = {**provenance(scenario), "run_key": run_key(scenario)}
        return summary
    result = {}

    def write(folder: Path) -> None:
        parts = folder / "requests"
        if scenario.record_fraction > 0:  # records: none keeps no rows, and no empty folder either
            parts.mkdir()
        outcomes = run_all(scenario, str(parts) if scenario.record_fraction > 0 else None, workers, scheduler,
                           progress)
        sites_table(outcomes).to_csv(folder / "sites.csv", index=False)
        summary = merged_summary(scenario, outcomes)
        summary["provenance"] = {**provenance(scenario), "run_key": run_key(scenario)}
        (folder / "summary.json").write_text(json.dumps(summary, indent=2, allow_nan=False) + "\n", encoding="utf-8")
        (folder / "scenario.yaml").write_text(to_yaml(portable_copy(scenario, folder)), encoding="utf-8")
        result.update(summary)
    write_folder(Path(out), write, kind="sites")
    return result
