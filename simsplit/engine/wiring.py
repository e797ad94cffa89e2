"""A run's objects, built from its :class:`~simsplit.engine.setup.Setup`: servers with their random service factor and
other tenants, and devices with their arrival process, links (dedicated or a cell's shared one), packet
loss, radio and strategy. Every random component draws from its own named stream
(:class:`~simsplit.core.streams.RandomStreams`), so building order never changes a draw.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import simpy

from simsplit.core import collector
from simsplit.core.streams import BlockSampler, RandomStreams
from simsplit.core.units import MS
from simsplit.engine.setup import Setup
from simsplit.model.arrivals import arrivals
from simsplit.model.background import BackgroundStream, intensity_path
from simsplit.model.channel import DedicatedLink
from simsplit.model.channel.cell_sharing import SharedCells
from simsplit.model.channel.loss import PacketLoss
from simsplit.model.channel.shared import ProcessorSharingLink, SharedFifoLink
from simsplit.model.mobility import mobility
from simsplit.model.radio import radio_state
from simsplit.model.server import EdgeServer
from simsplit.model.strategies import Observation


class Device:
    """One device's state during a run."""

    __slots__ = ("index", "group", "strategy", "plans", "arrivals", "uplink", "downlink", "radio",
                 "uplink_loss", "downlink_loss", "observation", "compute_free_at_s", "next_request_id", "probe",
                 "last_plan", "payload_draw", "cells", "fixed_plan")

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
        prefix = f"servers/{config.name}"
        factor = service_factor(config, streams)
        batching = config.batching
        server = EdgeServer(env, workers=config.workers, on_done=on_done, name=config.name,
                            queue_capacity=config.queue_capacity, discipline=config.discipline,
                            max_batch=batching.max_batch, max_wait_s=batching.max_wait_ms * MS,
                            mix_kinds=batching.mix_kinds, batch_factor=batching.scaling.factor,
                            service_factor=factor, drop_expired=config.drop_expired, on_expired=on_expired)
        for k, load in enumerate(config.background):
            rng = streams.generator(f"{prefix}/background/{k}")
            draw = BlockSampler(rng, load.service_variability.multiplier.draw)
            mean_s = load.service_ms * MS
            stream = BackgroundStream(env, server, intensity_path(load, config.workers, rng),
                                      BlockSampler(rng, lambda g, n: g.exponential(1.0, n)),
                                      lambda draw=draw, mean_s=mean_s: mean_s * draw(), end_s)
            server.background_streams.append(stream)
        servers.append(server)
    return servers


class _Links:
    """Each device's link: its own dedicated one, or its cell's shared one (one per network block)."""

    def __init__(self, env: simpy.Environment, setup: Setup, streams: RandomStreams):
        self._env, self._setup, self._streams = env, setup, streams
        self._cells: dict[tuple[str, str], object] = {}

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
            if key not in self._cells:
                self._cells[key] = SharedCells(self._env, config.delay_s, config.on_handover == "restart")
            return self._cells[key].link(channels.own(config, streams.generator(f"{device_name}/{direction}"),
                                                      trajectory))
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
    links = _Links(env, setup, streams)
    devices = []
    for g, group_setup in enumerate(setup.groups):
        group, network = group_setup.group, group_setup.network
        sizes_vary = any(plan.bits_quantiles is not None for plan in group_setup.plans.values())
        used = ["arrivals"] + [d for d in ("uplink", "downlink") if links.own_stream(network, d)] \
            + [f"{d}-loss" for d in ("uplink", "downlink") if getattr(network, d).loss is not None] \
            + ["payload"] * sizes_vary + ["probe"] * (group.probe is not None) + ["mobility"] * (group.mobility is not None)
        streams.prepare([f"devices/{group.name}/{i}/{stream}" for i in range(group.count) for stream in used])
        build_arrivals = arrivals.of(group.arrivals).build
        for i in range(group.count):
            name = f"devices/{group.name}/{i}"
            trajectory = None if group.mobility is None else \
                mobility.of(group.mobility).build(group.mobility, streams.generator(f"{name}/mobility"), i)
            device = Device(len(devices), g, group_setup.make_strategy(), group_setup.plans,
                            build_arrivals(group.arrivals, streams.generator(f"{name}/arrivals")),
                            links.link(network, "uplink", group.name, name, trajectory),
                            links.link(network, "downlink", group.name, name, trajectory),
                            radio_state(network.radio.promotion_delay_s, sum(network.radio.tail_stages_s)),
                            _loss(network.uplink, f"{name}/uplink-loss", streams),
                            _loss(network.downlink, f"{name}/downlink-loss", streams))
            up, down = device.uplink.channel, device.downlink.channel
            device.cells = up if hasattr(up, "handovers") else down if hasattr(down, "handovers") else None
            if sizes_vary:
                device.payload_draw = BlockSampler(streams.generator(f"{name}/payload"), lambda g, n: g.random(n),
                                                   grow=True)
            if group.probe is not None:
                phase = float(streams.generator(f"{name}/probe").uniform(0.0, group.probe.period_s))
                device.probe = (group.probe, group_setup.probe_server, phase)
                device.observation.probe_server = group_setup.probe_server
            fixed = getattr(device.strategy, "fixed_decision", None)
            if fixed is not None and device.probe is None and device.cells is None:
                device.fixed_plan = device.plans[fixed]
            devices.append(device)
    return devices, setup.device_group()
