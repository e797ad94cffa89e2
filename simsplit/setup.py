"""From a validated scenario to what the engine runs: loaded tables, checked references, per-group plans.

Every cross-file check happens here, before the engine starts: device and
server classes exist in the profile, each strategy's (split, bottleneck) is in
the payload table, the payload table's splits exist in the profile.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simsplit.channel import Channel, ConstantChannel, FadingChannel, MarkovChannel, ShiftedChannel, StepChannel
from simsplit.channel.opportunities import OpportunityChannel
from simsplit.channel.traces import MAHIMAHI_PACKET_BITS, Trace, read_trace
from simsplit.errors import InputError
from simsplit.payloads import PayloadTable, load_payloads
from simsplit.profiles import ModelProfile, load_profile
from simsplit.scenario import MBPS, DeviceGroup, Network, Scenario
from simsplit.strategies import Decision, FixedStrategy
from simsplit.strategies.dynamic import DynamicStrategy, EdgentStrategy, NeurosurgeonStrategy, OracleStrategy
from simsplit.strategies.predict import DeviceModel, Option, Workload

BITS_PER_BYTE = 8


@dataclass(frozen=True, slots=True)
class Plan:
    """What one request costs under one decision on one device class (SI units)."""

    index: int
    """Position in :attr:`Setup.plans`."""
    split: int
    bottleneck: str
    local: bool
    """True at the local split L: no transfer, no server."""
    head_s: float
    """Device compute (s): head up to the split plus encoding."""
    bits_up: float
    """Payload (bits) on the uplink."""
    service_s: float
    """Mean server compute (s): tail plus decoding."""
    bits_down: float
    """Result (bits) on the downlink."""
    accuracy: float
    server: int
    """Index of the target server in the scenario's server list."""
    extra_rtt_s: float
    """Round trip (s) beyond the device's links to that server."""
    batch_key: tuple[int, str]
    """Tails batch together only with the same key: (split, bottleneck)."""
    accuracy_vs_erasure: tuple[tuple[float, ...], tuple[float, ...]] | None = None
    """(erased fractions, accuracy): see :class:`~simsplit.payloads.PayloadEntry`."""
    accuracy_vs_snr: tuple[tuple[float, ...], tuple[float, ...]] | None = None
    """(uplink SNRs in dB, accuracy): see :class:`~simsplit.payloads.PayloadEntry`."""
    bits_quantiles: tuple[tuple[float, ...], tuple[float, ...]] | None = None
    """(probabilities, bits): the quantile function of the payload, each request drawing its own size from
    it; None: every request sends ``bits_up``."""


@dataclass(frozen=True)
class GroupSetup:
    """A device group with its resolved network, plans and a factory of its devices' strategies."""

    group: DeviceGroup
    network: Network
    label: str
    """The strategy's name, e.g. ``fixed(4, bottlenet)`` or ``dynamic(latency)``."""
    make_strategy: Callable[[], object]
    """A fresh strategy for one device (adaptive strategies keep per-device state)."""
    plans: dict[Decision, Plan]
    probe_server: int | None = None
    """Index of the server this group's probes read (None: no probes)."""


@dataclass(frozen=True)
class Setup:
    """Everything a run needs, checked."""

    scenario: Scenario
    profile: ModelProfile
    payloads: PayloadTable
    groups: list[GroupSetup]
    plans: list[Plan]
    channels: ChannelFactory


def trace_channel(trace: Trace, scale: float = 1.0, end: str = "loop") -> Channel:
    """The channel that replays ``trace``: its delivery opportunities exactly where it has them (Mahimahi
    read without a window), else its piecewise-constant rate; capacity times ``scale``."""
    if trace.opportunities_ms is not None:
        return OpportunityChannel(trace.opportunities_ms, MAHIMAHI_PACKET_BITS * scale,
                                  round(trace.period_s * 1e3), end)
    return StepChannel(trace.times_s, trace.rates_bps * scale, end, trace.period_s)


