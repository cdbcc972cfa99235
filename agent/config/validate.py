"""Validation of a loaded configuration: every section against the core schema plus its
plugin's schema, routes compiled, every problem reported at once with file, line and key path.

``siemrelay validate`` and ``siemrelay run`` share this (the engine then builds the
components from the :class:`AgentConfig` it returns), so validation is the same check as
start-up.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, cast

from agent.config.loader import LoadedConfig, SourceMap
from agent.config.schema import (AGENT_SCHEMA, ROUTE_SCHEMA, TOP_SCHEMA, compose_sink_schema, compose_source_schema,
                                 validate_section, with_nested_defaults)
from agent.errors import ConfigError, Problem
from agent.plugins import PluginSet
from agent.registry import ComponentType, Kind, RegistryError
from agent.routing.router import Router, compile_routes
from agent.sdk.secrets import secret_keys, secret_values as section_secrets
from agent.sdk.sink import Sink
from agent.sdk.template import legacy_templates

__all__ = ["AgentConfig", "validate_config", "secret_values", "unknown_type", "check_plugin_config"]


@dataclass(slots=True)
class AgentConfig:
    """The validated configuration, defaults filled in, with the map back to its files."""

    loaded: LoadedConfig
    agent: dict[str, Any]
    sources: dict[str, tuple[ComponentType, dict[str, Any]]]
    sinks: dict[str, tuple[ComponentType, dict[str, Any]]]
    decoders: dict[str, Any]
    routes: list[dict[str, Any]]
    router: Router
    secrets: set[str] = field(default_factory=set)
    #: what still works but should be rewritten (deprecated template spellings), with file and line
    warnings: list[Problem] = field(default_factory=list)

    @property
    def smap(self) -> SourceMap:
        return self.loaded.smap

    @property
    def state_dir(self) -> Path:
        return Path(self.agent["state_dir"])


def unknown_type(kind: Kind, name: str, plugins: PluginSet) -> str:
    known = plugins.registry.names(kind)
    msg = f"unknown {kind} type {name!r}"
    close = difflib.get_close_matches(name, known, n=1)
    if close:
        msg += f"; did you mean {close[0]!r}?"
    elif known:
        msg += f" (known: {', '.join(known)})"
    if plugins.failures:
        msg += "; plugins that failed to load: " + "; ".join(f"{f.plugin} ({f.error})" for f in plugins.failures)
    return msg


def check_plugin_config(cls: type, config: dict[str, Any]) -> list[str]:
    check = getattr(cls, "check_config", None)
    if check is None:
        return []
    try:
        return list(check(config) or [])
    except Exception as exc:  # a plugin bug in its own check must not hide the other problems
        return [f"the plugin's configuration check failed: {type(exc).__name__}: {exc}"]


def _validate_components(kind: Kind, section: Mapping[object, object] | None, plugins: PluginSet, smap: SourceMap,
                         problems: list[Problem], proxy: dict[str, Any] | None = None,
                         warnings: list[Problem] | None = None,
                         ) -> dict[str, tuple[ComponentType, dict[str, Any]]]:
    """Validate each component section; a sink with a ``proxy`` key and no block of its own gets ``proxy``.

    :param warnings: receives deprecated template spellings in template options, at their key.
    """
    out: dict[str, tuple[ComponentType, dict[str, Any]]] = {}
    top = kind + "s"
    for name, body in (section or {}).items():
        path = (top, name)
        if not isinstance(name, str) or not name.replace("-", "_").isidentifier():
            problems.append(smap.problem(path, f"{kind} names must be letters, digits, '_' or '-', found {name!r}"))
            continue
        if not isinstance(body, dict):
            problems.append(smap.problem(path, f"expected a mapping with at least 'type', found {type(body).__name__}"))
            continue
        type_name = body.get("type")
        if not isinstance(type_name, str):
            problems.append(smap.problem(path + ("type",), "required key is missing" if type_name is None else
                                         f"expected a string, found {type(type_name).__name__}"))
            continue
        ct = plugins.registry.get(kind, type_name)
        if ct is None:
            problems.append(smap.problem(path + ("type",), unknown_type(kind, type_name, plugins)))
            continue
        try:
            ct.load()  # a type registered by reference is imported here, and may fail
        except RegistryError as exc:
            problems.append(smap.problem(path + ("type",), str(exc)))
            continue
        if kind == "sink":
            schema = compose_sink_schema(ct.schema, getattr(ct.cls, "DEFAULTS", {}))
            if proxy and "proxy" in schema and "proxy" not in body:
                body = {**body, "proxy": proxy}  # agent.proxy: the default of every HTTP sink
        else:
            schema = compose_source_schema(ct.schema)
        doc = validate_section(body, schema, smap, path, problems, secret_keys(ct.cls), proven=plugins.is_builtin(ct.plugin))
        if doc is None:
            continue
        for msg in check_plugin_config(ct.cls, doc):
            problems.append(smap.problem(path, msg))
        if warnings is not None:
            warnings.extend(smap.problem(path + rel, msg) for rel, msg in legacy_templates(schema, body))
        out[name] = (ct, cast("type[Sink]", ct.cls).derive_config(doc) if kind == "sink" else doc)
    return out


def validate_config(loaded: LoadedConfig, plugins: PluginSet) -> AgentConfig:
    """Validate every section of ``loaded``; raise :class:`ConfigError` listing all problems."""
    smap = loaded.smap
    problems: list[Problem] = []
    top = validate_section(loaded.data, with_nested_defaults(TOP_SCHEMA), smap, (), problems, proven=True)
    if top is None:
        raise ConfigError(problems)
    agent = validate_section(top["agent"], with_nested_defaults(AGENT_SCHEMA), smap, ("agent",), problems, proven=True) or {}
    sources = _validate_components("source", top["sources"], plugins, smap, problems)
    warnings: list[Problem] = []
    sinks = _validate_components("sink", top["sinks"], plugins, smap, problems, agent.get("proxy"), warnings)
    decoders: dict[str, Any] = {}
    for name, body in (top.get("decoders") or {}).items():
        if not isinstance(body, dict) or not isinstance(body.get("type"), str):
            problems.append(smap.problem(("decoders", name), "expected a mapping with a decoder 'type'"))
            continue
        decoders[name] = body
    routes: list[dict[str, Any]] = []
    for i, r in enumerate(top["routes"]):
        doc = validate_section(r, with_nested_defaults(ROUTE_SCHEMA), smap, ("routes", i), problems, proven=True)
        if doc is not None:
            routes.append(doc)
        else:
            routes.append({"name": f"#{i}", "when": {}, "to": [], "enabled": False})
    enabled_sinks = {n for n, (_, c) in sinks.items() if c.get("enabled", True)}
    disabled = set(sinks) - enabled_sinks
    # a sink whose own section is invalid is still defined: its problem is already
    # reported, and routes naming it must not add "sink ... is not defined"
    broken = {n for n in (top["sinks"] or {}) if isinstance(n, str)} - set(sinks)
    router = compile_routes(routes, enabled_sinks, smap, problems, disabled | broken)
    if problems:
        raise ConfigError(problems)
    return AgentConfig(loaded=loaded, agent=agent, sources=sources, sinks=sinks, decoders=decoders,
                       routes=routes, router=router, secrets=set(loaded.secrets) | secret_values(sources, sinks),
                       warnings=sorted(warnings, key=lambda p: (p.file, p.line)))


def secret_values(*sections: dict[str, tuple[ComponentType, dict[str, Any]]]) -> set[str]:
    """Collect the values of keys a plugin declared secret (and the always-secret keys), to redact them everywhere."""
    return {value for section in sections for ct, cfg in section.values() for value in section_secrets(cfg, secret_keys(ct.cls))}
