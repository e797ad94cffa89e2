"""Link capacity models behind one interface (:class:`Channel`)."""

from simsplit.channel.base import Channel
from simsplit.channel.constant import ConstantChannel
from simsplit.channel.link import DedicatedLink
from simsplit.channel.steps import StepChannel

__all__ = ["Channel", "ConstantChannel", "DedicatedLink", "StepChannel"]
