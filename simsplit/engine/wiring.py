"""A run's objects, built from its :class:`~simsplit.engine.setup.Setup`: servers with their random service factor and
other tenants, and devices with their arrival process, links (dedicated or a cell's shared one), packet
loss, radio and strategy. Every random component draws from its own named stream
(:class:`~simsplit.core.streams.RandomStreams`), so building order never changes a draw.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import simpy

from simsplit.core import collector
from simsplit.core.streams import BlockSampler, RandomStreams
from simsplit.core.units import MS
from simsplit.engine.fallback import StallWatch
from simsplit.engine.setup import Plan, Setup
from simsplit.engine.uplink_ledger import UplinkLedger
from simsplit.model.arrivals import arrivals
from simsplit.model.background import BackgroundSource, BackgroundStream, intensity_path
from simsplit.model.channel import DedicatedLink
from simsplit.model.channel.cell_sharing import SharedCells
from simsplit.model.channel.loss import PacketLoss
from simsplit.model.channel.shared import ProcessorSharingLink, SharedFifoLink
from simsplit.model.mobility import mobility
from simsplit.model.radio import radio_state
from simsplit.model.server import EdgeServer
from simsplit.model.strategies import Decision, Observation

if TYPE_CHECKING:
    from simsplit.model.channel.cellular import CellularChannel


class Device:
    """One device's state during a run."""

    __slots__ = ("index", "group", "strategy", "plans", "arrivals", "uplink", "downlink", "radio",
                 "uplink_loss", "downlink_loss", "observation", "compute_free_at_s", "next_request_id", "probe",
                 "last_plan", "payload_draw", "cells", "fixed_plan", "sends_as_planned", "always_connected",
                 "uplink_ledger", "fallback")
    plans: dict[Decision, Plan]
    last_plan: Plan | None
    fixed_plan: Plan | None

    def __init__(self, index, group, strategy, plans, arrivals, uplink, downlink, radio, uplink_loss, downlink_loss):
        self.index = index
        self.group = group
        """Index of its group in the setup."""
        self.strategy = strategy
        self.plans = plans
        """Its group's plans by decision."""
        self.arrivals = arrivals
        self.uplink = uplink
        self.downlink = downlink
        self.radio = radio
        self.uplink_loss = uplink_loss
        self.downlink_loss = downlink_loss
        self.sends_as_planned = uplink_loss is None and all(plan.accuracy_vs_snr is None for plan in plans.values())
        """Its payloads go up once, as planned: no packet loss on its uplink, and no plan whose accuracy
        follows the uplink's SNR (the engine then skips :func:`~simsplit.engine.transfers.upload`)."""
        self.always_connected = not radio.promotion_s
        """Its radio never waits for a promotion: a transfer sends as soon as it is ready (else at
        ``radio.wake(ready_at_s)``)."""
        self.observation = Observation(index)
        self.compute_free_at_s = 0.0
        """When its processor finishes the work queued on it (s)."""
        self.next_request_id = 0
        self.probe = None
        """(probe block, server index, first probe instant s), or None."""
        self.last_plan = None
        self.payload_draw = None
        """Uniform draws for payload sizes (only when some plan has a size distribution)."""
        self.cells = None
        """Its cellular link's channel (uplink's, else downlink's), whose cell and handovers it observes."""
        self.fixed_plan = None
        """Its plan for every request when its strategy has a ``fixed_decision`` and it observes nothing
        (no probe, no cells): its strategy is not asked, its observation not filled in. Else None."""
        self.uplink_ledger: UplinkLedger | None = None
        """What it knows of its own uplink, kept when its strategy reads it (``reads_uplink``)."""
        self.fallback: StallWatch | None = None
        """Its strategy's late-upload fallback (``fallback_stall_s``), or None."""


def decision_of(plan: Plan, setup: Setup) -> Decision:
    """The decision behind ``plan`` (a twin plan, its result served by another cell's server, included): what a
    device reports of a returned request."""
    return Decision(plan.split, plan.bottleneck, setup.scenario.server_list[plan.server].name)