class ChannelFactory:
    """Builds each device's channel from a scenario link block; reads every trace file once.

    Deterministic links (constant, steps, trace without a random offset) are
    shared by all devices; random ones get their own path from ``rng``.
    """

    def __init__(self):
        self._traces: dict[tuple, Trace] = {}

    def trace(self, link) -> Trace:
        key = (link.file, link.format, tuple(sorted(link.reader_options.items())))
        if key not in self._traces:
            self._traces[key] = read_trace(link.file, link.format, **link.reader_options)
        return self._traces[key]

    def check(self, link) -> None:
        """Load what ``link`` needs now, so that bad files fail before the run."""
        if link.kind == "trace":
            self.trace(link)

    def shared(self, link) -> Channel | None:
        """One channel for every device, or None if each device needs its own."""
        if link.kind == "constant":
            return ConstantChannel(link.rate_mbps * MBPS)
        if link.kind == "steps":
            return StepChannel(link.times_s, [r * MBPS for r in link.rates_mbps], link.end, link.period_s)
        if link.kind == "trace" and link.offset_s != "random":
            return self._trace_channel(link, link.offset_s)
        return None

    def _trace_channel(self, link, offset_s: float) -> Channel:
        channel = trace_channel(self.trace(link), link.scale, link.end)
        return ShiftedChannel(channel, offset_s) if offset_s else channel

    def own(self, link, rng: np.random.Generator) -> Channel:
        """A device's own channel for a random link kind."""
        if link.kind == "markov":
            return MarkovChannel([r * MBPS for r in link.rates_mbps], link.mean_sojourn_s, link.transitions, rng)
        if link.kind == "fading":
            return FadingChannel(bandwidth_hz=link.bandwidth_mhz * 1e6, tx_power_dbm=link.tx_power_dbm,
                                 distance_m=link.distance_m, path_loss_exponent=link.path_loss_exponent,
                                 reference_loss_db=link.reference_loss_db, noise_figure_db=link.noise_figure_db,
                                 fading=link.fading, rician_k=link.rician_k, shadowing_db=link.shadowing_db,
                                 coherence_s=link.coherence_s, mapping=link.mapping, efficiency=link.efficiency,
                                 rng=rng)
        trace = self.trace(link)
        return self._trace_channel(link, float(rng.uniform(0.0, trace.period_s)))


def _resolve_server(scenario: Scenario, field: str, config) -> str:
    names = [s.name for s in scenario.server_list]
    name = getattr(config, "server", None)
    if name is None:
        return names[0]
    if name not in names:
        raise InputError(scenario.source, f"{field}.server", f"expected one of {names}, got {name!r}")
    return name


ADAPTIVE = ("dynamic", "neurosurgeon", "edgent", "oracle")


def _candidates(scenario: Scenario, field: str, config, profile: ModelProfile, payloads: PayloadTable) -> list[Decision]:
    """Every (split, bottleneck, server) an adaptive strategy may choose: rows meeting its accuracy floor."""
    names = [s.name for s in scenario.server_list]
    servers = config.servers or names
    for name in servers:
        if name not in names:
            raise InputError(scenario.source, f"{field}.servers", f"expected names among {names}, got {name!r}")
    if config.kind == "neurosurgeon":
        servers = servers[:1]
    decisions = []
    for entry in payloads.entries.values():
        if entry.accuracy < config.min_accuracy:
            continue
        if entry.split == profile.local_split:
            decisions.append(Decision(entry.split, entry.bottleneck, names[0]))
        else:
            decisions += [Decision(entry.split, entry.bottleneck, name) for name in servers]
    if not decisions:
        raise InputError(scenario.source, f"{field}.min_accuracy", f"expected a floor that some payload row meets "
                         f"(best accuracy {max(e.accuracy for e in payloads.entries.values()):g}), got {config.min_accuracy:g}")
    return decisions


def _strategy_factory(scenario: Scenario, field: str, config, options: list[Option], device: DeviceModel,
                      network: Network, channels: "ChannelFactory") -> tuple[Callable[[], object], str]:
    deadline = scenario.deadline_s
    if config.kind == "dynamic":
        label = f"dynamic({config.objective})"
        return (lambda: DynamicStrategy(options, device, config, deadline, label)), label
    if config.kind == "neurosurgeon":
        label = f"neurosurgeon({config.objective})"
        return (lambda: NeurosurgeonStrategy(options, device, config, label)), label
    if config.kind == "oracle":
        label = f"oracle({config.objective})"
        return (lambda: OracleStrategy(options, device, config, deadline, label)), label
    if config.trace is not None:
        trace = read_trace(config.trace, config.trace_format)
    elif network.uplink.kind == "trace":
        trace = channels.trace(network.uplink)
    else:
        raise InputError(scenario.source, f"{field}.trace", "expected a bandwidth trace to build the configuration "
                         "map from (the uplink is not a trace)")
    rates, weights = np.asarray(trace.rates_bps), trace.durations_s()
    if network.uplink.kind == "trace" and config.trace is None:
        rates = rates * network.uplink.scale
    label = "edgent"
    return (lambda: EdgentStrategy(options, device, config, deadline, rates, weights, label)), label


