"""How devices choose where to split."""

from simsplit.strategies.base import Decision, Observation, Strategy
from simsplit.strategies.fixed import FixedStrategy

__all__ = ["Decision", "FixedStrategy", "Observation", "Strategy"]
