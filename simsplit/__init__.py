"""simsplit: a discrete-event simulator for split-inference offloading.

The public names are imported on first use, so that ``import simsplit`` (and ``simsplit --help``) stays
fast: the simulator pulls in pandas and pyarrow only when a run is built.
"""

from simsplit.core.errors import InputError
from simsplit.core.version import __version__

__all__ = ["InputError", "__version__", "Result", "Scenario", "compare", "load_plugin", "load_scenario",
           "register_arrivals", "register_background", "register_channel", "register_discipline", "register_estimator",
           "register_mobility", "register_strategy", "run_sites", "simulate", "sweep"]

_LAZY = {"Result": "simsplit.output.results", "Scenario": "simsplit.scenario", "load_scenario": "simsplit.scenario",
         "simulate": "simsplit.studies.simulation", "load_plugin": "simsplit.core.registry",
         "run_sites": "simsplit.studies.sites", "compare": "simsplit.studies.compare",
         "sweep": "simsplit.studies.sweep",
         **{f"register_{family}": "simsplit.model.kinds" for family in
            ("arrivals", "background", "channel", "discipline", "estimator", "mobility", "strategy")}}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'simsplit' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The public names too, before their first use imports them (``dir(simsplit)``, completion)."""
    return sorted({*globals(), *__all__})
