"""The registry of a pluggable family: a kind's name -> its scenario block (a :class:`~simsplit.core.config.Config`)
and what builds it at run time. This module knows no family: each family creates its :class:`Registry` and its
``register_*`` function beside its own base class (:mod:`simsplit.model.channel.link`,
:mod:`simsplit.model.strategies.base`, :mod:`simsplit.model.arrivals`, :mod:`simsplit.model.background`,
:mod:`simsplit.model.queues`, :mod:`simsplit.model.strategies.estimators`, :mod:`simsplit.model.mobility`);
:mod:`simsplit.plugins` gathers the public names.

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
import re
import sys
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from pydantic_core import core_schema

from simsplit.core.config import Config, FieldValueError

KIND_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

if TYPE_CHECKING:
    KindBlock = Any
    """A scenario block chosen by its ``kind``. Each kind has its own fields, so to the type checker any value;
    at run time the base :class:`Config` (the annotation error messages read a block's fields from)."""
else:
    KindBlock = Config


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
    """The kinds of one family. Each family's registry lives beside its base class, and its built-in kinds
    register when that module (or the family's package) is imported; entry points load on first read."""

    def __init__(self, family: str, *, base: type[Config] | None = None, order: tuple[str, ...] = (),
                 configured: bool = True):
        self.family = family
        self.base = base
        """The class every kind's block subclasses (None: any Config)."""
        self.order = order
        """The built-in kinds in the order listings show them (whatever order their modules import in)."""
        self.entry_point_group = f"simsplit.{family}"
        self._configured = configured
        self._kinds: dict[str, Kind] = {}
        self._order: dict[str, int] = {}
        self._loaded = False

    # ------------------------------------------------------------ registering
    def register(self, name: str, config: type[Config] | None = None, build: Callable | None = None, **options):
        """Register kind ``name``; without ``build``, a decorator that registers what it decorates.

        Registering the same (config, build) twice is a no-op, and a module registering again (a plugin file
        edited and loaded anew) replaces its own kinds; another module's kind under a taken name is an error.
        """
        if build is None:
            return lambda function: self.register(name, config, function, **options) or function
        self._check(name, config, build)
        kind = Kind(name, config, build, dict(options), getattr(build, "__module__", "") or "")
        old = self._kinds.get(name)
        if old is not None and old.origin != kind.origin and (old.config is not config or old.build is not build):
            raise ValueError(f"{self.family}: kind {name!r} is already registered by {old.origin}")
        self._kinds[name] = kind
        self._order.setdefault(name, len(self._order))
        return None

    def _check(self, name: str, config: type[Config] | None, build: Callable) -> None:
        """Refuse a malformed kind: its name, its block (``kind: Literal[name]``, the family's base) or builder."""
        if not isinstance(name, str) or not KIND_NAME.match(name):
            raise ValueError(f"{self.family}: a kind name is lower-case letters, digits and '_', got {name!r}")
        if self._configured:
            kinds = _kind_literal(config)
            if kinds != (name,):
                raise ValueError(f"{self.family}: {getattr(config, '__name__', config)!r} must be a Config subclass "
                                 f"with a field kind: Literal[{name!r}], got {kinds}")
        if self.base is not None and not (isinstance(config, type) and issubclass(config, self.base)):
            raise ValueError(f"{self.family}: {getattr(config, '__name__', config)!r} must subclass "
                             f"{self.base.__module__}.{self.base.__name__}")
        if not callable(build):
            raise ValueError(f"{self.family}: build for {name!r} must be callable, got {build!r}")

    # ------------------------------------------------------------ reading
    def __getitem__(self, name: str) -> Kind:
        self._load()
        return self._kinds[name]

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._kinds

    def names(self) -> list[str]:
        """Every kind: the built-ins in the family's ``order``, then the rest (plugins) as registered."""
        self._load()
        listed = {name: index for index, name in enumerate(self.order)}
        return sorted(self._kinds, key=lambda name: (listed.get(name, len(listed)), self._order[name]))

    def kinds(self) -> list[Kind]:
        return [self._kinds[name] for name in self.names()]

    def expected(self) -> str:
        """The kinds as an error message lists them: ``'a', 'b', 'c'``."""
        return ", ".join(repr(name) for name in self.names())

    def of(self, config: Config) -> Kind:
        """The kind of a validated block."""
        # the base Config has no kind, but every registered block has kind: Literal[name] (register checks)
        return self[config.kind]  # type: ignore[attr-defined]

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
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
    def by_kind(self) -> _KindField:
        """The metadata of a scenario field holding one block of this family, validated by the kind its ``kind``
        names: ``uplink: Annotated[KindBlock, channels.by_kind]``."""
        return _KindField(self)


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
        if isinstance(value, Config):
            kind = getattr(value, "kind", None)
            if isinstance(kind, str) and kind in registry and registry[kind].config is type(value):
                return value
        if not isinstance(value, dict) or "kind" not in value:
            raise ValueError(f"expected a mapping with a 'kind' field, got {value!r}")
        name = value["kind"]
        if not isinstance(name, str) or name not in registry:
            raise FieldValueError("kind", f"expected kind {registry.expected()}, got {name!r}")
        config = registry[name].config
        assert config is not None  # a family chosen by kind (configured) gives every kind a block
        try:
            return config.model_validate(value)
        except ValidationError as exc:
            raise NestedError(config, exc) from None


# ---------------------------------------------------------------- plugin files
_PLUGIN_FILES: dict[str, Any] = {}
"""Loaded plugin modules by the SHA-256 of their source."""


ANNOUNCE_PLUGIN: list[Callable[[Path], None]] = []
"""Called with each plugin file just before its code runs (the command line prints a notice on stderr)."""


def load_plugin(path: str | Path):
    """Import the Python file at ``path``, which registers its kinds. Identical source is loaded once per
    process wherever it lies (a result folder's copy of a plugin reuses the original); a file edited since it
    was loaded is loaded again and replaces its own kinds. Its code runs with the caller's permissions, announced
    first to every :data:`ANNOUNCE_PLUGIN` callback."""
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
    for announce in ANNOUNCE_PLUGIN:
        announce(path)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    _PLUGIN_FILES[content] = module
    return module
