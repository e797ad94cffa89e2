"""From a validated scenario to what the engine runs: loaded tables, checked references, per-group plans.

Every cross-file check happens here, before the engine starts: device and
server classes exist in the profile, each strategy's (split, bottleneck) is in
the payload table, the payload table's splits exist in the profile.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from simsplit.core.errors import InputError
from simsplit.core.units import BITS_PER_BYTE, MS
from simsplit.model.channel.base import Channel, ChannelContext
from simsplit.model.channel.link import channels
from simsplit.model.channel.sampled import SampledPathChannel
from simsplit.model.channel.traces import Trace, read_trace
from simsplit.model.strategies import Decision
from simsplit.model.strategies.base import strategies
from simsplit.model.strategies.context import StrategyContext, adaptive_decisions
from simsplit.model.strategies.predict import DeviceModel, Option
from simsplit.scenario import DeviceGroupConfig, NetworkConfig, Scenario
from simsplit.scenario.payloads import PayloadTable, load_payloads
from simsplit.scenario.profiles import ModelProfile, load_profile


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
    compute_power_w: float
    """Mean device power (W) over ``head_s``: the group's compute power, or, where the profile gives the
    head's measured energy (``head_mj_<class>``), that energy plus the encoding at the group's power, over
    ``head_s``."""
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
    """(erased fractions, accuracy): see :class:`~simsplit.scenario.payloads.PayloadEntry`."""
    accuracy_vs_snr: tuple[tuple[float, ...], tuple[float, ...]] | None = None
    """(uplink SNRs in dB, accuracy): see :class:`~simsplit.scenario.payloads.PayloadEntry`."""
    bits_quantiles: tuple[tuple[float, ...], tuple[float, ...]] | None = None
    """(probabilities, bits): the quantile function of the payload, each request drawing its own size from
    it; None: every request sends ``bits_up``."""


@dataclass(frozen=True)
class GroupSetup:
    """A device group with its resolved network, plans and a factory of its devices' strategies."""

    group: DeviceGroupConfig
    network: NetworkConfig
    label: str
    """The strategy's name, e.g. ``fixed(4, bottlenet)`` or ``dynamic(latency)``."""
    make_strategy: Callable[[], object]
    """A fresh strategy for one device (adaptive strategies keep per-device state)."""
    plans: dict[Decision, Plan]
    probe_server: int | None = None
    """Index of the server this group's probes read (None: no probes)."""
    cell_routes: CellRoutes | None = None
    """Where a cellular uplink's cells send requests (None: every cell reaches every server alike)."""


@dataclass(frozen=True)
class CellRoutes:
    """The edge server behind each cell of a group's cellular uplink. An offloaded request is served by the
    server of the cell that carried its upload's last bit (its plan's twin there: same split and bottleneck,
    that server's service time); if the device is in a cell of another server when the result is ready, the
    result is forwarded over the backhaul (``forward_s``) before its download."""

    cell_server: tuple[int, ...]
    """Server index of each cell."""
    twins: dict[tuple[int, int], Plan]
    """(plan index, server index) -> the plan's twin at that server."""
    forward_s: float


@dataclass(frozen=True)
class Setup:
    """Everything a run needs, checked."""

    scenario: Scenario
    profile: ModelProfile
    payloads: PayloadTable
    groups: list[GroupSetup]
    plans: list[Plan]
    channels: ChannelFactory

    def device_group(self) -> np.ndarray:
        """Each device's group index, the devices numbered group after group (as a run numbers them)."""
        return np.repeat(np.arange(len(self.groups), dtype=np.int64), [g.group.count for g in self.groups])


HORIZON_SLACK_S = 600.0
"""A random path is drawn to finish a transfer up to twice the run's duration and this much more (s)."""


