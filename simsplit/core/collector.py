"""The cyclic garbage collector around a large fleet's run.

Building 10,000 devices makes hundreds of thousands of long-lived objects and no garbage; the collector's
passes over them while they are built, and during the run, cost a third of building and a tenth of running.
For a fleet of at least :data:`LARGE_FLEET` devices the collector is paused while it is built, what was
built goes straight to its oldest generation, and everything that exists when the run starts is frozen
(left out of its passes) until the run ends.

Objects moved to the oldest generation that way are not counted towards its next full pass, which would
let an earlier run's garbage pile up in a process that runs many (a sweep's worker): before a large fleet
is built, a full pass collects it once if an earlier one was thawed since. Smaller fleets leave the
collector as it is.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager

LARGE_FLEET = 1000
"""Devices from which a run manages the collector as above."""

_thawed = False
"""Objects were moved to the oldest generation, uncounted, since the last full pass made here."""


def _thaw() -> None:
    global _thawed
    gc.unfreeze()
    _thawed = True


@contextmanager
def building(devices: int):
    """Around building a fleet of ``devices``: for a large one, collect what earlier runs thawed, pause the
    collector, then move what was built to the oldest generation without a pass (where nobody else froze
    objects)."""
    global _thawed
    if devices < LARGE_FLEET or not gc.isenabled():
        yield
        return
    if _thawed:
        gc.collect()
        _thawed = False
    gc.disable()
    try:
        yield
    finally:
        if not gc.get_freeze_count():
            gc.freeze()
            _thaw()
        gc.enable()


@contextmanager
def running(devices: int):
    """Around the run of a fleet of ``devices``: for a large one, keep the objects that exist before it out
    of the collector's passes during it (unless someone froze objects already)."""
    if devices < LARGE_FLEET or gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        _thaw()
