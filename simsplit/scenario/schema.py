"""The scenario file's schema: the experiment, its device groups, network, servers and strategy.

Blocks chosen by ``kind`` (links, arrivals, strategies, background loads, estimators) are validated by the
kind their ``kind`` names in the family's registry (:mod:`simsplit.model.kinds`); the rest are defined here and in
:mod:`simsplit.scenario.server` and :mod:`simsplit.model.radio`. Units are in the field names (``duration_s``,
``rate_mbps``, ``delay_ms``, ``beta_mw``); unknown fields are errors. See ``docs/formats.md`` and ``docs/kinds.md``.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    PrivateAttr,
    field_validator,
    model_validator,
)

from simsplit.core.config import Config, FieldValueError
from simsplit.core.registry import KindBlock
from simsplit.model.arrivals import arrivals as arrival_kinds
from simsplit.model.channel.link import channels as channel_kinds
from simsplit.model.mobility import RouteConfig
from simsplit.model.mobility import mobility as mobility_kinds
from simsplit.model.radio import RadioConfig
from simsplit.model.strategies.base import strategies as strategy_kinds
from simsplit.scenario.server import ServerConfig


class NetworkConfig(Config):
    """A device's uplink, downlink and radio power model."""

    uplink: Annotated[KindBlock, channel_kinds.by_kind]
    downlink: Annotated[KindBlock, channel_kinds.by_kind]
    radio: RadioConfig


class SwitchCostConfig(Config):
    """What a device pays when its split or bottleneck changes: model-swap time and energy."""

    time_ms: NonNegativeFloat = 0.0
    energy_mj: NonNegativeFloat = 0.0


# ---------------------------------------------------------------- devices, model, scenario
class ProbeConfig(Config):
    """Every period_s each device sends bytes_up to server (default: the first), which answers with its queue
    length and recent wait in bytes_down; the transfers use the device's links and radio like a request's."""

    period_s: PositiveFloat
    bytes_up: NonNegativeFloat = 64.0
    bytes_down: NonNegativeFloat = 64.0
    server: str | None = None


class DeviceGroupConfig(Config):
    """count identical devices; network and strategy default to the scenario's."""

    name: str = Field(min_length=1)
    count: PositiveInt = 1
    device_class: str
    compute_power_w: PositiveFloat
    arrivals: Annotated[KindBlock, arrival_kinds.by_kind]
    network: NetworkConfig | None = None
    strategy: Annotated[KindBlock, strategy_kinds.by_kind] | None = None
    probe: ProbeConfig | None = None
    mobility: Annotated[KindBlock, mobility_kinds.by_kind] | None = None
    """How the group's devices move (each from its own stream); a ``cellular`` link needs it."""


class VaryConfig(Config):
    """One scenario field that differs between sites, drawn for each site from its own stream: a number
    ``uniform`` in [low, high), or one of ``choice``. ``field`` is a dotted path as ``--set`` takes it
    (``network.uplink.offset_s``, ``devices.0.arrivals.rate_hz``)."""

    field: str = Field(min_length=1)
    uniform: list[float] | None = Field(default=None, min_length=2, max_length=2)
    choice: list[Any] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one_law(self):
        if (self.uniform is None) == (self.choice is None):
            raise FieldValueError("uniform", "expected exactly one of uniform: [low, high] or choice: [...]")
        if self.uniform is not None and not self.uniform[0] <= self.uniform[1]:
            raise FieldValueError("uniform", f"expected low <= high, got {list(self.uniform)}")
        if self.field.split(".")[0] in ("sites", "seed", "name"):
            raise FieldValueError("field", f"a site cannot vary {self.field.split('.')[0]}")
        return self


class SitesConfig(Config):
    """Many independent copies of the scenario (a cell with its devices and servers), each with its own seed
    and its own draws of the ``vary`` fields; their summaries merge into one (:mod:`simsplit.studies.sites`)."""

    count: int = Field(ge=1, le=1_000_000)
    vary: list[VaryConfig] = []


class ModelFilesConfig(Config):
    """The model's profile and payload table (paths relative to the scenario file) and its result size."""

    input_files: ClassVar[tuple[str, ...]] = ("profile", "payloads")
    profile: str
    payloads: str
    result_bytes: NonNegativeFloat = 0.0


MAX_LEGS = 10_000_000
"""Legs of constant velocity a device's route may take over a run (each is drawn and kept)."""