class ChannelFactory:
    """Builds each device's channel from a scenario link block by its registered kind; reads every trace
    file once. A kind that is not ``per_device`` gives one channel shared by every device using the block."""

    def __init__(self, horizon_s: float = math.inf) -> None:
        self.horizon_s = horizon_s
        """Past this instant (s) a random path is not drawn to finish a transfer (it ends after the run)."""
        self._traces: dict[tuple, Trace] = {}
        self._shared: dict[int, tuple] = {}
        """The one channel of each link block, by the block's id: (block, channel or None if per device)."""

    def trace(self, file: str, fmt: str, **options) -> Trace:
        """The trace ``file`` in format ``fmt``, read once."""
        key = (file, fmt, tuple(sorted(options.items())))
        if key not in self._traces:
            self._traces[key] = read_trace(file, fmt, **options)
        return self._traces[key]

    @staticmethod
    def per_device(link) -> bool:
        """Whether each device (or cell) using ``link`` needs a channel of its own, from its own stream."""
        per_device = channels.of(link).options["per_device"]
        return per_device(link) if callable(per_device) else bool(per_device)

    def check(self, link) -> None:
        """Build ``link``'s channel once now (from a throwaway stream if per device), so that bad files fail
        before the run."""
        from simsplit.model.mobility import Trajectory
        self.shared(link) or self.own(link, np.random.default_rng(0), Trajectory((0.0, 0.0), lambda p: (math.inf, *p)))

    def shared(self, link) -> Channel | None:
        """One channel for every device, or None if each device needs its own (asked once per block)."""
        if id(link) not in self._shared:  # the block is kept beside its channel, so its id stays its own
            per_device = self.per_device(link)
            channel = None if per_device else self._bounded(channels.of(link).build(link, ChannelContext(None,
                                                                                                        self.trace)))
            self._shared[id(link)] = (link, channel)
        return self._shared[id(link)][1]

    def own(self, link, rng: np.random.Generator, mobility=None) -> Channel:
        """A device's (or a cell's) own channel for a per-device link kind (``mobility``: the device's
        trajectory, if its group moves)."""
        return self._bounded(channels.of(link).build(link, ChannelContext(rng, self.trace, mobility)))

    def _bounded(self, channel: Channel) -> Channel:
        """``channel``, a random path drawn no further than the factory's horizon to finish a transfer."""
        if isinstance(channel, SampledPathChannel):
            channel.horizon_s = self.horizon_s
        return channel


def _check_mobility(source: str, g: int, config, count: int) -> None:
    """Build each of the ``count`` devices' trajectories under the mobility block ``config`` once (a
    throwaway stream), so that a bad position file fails before the run, naming the field."""
    from simsplit.core.config import FieldValueError
    from simsplit.model.mobility import mobility
    try:
        for index in range(count):
            mobility.of(config).build(config, np.random.default_rng(0), index)
    except FieldValueError as exc:
        raise InputError(source, f"devices.{g}.mobility.{exc.field}", str(exc)) from None
    except OSError as exc:
        raise InputError(source, f"devices.{g}.mobility", f"cannot read its file: {exc}") from None


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


def _check_time_advances(scenario: Scenario, g: int, group: DeviceGroupConfig, network: NetworkConfig, plans) -> None:
    """A closed loop with no think time whose request takes no time would loop for ever at one instant."""
    workload = group.arrivals.workload()
    if workload.kind != "closed_loop" or workload.think_s > 0:
        return
    delays = network.uplink.delay_s + network.downlink.delay_s
    for plan in plans:
        if plan.head_s == 0 and (plan.local or (plan.bits_up == 0 and plan.service_s == 0
                                                and plan.bits_down == 0 and delays == 0)):
            raise InputError(scenario.source, f"devices.{g}.arrivals.think_s",
                             "expected > 0: with think_s 0 this device's requests take no time, "
                             "so a closed loop would never advance the clock")


def _compute_power_w(power_w: float, head_s: float, head_j, split: int, encode_s: float) -> float:
    """Mean power (W) of computing a head of ``head_s`` seconds (encoding included): ``power_w`` unless the
    profile measured the head's energy ``head_j`` (J per split)."""
    if head_j is None or head_s == 0:
        return power_w
    return (float(head_j[split]) + power_w * encode_s) / head_s


