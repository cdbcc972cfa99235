"""Build the plugin manager and collect component types from every plugin.

Built-ins are listed in :data:`DEFAULT_PLUGINS` and registered by import, exactly as a
third-party module found through the ``siemrelay`` entry-point group is: no back door.
A plugin that fails to import, or whose hook raises, is recorded in
:attr:`PluginSet.failures` and skipped; the agent refuses to start only when a
configured component needs a type that plugin would have provided.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from typing import Any, Iterable

import pluggy

from agent.sdk import hookspecs
from agent.registry import ComponentRegistry, Kind, RegistryError

__all__ = ["DEFAULT_PLUGINS", "call_hook_each", "PluginFailure", "PluginInfo", "PluginSet", "build_plugin_manager", "load_plugins"]

def builtin_plugin_modules() -> tuple[str, ...]:
    """Every package under ``plugins/`` (``plugins.in_http``, ``plugins.out_cef``, ...), sorted.

    Built-ins are found by listing the package rather than by a hand-kept tuple, so a
    new built-in plugin is a new folder and nothing else.
    """
    import pkgutil

    import plugins

    return tuple(sorted(f"plugins.{m.name}" for m in pkgutil.iter_modules(plugins.__path__) if m.ispkg))


DEFAULT_PLUGINS: tuple[str, ...] = builtin_plugin_modules()

_HOOKS: tuple[tuple[str, Kind], ...] = (
    ("register_sources", "source"),
    ("register_decoders", "decoder"),
    ("register_sinks", "sink"),
)


@dataclass(frozen=True, slots=True)
class PluginFailure:
    """A plugin that could not be used, and why (shown by ``siemrelay plugins``)."""

    plugin: str
    origin: str
    error: str


@dataclass(frozen=True, slots=True)
class PluginInfo:
    """A loaded plugin: its name, where it came from, and its distribution version."""

    name: str
    origin: str  # "builtin" or "entry point <dist>"
    version: str
    module: str


@dataclass(slots=True)
class PluginSet:
    """The plugin manager with what it loaded: types, plugin infos and failures."""

    pm: pluggy.PluginManager
    registry: ComponentRegistry
    plugins: list[PluginInfo] = field(default_factory=list)
    failures: list[PluginFailure] = field(default_factory=list)

    def is_builtin(self, plugin: str) -> bool:
        """Whether ``plugin`` (a :attr:`ComponentType.plugin <agent.registry.ComponentType.plugin>`)
        is one of siemrelay's own, loaded from ``plugins/``."""
        return any(p.name == plugin and p.origin == "builtin" for p in self.plugins)

    def import_all(self) -> None:
        """Import every type registered by reference (what lists or describes every type
        needs: ``siemrelay plugins``, the configuration reference, the JSON Schema). A type
        that cannot be imported becomes its plugin's failure and is dropped."""
        for ct in list(self.registry):
            if ct.loaded:
                continue
            try:
                ct.load()
            except RegistryError as exc:
                self.failures.append(PluginFailure(ct.plugin, f"{ct.kind} type {ct.name}", str(exc)))
                self.registry.remove(ct.kind, ct.name)


def _env_list(name: str) -> list[str] | None:
    value = os.environ.get(name)
    if value is None:
        return None
    return [item.strip() for item in value.split(",") if item.strip()]


