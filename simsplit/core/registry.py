"""One registry per pluggable family: a kind's name -> its scenario block (a :class:`~simsplit.core.config.Config`)
and what builds it at run time.

The scenario schema, ``setup``, ``compare`` and ``simsplit kinds`` all read these registries; an unknown
kind is an error, never a default. Built-in kinds register themselves in the module that implements them;
installed packages add theirs through the entry-point groups ``simsplit.<family>`` (the entry point names a
module that registers on import, or a function called with no arguments); a scenario's ``plugins:`` list
names Python files to load first. What each family's ``build`` receives is documented on its
``register_*`` function.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.util
import pkgutil
import re
import sys
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import ValidationError
from pydantic_core import core_schema

from simsplit.core.config import Config, FieldValueError

KIND_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class NestedError(ValueError):
    """A kind's block failed its own validation: ``error`` (a pydantic ValidationError) relative to ``config``."""

    def __init__(self, config: type[Config], error: ValidationError):
        super().__init__(str(error))
        self.config = config
        self.error = error


@dataclass(frozen=True)
class Kind:
    """One registered kind."""

    name: str
    config: type[Config] | None
    """Its scenario block (None in families chosen by name alone, such as queue disciplines)."""
    build: Callable
    options: dict = field(default_factory=dict)
    """Family-specific extras (see the family's ``register_*``)."""
    origin: str = ""
    """The module that registered it."""

    @property
    def summary(self) -> str:
        """The first line of the block's (or the builder's) docstring."""
        doc = (self.config.__doc__ if self.config is not None else None) or self.build.__doc__ or ""
        return " ".join(doc.strip().split("\n\n")[0].split())


class Registry:
    """The kinds of one family. Built-ins and entry points load on first use."""

    def __init__(self, family: str, places: tuple[str, ...], *, configured: bool = True):
        self.family = family
        self.entry_point_group = f"simsplit.{family}"
        self._places = places
        self._configured = configured
        self._kinds: dict[str, Kind] = {}
        self._order: dict[str, tuple[int, int]] = {}
        self._loaded = False

    # ------------------------------------------------------------ registering
    def register(self, name: str, config: type[Config] | None = None, build: Callable | None = None, **options):
        """Register kind ``name``; without ``build``, a decorator that registers what it decorates.

        Registering the same (config, build) twice is a no-op, and a module registering again (a plugin file
        edited and loaded anew) replaces its own kinds; another module's kind under a taken name is an error.
        """
        if build is None:
            return lambda function: self.register(name, config, function, **options) or function
        if not isinstance(name, str) or not KIND_NAME.match(name):
            raise ValueError(f"{self.family}: a kind name is lower-case letters, digits and '_', got {name!r}")
        if self._configured:
            kinds = _kind_literal(config)
            if kinds != (name,):
                raise ValueError(f"{self.family}: {getattr(config, '__name__', config)!r} must be a Config subclass "
                                 f"with a field kind: Literal[{name!r}], got {kinds}")
        if not callable(build):
            raise ValueError(f"{self.family}: build for {name!r} must be callable, got {build!r}")
        kind = Kind(name, config, build, dict(options), getattr(build, "__module__", "") or "")
        old = self._kinds.get(name)
        if old is not None and old.origin != kind.origin and (old.config is not config or old.build is not build):
            raise ValueError(f"{self.family}: kind {name!r} is already registered by {old.origin}")
        self._kinds[name] = kind
        self._order.setdefault(name, (self._place_of(kind.origin), len(self._order)))
        return None

    def _place_of(self, module: str) -> int:
        """Built-ins sort by the place listing their module, then plugins, each in registration order."""
        for index, place in enumerate(self._places):
            if module == place or module.startswith(place + "."):
                return index
        return len(self._places)

    # ------------------------------------------------------------ reading
    def __getitem__(self, name: str) -> Kind:
        self._load()
        return self._kinds[name]

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._kinds

    def names(self) -> list[str]:
        """Every kind: built-ins in the order their modules define them, then plugins as registered."""
        self._load()
        return sorted(self._kinds, key=self._order.__getitem__)

    def kinds(self) -> list[Kind]:
        return [self._kinds[name] for name in self.names()]

    def expected(self) -> str:
        """The kinds as an error message lists them: ``'a', 'b', 'c'``."""
        return ", ".join(repr(name) for name in self.names())

    def of(self, config: Config) -> Kind:
        """The kind of a validated block."""
        return self[config.kind]

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for place in self._places:
            module = importlib.import_module(place)
            for info in pkgutil.iter_modules(getattr(module, "__path__", [])):
                importlib.import_module(f"{place}.{info.name}")
        for point in _installed_entry_points().select(group=self.entry_point_group):
            try:
                loaded = point.load()
                if callable(loaded):
                    loaded()
            except Exception as exc:  # a broken installed plugin must say which one it is
                from simsplit.core.errors import InputError
                raise InputError(f"entry point {point.name} = {point.value}", self.entry_point_group,
                                 f"{type(exc).__name__}: {exc}") from exc

    # ------------------------------------------------------------ the schema's field
    @property
    def field(self) -> Any:
        """The annotation of a scenario field holding one block of this family, chosen by its ``kind``."""
        return Annotated[Config, _KindField(self)]


