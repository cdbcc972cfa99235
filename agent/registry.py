"""The component registry: every source, decoder and sink type the plugins offered."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Literal

from agent.sdk.decoder import PLUGIN_API_VERSION, Decoder
from agent.sdk.sink import Sink
from agent.sdk.source import Source

__all__ = ["ComponentType", "ComponentRegistry", "RegistryError", "Kind"]

Kind = Literal["source", "decoder", "sink"]
_BASES: dict[Kind, type] = {"source": Source, "decoder": Decoder, "sink": Sink}


class RegistryError(Exception):
    """A plugin registered something unusable (wrong base class, duplicate name, API)."""


@dataclass(frozen=True, slots=True)
class ComponentType:
    """One registered type: its kind, name, class and the plugin that brought it."""

    kind: Kind
    name: str
    cls: type
    plugin: str
    version: str = ""

    @property
    def description(self) -> str:
        return str(getattr(self.cls, "description", "") or "")

    @property
    def schema(self) -> dict[str, Any]:
        return dict(getattr(self.cls, "CONFIG_SCHEMA", {}) or {})


class ComponentRegistry:
    """Types keyed by kind and name. Duplicate names are refused, naming both plugins."""

    def __init__(self) -> None:
        self._types: dict[Kind, dict[str, ComponentType]] = {"source": {}, "decoder": {}, "sink": {}}

    def registrar(self, kind: Kind, plugin: str, version: str = "") -> Any:
        """Return the ``register`` callable handed to one plugin's ``register_<kind>s`` hook."""

        def register(cls: type) -> None:
            self.add(kind, cls, plugin, version)

        return register

    def add(self, kind: Kind, cls: type, plugin: str, version: str = "") -> ComponentType:
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
        existing = self._types[kind].get(name)
        if existing is not None and existing.cls is not cls:
            raise RegistryError(f"{kind} type {name!r} is registered twice: by plugin {existing.plugin!r} and by plugin {plugin!r}")
        ct = ComponentType(kind, name, cls, plugin, version)
        self._types[kind][name] = ct
        return ct

    def get(self, kind: Kind, name: str) -> ComponentType | None:
        return self._types[kind].get(name)

    def names(self, kind: Kind) -> list[str]:
        return sorted(self._types[kind])

    def __iter__(self) -> Iterator[ComponentType]:
        for kind in ("source", "decoder", "sink"):
            for name in sorted(self._types[kind]):
                yield self._types[kind][name]
