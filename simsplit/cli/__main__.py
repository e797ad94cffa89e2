"""``python -m simsplit.cli``."""

from simsplit.cli import entry_point

entry_point()