@functools.cache
def _installed_entry_points():
    """Every installed entry point, read once per process (each family selects its group)."""
    from importlib.metadata import entry_points
    return entry_points()


def _kind_literal(config: Any) -> tuple:
    if not (isinstance(config, type) and issubclass(config, Config) and "kind" in config.model_fields):
        return ()
    return typing.get_args(config.model_fields["kind"].annotation)


class _KindField:
    """Pydantic validation of a block by the registered kind its ``kind`` names (read at validation time,
    so kinds registered after import are accepted)."""

    def __init__(self, registry: Registry):
        self.registry = registry

    def __get_pydantic_core_schema__(self, source, handler):
        return core_schema.no_info_plain_validator_function(
            self._validate,
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda value, info: value.model_dump(mode=info.mode), info_arg=True))

    def _validate(self, value: Any) -> Config:
        registry = self.registry
        if isinstance(value, Config) and getattr(value, "kind", None) in registry:
            if registry[value.kind].config is type(value):
                return value
        if not isinstance(value, dict) or "kind" not in value:
            raise ValueError(f"expected a mapping with a 'kind' field, got {value!r}")
        name = value["kind"]
        if not isinstance(name, str) or name not in registry:
            raise FieldValueError("kind", f"expected kind {registry.expected()}, got {name!r}")
        config = registry[name].config
        try:
            return config.model_validate(value)
        except ValidationError as exc:
            raise NestedError(config, exc) from None


# ---------------------------------------------------------------- the families
channels = Registry("channels", ("simsplit.model.channel.constant", "simsplit.model.channel.steps", "simsplit.model.channel.markov",
                                 "simsplit.model.channel.fading", "simsplit.model.channel.replay", "simsplit.model.channel.cellular",
                                 "simsplit.model.channel"))
strategies = Registry("strategies", ("simsplit.model.strategies.fixed", "simsplit.model.strategies.dynamic", "simsplit.model.strategies"))
arrivals = Registry("arrivals", ("simsplit.model.arrivals",))
background = Registry("background", ("simsplit.model.background",))
disciplines = Registry("disciplines", ("simsplit.model.queues",), configured=False)
estimators = Registry("estimators", ("simsplit.model.strategies.estimators",))
mobility = Registry("mobility", ("simsplit.model.mobility",))

FAMILIES: dict[str, Registry] = {r.family: r for r in (channels, strategies, arrivals, background, disciplines,
                                                      estimators, mobility)}


def _require_base(registry: Registry, config: Any, base: type) -> None:
    if not (isinstance(config, type) and issubclass(config, base)):
        raise ValueError(f"{registry.family}: {getattr(config, '__name__', config)!r} must subclass "
                         f"{base.__module__}.{base.__name__}")


def register_channel(kind: str, config: type[Config], build: Callable | None = None, *,
                     per_device: bool | Callable[[Config], bool] = False):
    """A link capacity model. ``build(config, context) -> Channel`` (:class:`~simsplit.model.channel.Channel`);
    ``context.rng`` is a NumPy generator (None unless ``per_device``: then every device, or every shared cell,
    gets its own channel from its own stream; otherwise one channel serves every device using the block)
    and ``context.trace(file, format, **options)`` reads a trace file once per run. The block subclasses
    :class:`~simsplit.model.channel.link.LinkConfig` (delay, sharing, loss)."""
    from simsplit.model.channel.link import LinkConfig
    _require_base(channels, config, LinkConfig)
    return channels.register(kind, config, build, per_device=per_device)


