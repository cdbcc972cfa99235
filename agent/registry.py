"""The component registry: every source, decoder and sink type the plugins offered."""

from __future__ import annotations

import importlib
from typing import Any, Callable, Iterator, Literal, cast

from agent.sdk.decoder import PLUGIN_API_VERSION, Decoder
from agent.sdk.hookspecs import TypeRef
from agent.sdk.sink import Sink
from agent.sdk.source import Source

__all__ = ["ComponentType", "ComponentRegistry", "RegistryError", "Kind"]

Kind = Literal["source", "decoder", "sink"]
_BASES: dict[Kind, type] = {"source": Source, "decoder": Decoder, "sink": Sink}


class RegistryError(Exception):
    """A plugin registered something unusable (wrong base class, duplicate name, API)."""


class ComponentType:
    """One registered type: its kind, name, class and the plugin that brought it.

    A type registered by reference (:class:`~agent.sdk.hookspecs.TypeRef`) imports its
    class the first time :meth:`load` or :attr:`cls` (or :attr:`schema`, :attr:`description`) is read;
    until then only its name and plugin are known. A class that cannot be imported, or is
    not what was registered, raises :class:`RegistryError` there.
    """

    __slots__ = ("kind", "name", "plugin", "version", "_cls", "_target")

    def __init__(self, kind: Kind, name: str, plugin: str, version: str = "", cls: type | None = None,
                 target: str = "") -> None:
        self.kind = kind
        self.name = name
        self.plugin = plugin
        self.version = version
        self._cls = cls
        self._target = target

    def __repr__(self) -> str:
        return f"ComponentType({self.kind!r}, {self.name!r}, plugin={self.plugin!r})"

    @property
    def loaded(self) -> bool:
        """Whether the class is imported (always, for a type registered by class)."""
        return self._cls is not None

    def load(self) -> type:
        """The class, imported now if it was registered by reference.

        :raises RegistryError: it cannot be imported, or is not what was registered.
        """
        if self._cls is None:
            self._cls = _import_type(self.kind, self.name, self._target, self.plugin)
        return self._cls

    @property
    def cls(self) -> type:
        return self.load()

    @property
    def description(self) -> str:
        return str(getattr(self.cls, "description", "") or "")

    @property
    def schema(self) -> dict[str, Any]:
        return dict(getattr(self.cls, "CONFIG_SCHEMA", {}) or {})


def _checked(kind: Kind, cls: object, plugin: str) -> str:
    """The type name of ``cls``, registered by ``plugin`` as a ``kind``; RegistryError when unusable."""
    base = _BASES[kind]
    if not isinstance(cls, type) or not issubclass(cls, base):
        raise RegistryError(f"plugin {plugin!r} registered {cls!r} as a {kind}, but it is not a subclass of {base.__module__}.{base.__name__}")
    name = getattr(cls, "type_name", None)
    if not isinstance(name, str) or not name.isidentifier():
        raise RegistryError(f"plugin {plugin!r}: {cls.__name__}.type_name must be a snake_case name, got {name!r}")
    api = getattr(cls, "api_version", None)
    if api != PLUGIN_API_VERSION:
        raise RegistryError(
            f"plugin {plugin!r}: {kind} type {name!r} was written for plugin API version {api}, "
            f"this siemrelay speaks version {PLUGIN_API_VERSION}; upgrade the plugin or siemrelay")
    return name


def _import_type(kind: Kind, name: str, target: str, plugin: str) -> type:
    """The class ``target`` names (``module:Class``), checked as registering it checks it."""
    module, _, attribute = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module), attribute)
    except Exception as exc:  # a broken plugin module: reported where the type is used
        raise RegistryError(f"plugin {plugin!r}: {kind} type {name!r} cannot be imported from {target}: "
                            f"{type(exc).__name__}: {exc}") from None
    if _checked(kind, cls, plugin) != name:
        raise RegistryError(f"plugin {plugin!r} registered {kind} type {name!r}, but {target} is type "
                            f"{getattr(cls, 'type_name', None)!r}")
    return cast(type, cls)


class ComponentRegistry:
    """Types keyed by kind and name. Duplicate names are refused, naming both plugins."""

    def __init__(self) -> None:
        self._types: dict[Kind, dict[str, ComponentType]] = {"source": {}, "decoder": {}, "sink": {}}

    def registrar(self, kind: Kind, plugin: str, version: str = "") -> Callable[[type | TypeRef], None]:
        """Return the ``register`` callable handed to one plugin's ``register_<kind>s`` hook."""

        def register(cls: type | TypeRef) -> None:
            self.add(kind, cls, plugin, version)

        return register

    def add(self, kind: Kind, cls: type | TypeRef, plugin: str, version: str = "") -> ComponentType:
        if isinstance(cls, TypeRef):
            name = cls.type_name
            if not isinstance(name, str) or not name.isidentifier() or ":" not in cls.target:
                raise RegistryError(f"plugin {plugin!r}: TypeRef({name!r}, {cls.target!r}) needs a snake_case name "
                                    "and a 'module:Class' target")
            ct = ComponentType(kind, name, plugin, version, target=cls.target)
        else:
            name = _checked(kind, cls, plugin)
            ct = ComponentType(kind, name, plugin, version, cls=cls)
        existing = self._types[kind].get(name)
        if existing is not None:  # the same class or reference again is harmless (the first stays); anything else is not
            if (ct._cls is not None and existing._cls is ct._cls) or (ct._target and existing._target == ct._target):
                return existing
            raise RegistryError(f"{kind} type {name!r} is registered twice: by plugin {existing.plugin!r} and by plugin {plugin!r}")
        self._types[kind][name] = ct
        return ct

    def remove(self, kind: Kind, name: str) -> None:
        """Forget a type (one whose class could not be imported)."""
        self._types[kind].pop(name, None)

    def get(self, kind: Kind, name: str) -> ComponentType | None:
        return self._types[kind].get(name)

    def names(self, kind: Kind) -> list[str]:
        return sorted(self._types[kind])

    def __iter__(self) -> Iterator[ComponentType]:
        for kind in ("source", "decoder", "sink"):
            for name in sorted(self._types[kind]):
                yield self._types[kind][name]
