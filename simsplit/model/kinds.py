"""Every pluggable family's registry, by family name, and the ``register_*`` functions plugin authors call
(also importable as ``simsplit.register_*``). Each registry lives beside its family's base class; this module
only gathers them for the catalogue (``simsplit kinds``) and the public names."""

from __future__ import annotations

from simsplit.core.registry import Registry, load_plugin
from simsplit.model.arrivals import arrivals, register_arrivals
from simsplit.model.background import background, register_background
from simsplit.model.channel.link import channels, register_channel
from simsplit.model.mobility import mobility, register_mobility
from simsplit.model.queues import disciplines, register_discipline
from simsplit.model.strategies.base import register_strategy, strategies
from simsplit.model.strategies.estimators import estimators, register_estimator

FAMILIES: dict[str, Registry] = {r.family: r for r in (channels, strategies, arrivals, background, disciplines,
                                                      estimators, mobility)}

__all__ = ["FAMILIES", "load_plugin", "register_arrivals", "register_background", "register_channel",
           "register_discipline", "register_estimator", "register_mobility", "register_strategy"]