def service_factor(config, streams: RandomStreams) -> BlockSampler | None:
    """The random factor (mean 1) of a server's service times, from its own stream; None if deterministic."""
    multiplier = config.service_variability.multiplier
    if not multiplier.is_random:
        return None
    return BlockSampler(streams.generator(f"servers/{config.name}/service"), multiplier.draw, grow=True)


def build_servers(env: simpy.Environment, setup: Setup, streams: RandomStreams, end_s: float,
                  on_done: Callable, on_expired: Callable) -> list[EdgeServer]:
    """Every server of the scenario, with its random service factor and background streams."""
    servers = []
    for config in setup.scenario.server_list:
        factor = service_factor(config, streams)
        batching = config.batching
        server = EdgeServer(env, workers=config.workers, on_done=on_done, name=config.name,
                            queue_capacity=config.queue_capacity, discipline=config.discipline,
                            max_batch=batching.max_batch, max_wait_s=batching.max_wait_ms * MS,
                            mix_kinds=batching.mix_kinds, batch_factor=batching.scaling.factor,
                            service_factor=factor, drop_expired=config.drop_expired, on_expired=on_expired)
        for source in background_sources(config, streams):
            server.background_streams.append(BackgroundStream(env, server, source.intensity, *source.samplers(),
                                                              end_s))
        servers.append(server)
    return servers


def background_sources(config, streams: RandomStreams) -> list[BackgroundSource]:
    """Each of a server's other tenants' streams (:class:`~simsplit.model.background.BackgroundSource`) on its own
    named generator, the same for the DES and the fast path."""
    sources = []
    for k, load in enumerate(config.background):
        rng = streams.generator(f"servers/{config.name}/background/{k}")
        sources.append(BackgroundSource(intensity_path(load, config.workers, rng), rng,
                                        load.service_variability.multiplier.draw, load.service_ms * MS))
    return sources


class _LinkBuilder:
    """Builds each device's links: its own dedicated one, or its cell's shared one, built once per network
    block and direction and kept here."""

    def __init__(self, env: simpy.Environment, setup: Setup, streams: RandomStreams):
        self._env, self._setup, self._streams = env, setup, streams
        self._cellular: dict[tuple[str, str], SharedCells] = {}
        """Each cellular block's cells (by scope and direction), whose time its devices share."""
        self._cells: dict[tuple[str, str], SharedFifoLink | ProcessorSharingLink] = {}
        """Each shared (non-cellular) block's one link, by scope and direction."""

    def own_stream(self, network, direction: str) -> bool:
        """Whether each device's ``direction`` link of ``network`` draws from the device's own stream."""
        config = getattr(network, direction)
        if config.kind == "cellular":
            return True
        return config.sharing == "dedicated" and self._setup.channels.shared(config) is None

    def link(self, network, direction: str, group_name: str, device_name: str, trajectory=None):
        config = getattr(network, direction)
        channels, streams = self._setup.channels, self._streams
        if config.sharing == "dedicated":
            channel = channels.shared(config) or channels.own(config, streams.generator(f"{device_name}/{direction}"),
                                                              trajectory)
            return DedicatedLink(channel, config.delay_s)
        scope = "network" if network is self._setup.scenario.network else f"devices/{group_name}/network"
        key = (scope, direction)
        if config.kind == "cellular":  # each device's own path, the cells' time shared
            if key not in self._cellular:
                self._cellular[key] = SharedCells(self._env, config.delay_s, config.on_handover == "restart")
            own = channels.own(config, streams.generator(f"{device_name}/{direction}"), trajectory)
            return self._cellular[key].link(cast("CellularChannel", own))  # a cellular block's kind builds one
        if key not in self._cells:
            channel = channels.shared(config) or channels.own(config, streams.generator(f"cells/{scope}/{direction}"))
            cell = SharedFifoLink if config.sharing == "fifo" else ProcessorSharingLink
            self._cells[key] = cell(self._env, channel, config.delay_s)
        return self._cells[key]


def _loss(config, stream: str, streams: RandomStreams) -> PacketLoss | None:
    if config.loss is None:
        return None
    return PacketLoss(streams.generator(stream), **config.loss.process_options)


