"""Link capacity models behind one interface (:class:`Channel`)."""

from simsplit.channel.base import Channel
from simsplit.channel.constant import ConstantChannel
from simsplit.channel.fading import FadingChannel
from simsplit.channel.link import DedicatedLink
from simsplit.channel.markov import MarkovChannel
from simsplit.channel.sampled import SampledPathChannel
from simsplit.channel.shifted import ShiftedChannel
from simsplit.channel.steps import StepChannel

__all__ = ["Channel", "ConstantChannel", "DedicatedLink", "FadingChannel", "MarkovChannel",
           "SampledPathChannel", "ShiftedChannel", "StepChannel"]