def _resolve_decision(scenario: Scenario, field: str, config, profile: ModelProfile,
                      payloads: PayloadTable) -> tuple[Decision, str]:
    decision, label = _resolve_split(scenario, field, config, profile, payloads)
    server = _resolve_server(scenario, field, config)
    if len(scenario.server_list) > 1 and config.kind != "local":
        label += f" @{server}"
    return Decision(decision[0], decision[1], server), label


def _resolve_split(scenario: Scenario, field: str, config, profile: ModelProfile,
                   payloads: PayloadTable) -> tuple[tuple[int, str], str]:
    source, last = scenario.source, profile.local_split
    if config.kind == "local":
        rows = payloads.at_split(last)
        if not rows:
            raise InputError(source, f"{field}.kind", f"local needs a row at the local split {last} in "
                             f"{payloads.source} (bytes 0) giving the model's accuracy, found none")
        return (last, rows[0].bottleneck), "local"
    if config.kind == "full_offload":
        rows = payloads.at_split(0)
        names = [r.bottleneck for r in rows]
        if config.bottleneck is None:
            if len(rows) != 1:
                raise InputError(source, f"{field}.bottleneck", f"expected one of {names} (the input encodings "
                                 f"at split 0 in {payloads.source}), got none")
            return (0, rows[0].bottleneck), "full_offload"
        if config.bottleneck not in names:
            raise InputError(source, f"{field}.bottleneck", f"expected one of {names} (split 0 rows of "
                             f"{payloads.source}), got {config.bottleneck!r}")
        return (0, config.bottleneck), f"full_offload({config.bottleneck})"
    if config.split > last:
        raise InputError(source, f"{field}.split", f"expected a split point 0..{last} of {profile.source}, "
                         f"got {config.split}")
    names = [r.bottleneck for r in payloads.at_split(config.split)]
    if config.bottleneck not in names:
        raise InputError(source, f"{field}.bottleneck", f"expected one of {names} (rows at split "
                         f"{config.split} of {payloads.source}), got {config.bottleneck!r}")
    return (config.split, config.bottleneck), f"fixed({config.split}, {config.bottleneck})"


def _check_tables(profile: ModelProfile, payloads: PayloadTable) -> None:
    last = profile.local_split
    for entry in payloads.entries.values():
        where = f"line {entry.line}"
        if entry.split > last:
            raise InputError(payloads.source, f"{where}, column split",
                             f"expected a split point 0..{last} of {profile.source}, got {entry.split}")
        if entry.split == last and (entry.bytes != 0 or (entry.size_quantiles and any(entry.size_quantiles[1]))):
            raise InputError(payloads.source, f"{where}, column bytes",
                             f"expected 0 at the local split {last} (nothing is sent), got {entry.bytes:g}")


def _check_time_advances(scenario: Scenario, g: int, group: DeviceGroup, network: Network, plans) -> None:
    """A closed loop with no think time whose request takes no time would loop for ever at one instant."""
    if group.arrivals.kind != "closed_loop" or group.arrivals.think_s > 0:
        return
    delays = network.uplink.delay_s + network.downlink.delay_s
    for plan in plans:
        if plan.head_s == 0 and (plan.local or (plan.bits_up == 0 and plan.service_s == 0
                                                and plan.bits_down == 0 and delays == 0)):
            raise InputError(scenario.source, f"devices.{g}.arrivals.think_s",
                             "expected > 0: with think_s 0 this device's requests take no time, "
                             "so a closed loop would never advance the clock")


def _workload(arrivals) -> Workload:
    """What a device knows of its own request process."""
    if arrivals.kind == "closed_loop":
        return Workload("closed_loop", think_s=arrivals.think_s)
    return Workload(arrivals.kind, rate_hz=arrivals.rate_hz)


