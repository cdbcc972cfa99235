"""From a loaded configuration to validated sections and constructed components.

``siemrelay validate`` and ``siemrelay run`` share this code, so validation is the
same check as start-up: every section is validated against the core schema plus its
plugin's schema, every component is constructed (no threads, no sockets), and every
problem is reported at once with its file, line and key path.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, cast

from loguru import logger

from agent.config.loader import LoadedConfig, SourceMap
from agent.sdk.decoder import Decoder
from agent.sdk.secrets import secret_keys, secret_values
from agent.errors import ConfigError, Problem
from agent.plugins import PluginSet
from agent.registry import ComponentType, Kind
from agent.routing.router import Router, compile_routes
from agent.config.schema import (AGENT_SCHEMA, ROUTE_SCHEMA, TOP_SCHEMA, compose_sink_schema, compose_source_schema,
                          validate_section, with_nested_defaults)
from agent.sdk.sink import Sink, SinkContext
from agent.sdk.source import Source, SourceContext, Submitted, SubmitStatus

__all__ = ["AgentConfig", "validate_config", "DecoderFactory", "build_sinks", "build_sources"]


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

    @property
    def smap(self) -> SourceMap:
        return self.loaded.smap

    @property
    def state_dir(self) -> Path:
        return Path(self.agent["state_dir"])


def _unknown_type(kind: Kind, name: str, plugins: PluginSet) -> str:
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


def _check_config(cls: type, config: dict[str, Any]) -> list[str]:
    check = getattr(cls, "check_config", None)
    if check is None:
        return []
    try:
        return list(check(config) or [])
    except Exception as exc:  # a plugin bug in its own check must not hide the other problems
        return [f"the plugin's configuration check failed: {type(exc).__name__}: {exc}"]


def _validate_components(kind: Kind, section: Any, plugins: PluginSet, smap: SourceMap,
                         problems: list[Problem], proxy: dict[str, Any] | None = None,
                         ) -> dict[str, tuple[ComponentType, dict[str, Any]]]:
    """Validate each component section; a sink with a ``proxy`` key and no block of its own gets ``proxy``."""
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
            problems.append(smap.problem(path + ("type",), _unknown_type(kind, type_name, plugins)))
            continue
        if kind == "sink":
            schema = compose_sink_schema(ct.schema, getattr(ct.cls, "DEFAULTS", {}))
            if proxy and "proxy" in schema and "proxy" not in body:
                body = {**body, "proxy": proxy}  # agent.proxy: the default of every HTTP sink
        else:
            schema = compose_source_schema(ct.schema)
        doc = validate_section(body, schema, smap, path, problems, secret_keys(ct.cls))
        if doc is None:
            continue
        for msg in _check_config(ct.cls, doc):
            problems.append(smap.problem(path, msg))
        out[name] = (ct, cast("type[Sink]", ct.cls).derive_config(doc) if kind == "sink" else doc)
    return out


def validate_config(loaded: LoadedConfig, plugins: PluginSet) -> AgentConfig:
    """Validate every section of ``loaded``; raise :class:`ConfigError` listing all problems."""
    smap = loaded.smap
    problems: list[Problem] = []
    top = validate_section(loaded.data, with_nested_defaults(TOP_SCHEMA), smap, (), problems)
    if top is None:
        raise ConfigError(problems)
    agent = validate_section(top["agent"], with_nested_defaults(AGENT_SCHEMA), smap, ("agent",), problems) or {}
    sources = _validate_components("source", top["sources"], plugins, smap, problems)
    sinks = _validate_components("sink", top["sinks"], plugins, smap, problems, agent.get("proxy"))
    decoders: dict[str, Any] = {}
    for name, body in (top.get("decoders") or {}).items():
        if not isinstance(body, dict) or not isinstance(body.get("type"), str):
            problems.append(smap.problem(("decoders", name), "expected a mapping with a decoder 'type'"))
            continue
        decoders[name] = body
    routes: list[dict[str, Any]] = []
    for i, r in enumerate(top["routes"]):
        doc = validate_section(r, with_nested_defaults(ROUTE_SCHEMA), smap, ("routes", i), problems)
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
                       routes=routes, router=router, secrets=set(loaded.secrets) | {
                           v for ct, cfg in (*sources.values(), *sinks.values()) for v in secret_values(cfg, secret_keys(ct.cls))})


class DecoderFactory:
    """Builds decoders from a source's ``decoder:`` value: a type name, a named entry of
    the top-level ``decoders:`` section, or ``{type: NAME, ...options}``."""

    def __init__(self, plugins: PluginSet, named: dict[str, Any], smap: SourceMap) -> None:
        self.plugins = plugins
        self.named = named
        self.smap = smap

    def __call__(self, spec: Any, path: tuple[Any, ...] = ()) -> Decoder:
        where = path
        if isinstance(spec, str):
            if spec in self.named:
                where = ("decoders", spec)
                spec = self.named[spec]
            else:
                spec = {"type": spec}
        if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
            raise ConfigError(self.smap.problem(where, "expected a decoder name or a mapping with 'type'"))
        ct = self.plugins.registry.get("decoder", spec["type"])
        if ct is None:
            raise ConfigError(self.smap.problem(where, _unknown_type("decoder", spec["type"], self.plugins)))
        schema = with_nested_defaults({"type": {"type": "string", "required": True}, **ct.schema})
        problems: list[Problem] = []
        doc = validate_section(spec, schema, self.smap, where, problems)
        if doc is None:
            raise ConfigError(problems)
        for msg in _check_config(ct.cls, doc):
            problems.append(self.smap.problem(where, msg))
        if problems:
            raise ConfigError(problems)
        try:
            decoder: Decoder = ct.cls(doc)
        except ConfigError:
            raise
        except Exception as exc:
            raise ConfigError(self.smap.problem(where, f"decoder {spec['type']!r} failed to start: {type(exc).__name__}: {exc}")) from None
        decoder.use_decoders(lambda name: self({"type": name}, where))  # `auto` hands records on by type name
        return decoder


def _refuse(*_: Any, **__: Any) -> Submitted:
    return Submitted(SubmitStatus.CLOSED)


def build_sinks(cfg: AgentConfig, redact: Callable[[str], str]) -> dict[str, Sink]:
    """Construct every enabled sink (no I/O); raise ConfigError naming each failure."""
    out: dict[str, Sink] = {}
    problems: list[Problem] = []
    for name, (ct, conf) in cfg.sinks.items():
        if not conf.get("enabled", True):
            continue
        ctx = SinkContext(name=name, logger=logger.bind(component="sink", name=name),
                          state_dir=cfg.state_dir / "sinks" / name, redact=redact)
        try:
            out[name] = ct.cls(name, conf, ctx)
        except ConfigError as exc:
            problems.extend(exc.problems)
        except Exception as exc:
            problems.append(cfg.smap.problem(("sinks", name), f"sink type {ct.name!r} (plugin {ct.plugin}) failed to start: "
                                                              f"{type(exc).__name__}: {redact(str(exc))}"))
    if problems:
        raise ConfigError(problems)
    return out


def build_sources(cfg: AgentConfig, plugins: PluginSet, redact: Callable[[str], str],
                  submit: Callable[..., Submitted] | None = None, stopping: Any = None) -> dict[str, Source]:
    """Construct every enabled source (no threads, no sockets)."""
    import threading

    factory = DecoderFactory(plugins, cfg.decoders, cfg.smap)
    stopping = stopping or threading.Event()
    out: dict[str, Source] = {}
    problems: list[Problem] = []
    for name, (ct, conf) in cfg.sources.items():
        if not conf.get("enabled", True):
            continue

        def build_decoder(spec: Any, key: str | tuple[Any, ...] = "decoder", _name: str = name) -> Decoder:
            # key: where the spec sits in this source's section, so an error names that line
            return factory(spec, ("sources", _name) + (key if isinstance(key, tuple) else (key,)))

        ctx = SourceContext(name=name, logger=logger.bind(component="source", name=name),
                            state_dir=cfg.state_dir / "sources" / name, submit=submit or _refuse,
                            build_decoder=build_decoder, stopping=stopping, redact=redact)
        try:
            out[name] = ct.cls(name, conf, ctx)
        except ConfigError as exc:
            problems.extend(exc.problems)
        except Exception as exc:
            problems.append(cfg.smap.problem(("sources", name), f"source type {ct.name!r} (plugin {ct.plugin}) failed to start: "
                                                                f"{type(exc).__name__}: {redact(str(exc))}"))
    if problems:
        raise ConfigError(problems)
    return out
