"""A device's radio: its power model (the scenario's ``radio`` block, technology presets) and its RRC state
(whether a transfer must first wait for a promotion).

The radio is connected from a transfer's start until its tail (the sum of the
tail stages) has run out after the last transfer; a transfer that becomes
ready after that finds it idle and waits ``promotion_s`` first. Energy of the
tail and the promotion is computed from the records after the run
(:mod:`simsplit.model.energy`).
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import NonNegativeFloat, model_validator

from simsplit.core.config import Config, FieldValueError
from simsplit.core.units import MBPS, MW

RADIO_PRESETS: dict[str, tuple[float, float, float]] = {
    # technology: (alpha_up mW/Mbps, alpha_down mW/Mbps, beta mW); Huang et al. MobiSys 2012 as used by BottleNet
    "3g": (868.98, 122.12, 817.88),
    "lte": (438.39, 51.97, 1288.04),
    "wifi": (283.17, 137.01, 132.86),
}


RRC_PRESETS: dict[str, tuple[float, float, tuple[float, ...], tuple[float, ...]]] = {
    # technology: (promotion s, promotion mW, tail stage durations s, tail stage powers mW)
    # LTE: AT&T ARO lte.conf / Huang et al.; 3G: DCH->FACH 4 s, FACH->IDLE 10 s (ARO), promotion assumed 2 s
    # at the FACH->DCH power; Wi-Fi: 0.25 s tail at the Wi-Fi beta, no promotion.
    "lte": (0.26, 1210.0, (11.576,), (1060.0,)),
    "3g": (2.0, 1300.0, (4.0, 10.0), (1300.0, 300.0)),
    "wifi": (0.0, 0.0, (0.25,), (132.86,)),
}


class RadioConfig(Config):
    """Linear radio power P = alpha * throughput + beta while sending; technology presets, each overridable.

    With ``state_machine: true`` the radio also follows the RRC states of Huang et al. (MobiSys 2012): a
    transfer that finds the radio idle waits ``promotion_s`` at ``promotion_mw``, and after its last
    transfer the radio stays up through tail stages (``tail_s``, ``tail_mw``) before going idle.
    """

    technology: Literal["3g", "4g", "lte", "wifi"]
    alpha_up_mw_per_mbps: NonNegativeFloat | None = None
    alpha_down_mw_per_mbps: NonNegativeFloat | None = None
    beta_mw: NonNegativeFloat | None = None
    state_machine: bool = False
    promotion_s: NonNegativeFloat | None = None
    promotion_mw: NonNegativeFloat | None = None
    tail_s: list[NonNegativeFloat] | None = None
    tail_mw: list[NonNegativeFloat] | None = None

    @model_validator(mode="after")
    def _tail_lengths(self):
        if len(self.tail_stages_s) != len(self.tail_stages_w):
            raise FieldValueError("tail_mw", f"expected {len(self.tail_stages_s)} values (one per tail_s stage), "
                                  f"got {len(self.tail_stages_w)}")
        return self

    @property
    def _rrc(self) -> tuple[float, float, tuple[float, ...], tuple[float, ...]]:
        return RRC_PRESETS["lte" if self.technology == "4g" else self.technology]

    @property
    def promotion_delay_s(self) -> float:
        """Idle-to-connected delay (s); 0 without the state machine."""
        if not self.state_machine:
            return 0.0
        return self._rrc[0] if self.promotion_s is None else self.promotion_s

    @property
    def promotion_w(self) -> float:
        return (self._rrc[1] if self.promotion_mw is None else self.promotion_mw) * MW

    @property
    def tail_stages_s(self) -> tuple[float, ...]:
        """Durations (s) of the tail stages after the last transfer; empty without the state machine."""
        if not self.state_machine:
            return ()
        return tuple(self._rrc[2] if self.tail_s is None else self.tail_s)

    @property
    def tail_stages_w(self) -> tuple[float, ...]:
        if not self.state_machine:
            return ()
        return tuple(w * MW for w in (self._rrc[3] if self.tail_mw is None else self.tail_mw))

    def _preset(self, index: int, override: float | None) -> float:
        tech = "lte" if self.technology == "4g" else self.technology
        return RADIO_PRESETS[tech][index] if override is None else override

    @property
    def alpha_up_w_per_bps(self) -> float:
        return self._preset(0, self.alpha_up_mw_per_mbps) * MW / MBPS

    @property
    def alpha_down_w_per_bps(self) -> float:
        return self._preset(1, self.alpha_down_mw_per_mbps) * MW / MBPS

    @property
    def beta_w(self) -> float:
        return self._preset(2, self.beta_mw) * MW


class RadioState:
    """Promotion bookkeeping for one device; ``promotion_s`` and ``tail_s`` in seconds."""

    __slots__ = ("promotion_s", "tail_s", "_active_until_s", "_in_progress")

    def __init__(self, promotion_s: float, tail_s: float):
        self.promotion_s = promotion_s
        self.tail_s = tail_s
        self._active_until_s = -math.inf
        self._in_progress = 0

    def wake(self, ready_at_s: float) -> float:
        """Instant (s) a transfer ready at ``ready_at_s`` can start sending (after a promotion if idle)."""
        if self.promotion_s and not self._in_progress and ready_at_s >= self._active_until_s + self.tail_s:
            return ready_at_s + self.promotion_s
        return ready_at_s

    def note(self, end_at_s: float) -> None:
        """Record a transfer whose end is known: it ends at ``end_at_s`` (s)."""
        if end_at_s > self._active_until_s:
            self._active_until_s = end_at_s

    def begin(self) -> None:
        """A transfer whose end is not yet known (on a shared link) has started."""
        self._in_progress += 1

    def finish(self, end_at_s: float) -> None:
        """That transfer ended at ``end_at_s`` (s)."""
        self._in_progress -= 1
        self.note(end_at_s)


class AlwaysConnected:
    """The radio state of a device whose transfers never wait for a promotion (no promotion delay): it has
    nothing to keep, so every such device shares :data:`ALWAYS_CONNECTED` (one object, not one per device)."""

    __slots__ = ()
    promotion_s = 0.0

    def wake(self, ready_at_s: float) -> float:
        return ready_at_s

    def note(self, end_at_s: float) -> None:
        pass

    def begin(self) -> None:
        pass

    def finish(self, end_at_s: float) -> None:
        pass


ALWAYS_CONNECTED = AlwaysConnected()


def radio_state(promotion_s: float, tail_s: float) -> RadioState | AlwaysConnected:
    """A device's radio state: its own :class:`RadioState`, or the shared one where nothing waits (s)."""
    return RadioState(promotion_s, tail_s) if promotion_s else ALWAYS_CONNECTED