def build_setup(scenario: Scenario) -> Setup:
    """Load the scenario's tables and resolve every group. Raise InputError on any inconsistency."""
    profile = load_profile(Path(scenario.model.profile))
    payloads = load_payloads(Path(scenario.model.payloads))
    _check_tables(profile, payloads)
    source = scenario.source
    servers = scenario.server_list
    for index, server in enumerate(servers):
        if server.server_class not in profile.tail_s:
            field = "server" if scenario.server is not None else f"servers.{index}"
            raise InputError(source, f"{field}.server_class", f"expected one of {profile.server_classes} "
                             f"(tail_ms_* columns of {profile.source}), got {server.server_class!r}")
    server_index = {server.name: index for index, server in enumerate(servers)}
    channels = ChannelFactory()
    for net in [scenario.network] + [group.network for group in scenario.devices]:
        if net is not None:
            channels.check(net.uplink)
            channels.check(net.downlink)
    bits_down = scenario.model.result_bytes * BITS_PER_BYTE
    plans: list[Plan] = []
    groups: list[GroupSetup] = []
    for g, group in enumerate(scenario.devices):
        if group.device_class not in profile.head_s:
            raise InputError(source, f"devices.{g}.device_class", f"expected one of {profile.device_classes} "
                             f"(head_ms_* columns of {profile.source}), got {group.device_class!r}")
        field = f"devices.{g}.strategy" if group.strategy is not None else "strategy"
        config = scenario.strategy_of(group)
        if config.kind in ADAPTIVE:
            keys = _candidates(scenario, field, config, profile, payloads)
        else:
            decision, label = _resolve_decision(scenario, field, config, profile, payloads)
            keys = [decision]
        head_s = profile.head_s[group.device_class]
        group_plans = {}
        for key in keys:
            entry = payloads.get(key.split, key.bottleneck)
            local = key.split == profile.local_split
            server = servers[server_index[key.server]]
            tail_s = profile.tail_s[server.server_class]
            plan = Plan(index=len(plans), split=key.split, bottleneck=key.bottleneck, local=local,
                        head_s=float(head_s[key.split]) + (0.0 if local else entry.encode_s),
                        bits_up=0.0 if local else entry.bytes * BITS_PER_BYTE,
                        service_s=0.0 if local else float(tail_s[key.split]) + entry.decode_s,
                        bits_down=0.0 if local else bits_down, accuracy=entry.accuracy,
                        server=server_index[key.server], extra_rtt_s=0.0 if local else server.extra_rtt_s,
                        batch_key=(key.split, key.bottleneck),
                        accuracy_vs_erasure=None if local else entry.accuracy_vs_erasure,
                        accuracy_vs_snr=None if local else entry.accuracy_vs_snr,
                        bits_quantiles=None if local or entry.size_quantiles is None else
                        (entry.size_quantiles[0], tuple(b * BITS_PER_BYTE for b in entry.size_quantiles[1])))
            plans.append(plan)
            group_plans[key] = plan
        network = scenario.network_of(group)
        _check_time_advances(scenario, g, group, network, group_plans.values())
        probe_server = None
        if group.probe is not None:
            probe_server = server_index[_resolve_server(scenario, f"devices.{g}.probe", group.probe)]
        if config.kind in ADAPTIVE:
            radio = network.radio
            device = DeviceModel(group.compute_power_w, radio.alpha_up_w_per_bps, radio.alpha_down_w_per_bps,
                                 radio.beta_w, radio.promotion_delay_s, radio.promotion_w, radio.tail_stages_s,
                                 radio.tail_stages_w, _workload(group.arrivals))
            delays = network.uplink.delay_s + network.downlink.delay_s
            options = [Option(key, plan.local, plan.head_s, plan.bits_up, plan.service_s, plan.bits_down,
                              plan.accuracy, 0.0 if plan.local else delays + plan.extra_rtt_s, plan.server,
                              0.0 if plan.local else network.uplink.delay_s + plan.extra_rtt_s / 2)
                       for key, plan in group_plans.items()]
            make, label = _strategy_factory(scenario, field, config, options, device, network, channels)
        else:
            fixed = FixedStrategy(decision, label)
            make = lambda fixed=fixed: fixed  # noqa: E731  (stateless: one instance serves every device)
        groups.append(GroupSetup(group, network, label, make, group_plans, probe_server))
    return Setup(scenario, profile, payloads, groups, plans, channels)
