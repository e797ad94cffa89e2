"""Link capacity models behind one interface (:class:`Channel`)."""

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