def register_mobility(kind: str, config: type[Config], build: Callable | None = None):
    """A device's movement. ``build(config, rng, index) -> Trajectory`` (:class:`~simsplit.model.mobility.Trajectory`)
    for device ``index`` of its group, drawing from the device's own stream ``rng``. The block subclasses
    :class:`~simsplit.model.mobility.MobilityConfig`."""
    from simsplit.model.mobility import MobilityConfig
    _require_base(mobility, config, MobilityConfig)
    return mobility.register(kind, config, build)


def register_strategy(kind: str, config: type[Config], build: Callable | None = None, *,
                      decisions: Callable | None = None, label: Callable | None = None,
                      compared: Callable | None = None, static: bool = False):
    """How a device chooses where to split. ``build(context)`` returns one device's strategy (an object with
    ``decide(now_s, observation) -> Decision``), called once per device; ``context`` is a
    :class:`~simsplit.model.strategies.context.StrategyContext` (its ``options`` are the candidate plans).
    ``decisions(context)`` lists the (split, bottleneck, server) it may choose (default: every payload row
    meeting ``config.min_accuracy`` on ``config.servers``); ``label(context)`` names it in results (default:
    the kind); ``compared(scenario, setup)`` returns the blocks ``simsplit compare`` runs for this kind, by
    variant name (default: none); ``static``: it takes one decision for every request (compare's bound
    includes it)."""
    return strategies.register(kind, config, build, decisions=decisions, label=label, compared=compared,
                               static=static)


def register_arrivals(kind: str, config: type[Config], build: Callable | None = None):
    """When a device's inputs arrive. ``build(config, rng)`` returns an object with ``next_at(now_s) -> s``
    and a ``closed_loop`` flag (True: ``next_at`` is called when the previous result returns; False: the
    instants depend on nothing the run does, and may be drawn ahead, ``now_s`` being the previous instant,
    0 for the first), and optionally ``ahead(n)``, the next ``n`` instants at once. The block subclasses
    :class:`~simsplit.model.arrivals.ArrivalsConfig` and gives its ``workload()``."""
    from simsplit.model.arrivals import ArrivalsConfig
    _require_base(arrivals, config, ArrivalsConfig)
    return arrivals.register(kind, config, build)


def register_background(kind: str, config: type[Config], build: Callable | None = None):
    """Other tenants' load on a server: a Poisson stream of intensity given as a path. ``build(config, workers,
    rng)`` returns that intensity (jobs/s) as a :class:`~simsplit.model.channel.Channel`; the block subclasses
    :class:`~simsplit.model.background.BackgroundConfig` (service time and its variability) and gives its
    ``peak_rate_hz(workers)``."""
    from simsplit.model.background import BackgroundConfig
    _require_base(background, config, BackgroundConfig)
    return background.register(kind, config, build)


def register_discipline(name: str, queue: Callable | None = None):
    """A server queue discipline, chosen by name in ``server.discipline``. ``queue()`` returns an empty queue
    with ``push(job)``, ``pop() -> job``, ``jobs() -> list`` (in service order), ``remove(jobs)`` and
    ``__len__`` (:mod:`simsplit.model.queues`)."""
    return disciplines.register(name, None, queue)


def register_estimator(kind: str, config: type[Config], build: Callable | None = None):
    """A throughput estimator for adaptive strategies. ``build(config)`` returns an object with
    ``update(sample_bps)`` and ``estimate() -> bps`` (NaN before the first sample)."""
    return estimators.register(kind, config, build)


# ---------------------------------------------------------------- plugin files
_PLUGIN_FILES: dict[str, Any] = {}
"""Loaded plugin modules by the SHA-256 of their source."""


def load_plugin(path: str | Path):
    """Import the Python file at ``path``, which registers its kinds. Identical source is loaded once per
    process wherever it lies (a result folder's copy of a plugin reuses the original); a file edited since it
    was loaded is loaded again and replaces its own kinds."""
    path = Path(path).resolve()
    source = path.read_bytes()
    content = hashlib.sha256(source).hexdigest()
    if content in _PLUGIN_FILES:
        return _PLUGIN_FILES[content]
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
    name = f"simsplit_plugin_{re.sub(r'[^A-Za-z0-9_]', '_', path.stem)}_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ValueError(f"expected a Python file, got {path.name}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    _PLUGIN_FILES[content] = module
    return module