def _plan(index: int, key: Decision, entry, local: bool, head_s, server, server_index: int, tail_s,
          bits_down: float, power_w: float, head_j) -> Plan:
    encode_s = 0.0 if local else entry.encode_s
    plan_head_s = float(head_s[key.split]) + encode_s
    return Plan(index=index, split=key.split, bottleneck=key.bottleneck, local=local, head_s=plan_head_s,
                compute_power_w=_compute_power_w(power_w, plan_head_s, head_j, key.split, encode_s),
                bits_up=0.0 if local else entry.bytes * BITS_PER_BYTE,
                service_s=0.0 if local else float(tail_s[key.split]) + entry.decode_s,
                bits_down=0.0 if local else bits_down, accuracy=entry.accuracy,
                server=server_index, extra_rtt_s=0.0 if local else server.extra_rtt_s,
                batch_key=(key.split, key.bottleneck),
                accuracy_vs_erasure=None if local else entry.accuracy_vs_erasure,
                accuracy_vs_snr=None if local else entry.accuracy_vs_snr,
                bits_quantiles=None if local or entry.size_quantiles is None else
                (entry.size_quantiles[0], tuple(b * BITS_PER_BYTE for b in entry.size_quantiles[1])))


def _cell_routes(scenario: Scenario, g: int, group: DeviceGroupConfig, network: NetworkConfig,
                 group_plans: dict[Decision, Plan], plans: list[Plan], server_index: dict[str, int],
                 profile: ModelProfile, payloads: PayloadTable, bits_down: float) -> CellRoutes:
    """Each cell's server, and every offloaded plan's twin at each of those servers (appended to ``plans``)."""
    servers = scenario.server_list
    prefix = "network" if group.network is None else f"devices.{g}.network"
    cells = network.uplink.cells
    for k, cell in enumerate(cells):
        if cell.server not in server_index:
            raise InputError(scenario.source, f"{prefix}.uplink.cells.{k}.server",
                             f"expected one of {list(server_index)}, got {cell.server!r}")
    cell_server = tuple(server_index[cell.server] for cell in cells)
    twins: dict[tuple[int, int], Plan] = {}
    for key, plan in group_plans.items():
        if plan.local:
            continue
        for s in sorted(set(cell_server)):
            if s == plan.server:
                twins[(plan.index, s)] = plan
                continue
            server = servers[s]
            twin = _plan(len(plans), Decision(key.split, key.bottleneck, server.name),
                         payloads.get(key.split, key.bottleneck), False, profile.head_s[group.device_class], server, s,
                         profile.tail_s[server.server_class], bits_down, group.compute_power_w,
                         profile.head_j.get(group.device_class))
            plans.append(twin)
            twins[(plan.index, s)] = twin
    return CellRoutes(cell_server, twins, network.uplink.forward_ms * MS)


def _device_model(group: DeviceGroupConfig, network: NetworkConfig) -> DeviceModel:
    radio = network.radio
    return DeviceModel(group.compute_power_w, radio.alpha_up_w_per_bps, radio.alpha_down_w_per_bps,
                       radio.beta_w, radio.promotion_delay_s, radio.promotion_w, radio.tail_stages_s,
                       radio.tail_stages_w, group.arrivals.workload())


def _options(plans: dict[Decision, Plan], network: NetworkConfig) -> list[Option]:
    delays = network.uplink.delay_s + network.downlink.delay_s
    return [Option(key, plan.local, plan.head_s, plan.bits_up, plan.service_s, plan.bits_down, plan.accuracy,
                   0.0 if plan.local else delays + plan.extra_rtt_s, plan.server, plan.compute_power_w,
                   0.0 if plan.local else network.uplink.delay_s + plan.extra_rtt_s / 2)
            for key, plan in plans.items()]


