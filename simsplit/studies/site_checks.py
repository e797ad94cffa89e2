"""A scenario with sites, checked before any work: every site's drawn fields fit their fields, and the whole
run (each site's own estimate, plus what a site costs beyond its simulation) fits this machine.

Sites differ by what they draw (``sites.vary``), so the first site's estimate says nothing of the others: a
draw of a million devices, or of a negative rate, would surface only in a worker. Up to :data:`SITES_CHECKED`
sites, every one is built and estimated; beyond, a fixed sample of that many (the same on every call), and
the estimate is scaled to the count.
"""

from __future__ import annotations

import numpy as np

from simsplit.core.errors import InputError
from simsplit.engine.feasibility import MAX_SECONDS, Estimate, check_fits, estimate
from simsplit.engine.setup import Setup, build_setup
from simsplit.scenario import Scenario
from simsplit.studies.sites import site_scenario

SITES_CHECKED = 2_000
"""Sites built and estimated before a run at most (about 2 ms each: 4 s)."""
SITE_OVERHEAD_S = 0.1
"""Wall time (s) a site costs beyond its simulation: building its setup, starting its engine, merging its
numbers (measured: about 0.1 s a site on the fast path)."""


def check_sites(scenario: Scenario, workers: int = 1, force: bool = False) -> tuple[Setup, Estimate]:
    """(the first site's setup, the estimate of the worst site's memory and the mean site's work); InputError
    naming the site and field for a draw that does not fit, or (unless ``force``) for a run this machine cannot
    finish, with its estimate."""
    assert scenario.sites is not None
    count = scenario.sites.count
    parallel = max(1, min(workers, count))
    floor_s = count * SITE_OVERHEAD_S / parallel
    if not force and floor_s > MAX_SECONDS:
        raise InputError(scenario.source, "sites.count", f"expected a run that finishes within "
                         f"{MAX_SECONDS / 3600:.0f} h here: {count:,} sites take at least {floor_s / 3600:,.1f} h "
                         f"(about {SITE_OVERHEAD_S} s each beyond their simulation, {parallel} at a time); lower "
                         "the count or pass --force")
    first = build_setup(site_scenario(scenario, 0))
    estimates = [estimate(first)]
    for site in _checked(count)[1:]:
        estimates.append(estimate(build_setup(site_scenario(scenario, int(site)))))
    scale = count / len(estimates)
    worst = Estimate(
        requests=max(e.requests for e in estimates), events=max(e.events for e in estimates),
        memory_bytes=max(e.memory_bytes for e in estimates),
        seconds=float(np.mean([e.seconds for e in estimates])))
    if not force:
        total_s = scale * sum(e.seconds for e in estimates) + count * SITE_OVERHEAD_S
        check_fits(scenario.source, worst, count, workers, total_s)
    return first, worst


def _checked(count: int) -> list[int]:
    """The sites checked: all, or a fixed sample of :data:`SITES_CHECKED` (site 0 first)."""
    if count <= SITES_CHECKED:
        return list(range(count))
    sample = np.random.default_rng(0).choice(count - 1, size=SITES_CHECKED - 1, replace=False) + 1
    return [0, *sorted(int(site) for site in sample)]