def build_devices(env: simpy.Environment, setup: Setup, streams: RandomStreams) -> tuple[list[Device], np.ndarray]:
    """Every device, and the index of each one's group."""
    with collector.building(sum(group_setup.group.count for group_setup in setup.groups)):
        return _build_devices(env, setup, streams)


def _build_devices(env: simpy.Environment, setup: Setup, streams: RandomStreams) -> tuple[list[Device], np.ndarray]:
    links = _LinkBuilder(env, setup, streams)
    devices: list[Device] = []
    for g, group_setup in enumerate(setup.groups):
        sizes_vary = any(plan.bits_quantiles is not None for plan in group_setup.plans.values())
        _prepare_streams(streams, group_setup, links, sizes_vary)
        build_arrivals = arrivals.of(group_setup.group.arrivals).build
        for i in range(group_setup.group.count):
            devices.append(_build_device(len(devices), g, i, group_setup, links, streams, build_arrivals, sizes_vary))
    return devices, setup.device_group()


def _prepare_streams(streams: RandomStreams, group_setup, links: _LinkBuilder, sizes_vary: bool) -> None:
    """Hash the seeds of every stream the group's devices draw from at once (:meth:`RandomStreams.prepare`)."""
    group, network = group_setup.group, group_setup.network
    directions = ("uplink", "downlink")
    used = ["arrivals"] + [d for d in directions if links.own_stream(network, d)] \
        + [f"{d}-loss" for d in directions if getattr(network, d).loss is not None] \
        + ["payload"] * sizes_vary + ["probe"] * (group.probe is not None) + ["mobility"] * (group.mobility is not None)
    streams.prepare([f"devices/{group.name}/{i}/{stream}" for i in range(group.count) for stream in used])


def _build_device(index: int, g: int, i: int, group_setup, links: _LinkBuilder, streams: RandomStreams,
                  build_arrivals: Callable[..., Any], sizes_vary: bool) -> Device:
    """Device ``i`` of group ``g``, the run's device ``index``."""
    group, network = group_setup.group, group_setup.network
    name = f"devices/{group.name}/{i}"
    trajectory = None if group.mobility is None else \
        mobility.of(group.mobility).build(group.mobility, streams.generator(f"{name}/mobility"), i)
    device = Device(index, g, group_setup.make_strategy(), group_setup.plans,
                    build_arrivals(group.arrivals, streams.generator(f"{name}/arrivals")),
                    links.link(network, "uplink", group.name, name, trajectory),
                    links.link(network, "downlink", group.name, name, trajectory),
                    radio_state(network.radio.promotion_delay_s, sum(network.radio.tail_stages_s)),
                    _loss(network.uplink, f"{name}/uplink-loss", streams),
                    _loss(network.downlink, f"{name}/downlink-loss", streams))
    up, down = device.uplink.channel, device.downlink.channel
    device.cells = up if hasattr(up, "handovers") else down if hasattr(down, "handovers") else None
    if sizes_vary:
        device.payload_draw = BlockSampler(streams.generator(f"{name}/payload"), lambda rng, n: rng.random(n),
                                           grow=True)
    if group.probe is not None:
        phase = float(streams.generator(f"{name}/probe").uniform(0.0, group.probe.period_s))
        device.probe = (group.probe, group_setup.probe_server, phase)
        device.observation.probe_server = group_setup.probe_server
    if getattr(device.strategy, "reads_uplink", False):
        device.uplink_ledger = UplinkLedger(device.uplink.channel, dedicated=not device.uplink.shared)
    stall_s = getattr(device.strategy, "fallback_stall_s", None)
    if stall_s is not None:
        local = [plan for plan in device.plans.values() if plan.local]
        if local:  # without a local plan there is nothing to fall back on
            device.fallback = StallWatch(stall_s, local[0])
            device.sends_as_planned = False  # each upload is checked for a stall as it is handed to the link
    fixed = getattr(device.strategy, "fixed_decision", None)
    if fixed is not None and device.probe is None and device.cells is None:
        device.fixed_plan = device.plans[fixed]
    return device