def build_plugin_manager() -> pluggy.PluginManager:
    """Return a plugin manager that knows siemrelay's hook specifications."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    return pm


def _register_checked(pm: pluggy.PluginManager, obj: object, name: str) -> None:
    """Register ``obj``; a hook implementation that matches no hookspec (a misspelt
    ``register_sink``) unregisters it and raises, so it is reported as that plugin's
    failure instead of ``check_pending`` failing the whole agent."""
    pm.register(obj, name=name)
    unknown = sorted({caller.name for caller in pm.get_hookcallers(obj) or ()
                      if not caller.has_spec() and any(impl.plugin is obj and not impl.optionalhook
                                                       for impl in caller.get_hookimpls())})
    if unknown:
        pm.unregister(obj, name=name)
        known = ", ".join(sorted(n for n, f in vars(hookspecs).items() if hasattr(f, f"{hookspecs.PROJECT}_spec")))
        raise ValueError(f"unknown hook {', '.join(repr(u) for u in unknown)} (hooks are: {known})")


def call_hook_each(pm: pluggy.PluginManager, hook_name: str, **kwargs: object) -> list[tuple[str, BaseException]]:
    """Call every plugin's implementation of ``hook_name`` on its own, so one that raises
    neither stops the others nor the caller; return ``(plugin name, exception)`` for those
    that raised."""
    failed: list[tuple[str, BaseException]] = []
    for impl in reversed(getattr(pm.hook, hook_name).get_hookimpls()):  # pluggy's call order
        try:
            impl.function(*[kwargs[a] for a in impl.argnames])
        except Exception as exc:
            failed.append((impl.plugin_name, exc))
    return failed


def load_plugins(*, entry_points: bool = True, builtins: Iterable[str] = DEFAULT_PLUGINS,
                 allow: Iterable[str] | None = None, block: Iterable[str] = (),
                 extra: Iterable[tuple[str, Any]] = (), kinds: Iterable[Kind] = ("source", "decoder", "sink")) -> PluginSet:
    """Register the built-ins and the entry-point plugins, then collect their types.

    :param entry_points: load third-party plugins from the ``siemrelay`` group.
    :param allow: only these plugin names (default: ``SIEMRELAY_LOAD_PLUGINS``, or all).
    :param block: never these (plus ``SIEMRELAY_DISABLED_PLUGINS``).
    :param extra: ``(name, module_or_object)`` pairs registered directly (tests).
    :param kinds: collect only these kinds of types: the preparing child asks for decoders
        alone, so a plugin that imports its source or sink inside the hook (``in_otlp``)
        does not load them there.
    """
    pm = build_plugin_manager()
    allowed = set(allow) if allow is not None else (set(_env_list("SIEMRELAY_LOAD_PLUGINS") or []) or None)
    blocked = set(block) | set(_env_list("SIEMRELAY_DISABLED_PLUGINS") or [])
    result = PluginSet(pm=pm, registry=ComponentRegistry())

    def wanted(name: str) -> bool:
        if name in blocked:
            pm.set_blocked(name)
            return False
        return allowed is None or name in allowed

    from agent.version import __version__

    for modname in builtins:
        if not wanted(modname):
            continue
        try:
            module = importlib.import_module(modname)
            _register_checked(pm, module, modname)
            result.plugins.append(PluginInfo(modname, "builtin", __version__, modname))
        except Exception as exc:  # a broken plugin disables itself, not the agent
            result.failures.append(PluginFailure(modname, "builtin", f"{type(exc).__name__}: {exc}"))

    if entry_points:
        from importlib import metadata  # here: it brings email and zipfile, which a process without entry points never uses

        for ep in metadata.entry_points(group=hookspecs.PROJECT):
            if not wanted(ep.name) or pm.get_plugin(ep.name) is not None:
                continue
            dist = ep.dist.name if ep.dist else "?"
            version = ep.dist.version if ep.dist else ""
            origin = f"entry point of {dist}"
            try:
                obj = ep.load()
                _register_checked(pm, obj, ep.name)
                result.plugins.append(PluginInfo(ep.name, origin, version, ep.value))
            except Exception as exc:
                result.failures.append(PluginFailure(ep.name, origin, f"{type(exc).__name__}: {exc}"))

    for name, obj in extra:
        try:
            _register_checked(pm, obj, name)
        except Exception as exc:
            result.failures.append(PluginFailure(name, "direct", f"{type(exc).__name__}: {exc}"))
            continue
        result.plugins.append(PluginInfo(name, "direct", "", getattr(obj, "__name__", repr(obj))))

    pm.check_pending()
    if os.environ.get("SIEMRELAY_TRACE_PLUGINS"):
        from loguru import logger

        pm.trace.root.setwriter(lambda msg: logger.debug("plugin trace: {}", msg.rstrip()))
        pm.enable_tracing()

    versions = {p.name: p.version for p in result.plugins}
    wanted_kinds = set(kinds)
    for hook_name, kind in _HOOKS:
        if kind not in wanted_kinds:
            continue
        caller = getattr(pm.hook, hook_name)
        for impl in caller.get_hookimpls():
            register = result.registry.registrar(kind, impl.plugin_name, versions.get(impl.plugin_name, ""))
            try:
                impl.function(register=register)
            except RegistryError as exc:
                result.failures.append(PluginFailure(impl.plugin_name, hook_name, str(exc)))
            except Exception as exc:
                result.failures.append(PluginFailure(impl.plugin_name, hook_name, f"{type(exc).__name__} in {hook_name}: {exc}"))
    return result
