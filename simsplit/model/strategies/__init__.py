"""How devices choose where to split."""

from simsplit.model.strategies.base import Decision, Observation, Strategy
from simsplit.model.strategies.fixed import FixedStrategy

__all__ = ["Decision", "FixedStrategy", "Observation", "Strategy"]