def build_setup(scenario: Scenario, tables: tuple[ModelProfile, PayloadTable] | None = None) -> Setup:
    """Load the scenario's tables (or take ``tables``, a profile and payload table already in memory, as a
    calibration does) and resolve every group. Raise InputError on any inconsistency."""
    if tables is None:
        profile = load_profile(Path(scenario.model.profile))
        payloads = load_payloads(Path(scenario.model.payloads))
    else:
        profile, payloads = tables
    _check_tables(profile, payloads)
    _check_server_classes(scenario, profile)
    channel_factory = ChannelFactory(horizon_s=2.0 * scenario.duration_s + HORIZON_SLACK_S)
    for net in [scenario.network] + [group.network for group in scenario.devices]:
        if net is not None:
            channel_factory.check(net.uplink)
            channel_factory.check(net.downlink)
    plans: list[Plan] = []
    groups = [_group_setup(scenario, g, profile, payloads, channel_factory, plans)
              for g in range(len(scenario.devices))]
    return Setup(scenario, profile, payloads, groups, plans, channel_factory)


def _check_server_classes(scenario: Scenario, profile: ModelProfile) -> None:
    """Every server's class has a tail column in the profile."""
    for index, server in enumerate(scenario.server_list):
        if server.server_class not in profile.tail_s:
            field = "server" if scenario.server is not None else f"servers.{index}"
            raise InputError(scenario.source, f"{field}.server_class", f"expected one of {profile.server_classes} "
                             f"(tail_ms_* columns of {profile.source}), got {server.server_class!r}")


def _group_setup(scenario: Scenario, g: int, profile: ModelProfile, payloads: PayloadTable,
                 channel_factory: ChannelFactory, plans: list[Plan]) -> GroupSetup:
    """Device group ``g`` checked and resolved: its network, its plans (appended to ``plans``, its cells'
    twins after them), the factory of its devices' strategies, the server its probes read."""
    source, servers, group = scenario.source, scenario.server_list, scenario.devices[g]
    if group.device_class not in profile.head_s:
        raise InputError(source, f"devices.{g}.device_class", f"expected one of {profile.device_classes} "
                         f"(head_ms_* columns of {profile.source}), got {group.device_class!r}")
    if group.mobility is not None:
        _check_mobility(source, g, group.mobility, group.count)
    field = f"devices.{g}.strategy" if group.strategy is not None else "strategy"
    config = scenario.strategy_of(group)
    network = scenario.network_of(group)
    kind = strategies.of(config)
    context = StrategyContext(config, field, scenario, profile, payloads, network, channel_factory.trace)
    context.decisions = (kind.options["decisions"] or adaptive_decisions)(context)
    server_index = {server.name: index for index, server in enumerate(servers)}
    bits_down = scenario.model.result_bytes * BITS_PER_BYTE
    head_s = profile.head_s[group.device_class]
    group_plans = {}
    for key in context.decisions:
        server = servers[server_index[key.server]]
        plan = _plan(len(plans), key, payloads.get(key.split, key.bottleneck), key.split == profile.local_split,
                     head_s, server, server_index[key.server], profile.tail_s[server.server_class], bits_down,
                     group.compute_power_w, profile.head_j.get(group.device_class))
        plans.append(plan)
        group_plans[key] = plan
    _check_time_advances(scenario, g, group, network, group_plans.values())
    routes = None
    if network.uplink.kind == "cellular" and network.uplink.cells[0].server is not None:
        routes = _cell_routes(scenario, g, group, network, group_plans, plans, server_index, profile, payloads,
                              bits_down)
    probe_server = None if group.probe is None else server_index[_probe_target(scenario, g, group.probe)]
    context.device = _device_model(group, network)
    context.options = _options(group_plans, network)
    context.label = kind.options["label"](context) if kind.options["label"] else kind.name
    kind.build(context)  # the first device's strategy: a block that cannot be built fails before the run
    return GroupSetup(group, network, context.label, partial(kind.build, context), group_plans, probe_server, routes)


def _probe_target(scenario: Scenario, g: int, probe) -> str:
    names = [s.name for s in scenario.server_list]
    if probe.server is None:
        return names[0]
    if probe.server not in names:
        raise InputError(scenario.source, f"devices.{g}.probe.server", f"expected one of {names}, got {probe.server!r}")
    return probe.server
