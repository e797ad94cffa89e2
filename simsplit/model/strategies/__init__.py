"""How devices choose where to split: the protocol and its registry (:mod:`~simsplit.model.strategies.base`),
then the built-in kinds, registered in this order."""

from simsplit.model.strategies import dynamic  # noqa: F401  (registers the adaptive kinds)
from simsplit.model.strategies.base import Decision, Observation, Strategy
from simsplit.model.strategies.fixed import FixedStrategy

__all__ = ["Decision", "FixedStrategy", "Observation", "Strategy"]
