"""Edgent (Li et al., 2018/2019): a configuration map over bandwidth states of a trace, looked up when a
change-point detector on the device's observed throughput fires.

The states are quantile levels of what transfers get, not of the trace's rate at an instant: state ``k``
of ``S`` holds the levels ``[k/S, (k+1)/S)`` of the time-weighted throughput of a transfer started at any
instant of the map's trace (:class:`~simsplit.model.channel.transfer_times.TransferTimes`), each transfer
size by its own distribution. On a packet-level trace the two differ: a trace with outages has instants
of rate 0 (a state of median 0 would make local the fastest option), but no transfer has throughput 0;
and a 64-byte probe waits for the next delivery opportunity, so its throughput (a median of 0.34 Mbit/s
over the starts of Verizon-LTE-short.up, whose mean is 5.9) measures that wait, not what a payload gets.

Offline, each option's upload is priced at the throughput a transfer of its own size gets at the middle
level ``(k + 0.5) / S`` of state ``k``. Online, a sample of ``b`` bits (the Observation keeps each sample's
size) falls in the state whose levels hold its rank among the throughputs of ``b``-bit transfers on the
trace: a probe is compared with probes, a payload with payloads.
"""

from __future__ import annotations

import weakref
from collections import deque
from typing import ClassVar, Literal, cast

import numpy as np
from pydantic import Field, PositiveInt

from simsplit.core.units import MBPS
from simsplit.model.channel.traces import Trace
from simsplit.model.channel.transfer_times import TransferTimes
from simsplit.model.strategies.base import Decision, Observation, added_since, register_strategy
from simsplit.model.strategies.context import AdaptiveConfig, StrategyContext, adaptive_defaults
from simsplit.model.strategies.predict import DeviceModel, Option, predict


class EdgentConfig(AdaptiveConfig):
    """Edgent's configuration map over bandwidth states of a trace (default: the uplink's own trace)."""

    input_files: ClassVar[tuple[str, ...]] = ("trace",)
    kind: Literal["edgent"]
    trace: str | None = None
    trace_format: Literal["mahimahi", "pensieve", "csv", "gnettrack", "mecperf"] = "csv"
    states: int = Field(default=5, ge=1)
    run: PositiveInt = 3