class Scenario(Config):
    """One simulated experiment."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    seed: NonNegativeInt = 0
    duration_s: PositiveFloat
    warmup_s: NonNegativeFloat = 0.0
    deadline_s: PositiveFloat | None = None
    phases_s: list[NonNegativeFloat] | None = None
    switch_cost: SwitchCostConfig = SwitchCostConfig()
    model: ModelFilesConfig
    devices: list[DeviceGroupConfig] = Field(min_length=1)
    network: NetworkConfig
    server: ServerConfig | None = None
    servers: list[ServerConfig] | None = None
    strategy: Annotated[KindBlock, strategy_kinds.by_kind]
    records: str = "all"
    """Which per-request rows a result folder keeps: ``all``, ``none``, or ``sample:F`` (each request with
    probability F, chosen by a hash of its seed, device and number). The summary always counts every one."""
    sites: SitesConfig | None = None
    """Run ``count`` independent sites of this scenario, in parallel, and merge their summaries."""
    engine: Literal["auto", "des", "fast"] = "auto"
    """How the run is computed: ``des`` (the SimPy model), ``fast`` (arrays and compiled loops, equal to the
    DES request for request; only for static scenarios, see :func:`simsplit.engine.fastpath.why_not`), or ``auto``
    (fast where it applies, else the DES)."""
    plugins: list[str] = []
    """Python files (relative to the scenario) loaded before the scenario is read: they register kinds."""
    input_files: ClassVar[tuple[str, ...]] = ("plugins",)
    _source: str = PrivateAttr(default="<scenario>")

    @property
    def server_list(self) -> list[ServerConfig]:
        """Every server, the default target first (``server`` is shorthand for a list of one)."""
        return [self.server] if self.server is not None else list(self.servers or ())

    @property
    def source(self) -> str:
        """The file this scenario was read from."""
        return self._source

    @model_validator(mode="after")
    def _consistent(self):
        self._check_warmup()
        self._check_phases()
        self._check_one_server_field()
        self._check_cellular_mobility()
        self._check_varied_fields()
        self._check_server_names()
        return self

    def _check_warmup(self) -> None:
        if self.warmup_s >= self.duration_s:
            raise FieldValueError("warmup_s",
                                  f"expected a number < duration_s ({self.duration_s:g}), got {self.warmup_s:g}")

    def _check_phases(self) -> None:
        phases = self.phases_s
        if phases is not None and (len(phases) < 2 or any(b <= a for a, b in pairwise(phases))):
            raise FieldValueError("phases_s", "expected at least two strictly increasing phase boundaries (s)")

    def _check_one_server_field(self) -> None:
        if (self.server is None) == (self.servers is None):
            raise FieldValueError("server", "expected exactly one of server (one server) or servers (a list)")

    def _check_cellular_mobility(self) -> None:
        for k, group in enumerate(self.devices):
            route = group.mobility
            legs = route.legs_within(self.duration_s) if isinstance(route, RouteConfig) else 0.0
            if isinstance(route, RouteConfig) and legs > MAX_LEGS:
                raise FieldValueError(f"devices.{k}.mobility", f"expected a route a device drives in at most "
                                      f"{MAX_LEGS:,} legs over the run, got about {legs:,.0f} (a lap takes "
                                      f"{route.lap_s():.3g} s): slow it down or lengthen the route")
            network = self.network_of(group)
            if group.mobility is None and "cellular" in (network.uplink.kind, network.downlink.kind):
                raise FieldValueError(f"devices.{k}.mobility", "a cellular link needs the group's mobility "
                                      "block (kind static, random_waypoint, route or trace)")

    def _check_varied_fields(self) -> None:
        if self.sites is None:
            return
        data = self.model_dump()
        for k, vary in enumerate(self.sites.vary):
            keys = vary.field.split(".")
            if keys[0] in ("strategy", "model") or (keys[0] == "devices" and "strategy" in keys[2:3]):
                raise FieldValueError(f"sites.vary.{k}.field", f"expected a field the sites may differ in, got "
                                      f"{vary.field!r}: every site runs the same model and strategies, whose "
                                      "results merge; compare strategies with simsplit compare or a sweep")
            missing = _first_missing_key(data, vary.field)
            if missing is not None:
                raise FieldValueError(f"sites.vary.{k}.field", f"expected a field of this scenario, "
                                      f"got {vary.field!r} (no {missing!r} there)")

    def _check_server_names(self) -> None:
        if self.servers is None:
            return
        names = [s.name for s in self.servers]
        if not names:
            raise FieldValueError("servers", "expected at least one server")
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise FieldValueError("servers", f"server names must be unique, got {repeated} more than once")

    @field_validator("records")
    @classmethod
    def _records(cls, value: str) -> str:
        if value in ("all", "none") or (value.startswith("sample:") and 0 < _number(value[7:]) <= 1):
            return value
        raise ValueError(f"expected all, none or sample:F with 0 < F <= 1, got {value!r}")

    @property
    def record_fraction(self) -> float:
        """The share of requests whose rows a result folder keeps (1 for all, 0 for none)."""
        fixed = {"all": 1.0, "none": 0.0}
        return fixed[self.records] if self.records in fixed else _number(self.records[7:])

    @field_validator("devices")
    @classmethod
    def _unique_group_names(cls, groups):
        names = [g.name for g in groups]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"device group names must be unique, got {repeated} more than once")
        return groups

    def network_of(self, group: DeviceGroupConfig) -> NetworkConfig:
        return group.network or self.network

    def strategy_of(self, group: DeviceGroupConfig) -> Config:
        return group.strategy or self.strategy


def _first_missing_key(data: Any, dotted: str) -> str | None:
    """The first key of the dotted path ``dotted`` (``devices.0.arrivals.rate_hz``) that ``data``, nested
    mappings and lists, lacks; None when the whole path is there."""
    node = data
    for key in dotted.split("."):
        inside = isinstance(node, dict) and key in node or \
            isinstance(node, list) and key.isdigit() and int(key) < len(node)
        if not inside:
            return key
        node = node[int(key)] if isinstance(node, list) else node[key]
    return None


def _number(text: str) -> float:
    """``text`` as a number written in ASCII (``float`` also reads other scripts' digits), else NaN."""
    if not text.isascii():
        return float("nan")
    try:
        return float(text)
    except ValueError:
        return float("nan")
