"""simsplit: a discrete-event simulator for split-inference offloading."""

from simsplit.errors import InputError
from simsplit.results import Result
from simsplit.scenario import Scenario, load_scenario
from simsplit.simulation import simulate

__all__ = ["InputError", "Result", "Scenario", "load_scenario", "simulate"]
__version__ = "0.1.0"
