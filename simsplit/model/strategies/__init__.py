"""How devices choose where to split: the protocol and its registry (:mod:`~simsplit.model.strategies.base`),
then the built-in kinds, registered in this order."""

from simsplit.model.strategies import distribution, dynamic, edgent, linucb, mpc  # noqa: F401  (register them)
from simsplit.model.strategies.base import Decision, Observation, Strategy
from simsplit.model.strategies.fixed import FixedStrategy

__all__ = ["Decision", "FixedStrategy", "Observation", "Strategy"]
