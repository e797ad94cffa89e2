"""Link capacity models behind one interface (:class:`Channel`); importing this package registers the built-in
kinds, in this order (:data:`~simsplit.model.channel.link.channels`)."""

from simsplit.model.channel import cellular, replay  # noqa: F401  (register the trace and cellular kinds)
from simsplit.model.channel.base import Channel
from simsplit.model.channel.constant import ConstantChannel
from simsplit.model.channel.fading import FadingChannel
from simsplit.model.channel.link import DedicatedLink
from simsplit.model.channel.markov import MarkovChannel
from simsplit.model.channel.sampled import SampledPathChannel
from simsplit.model.channel.shifted import ShiftedChannel
from simsplit.model.channel.steps import StepChannel

__all__ = ["Channel", "ConstantChannel", "DedicatedLink", "FadingChannel", "MarkovChannel",
           "SampledPathChannel", "ShiftedChannel", "StepChannel"]