class EdgentStrategy:
    """Edgent's configuration map (Li et al., 2018/2019): offline, for each bandwidth state of a trace, the
    option with the highest accuracy whose predicted latency meets the deadline (else the fastest); online,
    the map is looked up when a change-point detector on the device's observed throughput fires.

    The detector (a run-length detector standing in for the paper's Bayesian online change-point
    detection) fires when ``run`` consecutive samples fall in states other than the current one, and moves
    to the middle of their states (the lower middle one for an even ``run``).
    """

    needs_truth = False

    def __init__(self, options: list[Option], device: DeviceModel, config, deadline_s: float | None,
                 times: TransferTimes, label: str):
        self.options, self.device, self.config = options, device, config
        self.deadline_s, self.label = deadline_s, label
        self.times = times
        """The map's trace: how long a transfer of each size takes on it, from every start."""
        self.run = config.run
        self.states = config.states
        self._edges: dict[float, np.ndarray] = {}
        """Per transfer size (bits): the throughputs (bit/s) at levels 1/S .. (S-1)/S, the states' edges."""
        self.reference_bits = max((o.bits_up for o in options), default=0.0) or times.grain_bits
        """The largest upload: the size the prior ``initial_uplink_mbps`` is read as."""
        self.map: list[Decision] = [self._best(k) for k in range(self.states)]
        self.state = self.state_of(config.initial_uplink_mbps * MBPS, self.reference_bits)
        self._recent: deque = deque(maxlen=self.run)
        self._seen = 0
        self.fired = 0

    def bandwidth_bps(self, option: Option, state: int) -> float:
        """The throughput (bit/s) ``option``'s upload gets at the middle level of ``state`` on the trace."""
        return self.times.throughput_bps(option.bits_up or self.reference_bits, (state + 0.5) / self.states)

    def _best(self, state: int) -> Decision:
        """The map's entry for ``state``: the most accurate option predicted to meet the deadline (ties: the
        faster), else the fastest."""
        latency = {}
        for option in self.options:
            bandwidth = self.bandwidth_bps(option, state)
            latency[option] = predict(option, self.device, bandwidth, bandwidth, 0.0)[0]
        feasible = [o for o in self.options if self.deadline_s is None or latency[o] <= self.deadline_s]
        if feasible:
            return max(feasible, key=lambda o: (o.accuracy, -latency[o])).decision
        return min(self.options, key=latency.__getitem__).decision

    def state_of(self, throughput_bps: float, bits: float) -> int:
        """The state of a transfer of ``bits`` that achieved ``throughput_bps``: how many of the edges (the
        quantiles at levels k/S of the throughput ``bits``-bit transfers get on the trace) it reaches."""
        edges = self._edges.get(bits)
        if edges is None:
            edges = np.array([self.times.throughput_bps(bits, k / self.states) for k in range(1, self.states)])
            self._edges[bits] = edges
        return int(np.searchsorted(edges, throughput_bps, side="right"))

    def decide(self, now_s: float, observation: Observation) -> Decision:
        samples, sizes = observation.uplink_samples_bps, observation.uplink_sample_bits
        new = added_since(sizes, observation.uploads, self._seen)
        self._seen = observation.uploads
        for k in new:  # the samples are appended with their sizes, one for one
            self._recent.append(self.state_of(samples[k], sizes[k]))
            if len(self._recent) == self.run and all(s != self.state for s in self._recent):
                self.state = sorted(self._recent)[(self.run - 1) // 2]
                self.fired += 1
                self._recent.clear()
        return self.map[self.state]


# ---------------------------------------------------------------- registration
_SHARED: weakref.WeakValueDictionary[tuple[int, float], TransferTimes] = weakref.WeakValueDictionary()
"""The transfer times of each (trace, scale) while some strategy holds them: one computation for all the
devices of a run (a TransferTimes holds its trace, so the trace's id is its own while the entry lives)."""


def _transfer_times(context: StrategyContext, trace: Trace, scale: float) -> TransferTimes:
    key = (id(trace), scale)
    times = _SHARED.get(key)
    if times is None:
        try:
            times = TransferTimes(trace, scale)
        except ValueError as error:
            raise context.error("trace", f"expected a trace that carries data to build the configuration map "
                                f"from ({error})") from None
        _SHARED[key] = times
    return times


def _edgent_map_trace(context: StrategyContext) -> TransferTimes:
    """The transfer times of the trace Edgent's map is built from: its own, else the uplink's (scaled)."""
    config, uplink = cast(EdgentConfig, context.config), context.network.uplink
    if config.trace is not None:
        return _transfer_times(context, context.trace(config.trace, config.trace_format), 1.0)
    if uplink.kind != "trace":
        raise context.error("trace", "expected a bandwidth trace to build the configuration map from "
                            "(the uplink is not a trace)")
    trace = context.trace(uplink.file, uplink.format, **uplink.reader_options)
    return _transfer_times(context, trace, uplink.scale)


def _build_edgent(context: StrategyContext) -> EdgentStrategy:
    times = _edgent_map_trace(context)
    assert context.device is not None  # setup gives every adaptive strategy's context its device model
    return EdgentStrategy(context.options, context.device, context.config, context.deadline_s, times,
                          context.label)


def _compare_edgent(scenario, setup) -> dict[str, dict]:
    uplinks = [scenario.network.uplink] + [g.network.uplink for g in scenario.devices if g.network is not None]
    if not any(link.kind == "trace" for link in uplinks):
        return {}
    return {"edgent": {"kind": "edgent", **adaptive_defaults(scenario)}}


register_strategy("edgent", EdgentConfig, _build_edgent, label=lambda c: "edgent", compared=_compare_edgent,
                  compared_needs="an uplink that replays a trace (its map is built offline from one)")
