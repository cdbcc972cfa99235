"""From a validated configuration to constructed components (no threads, no sockets).

``siemrelay validate`` and ``siemrelay run`` share this code: after
:func:`agent.config.validate.validate_config`, every component is constructed, and every
problem is reported at once with its file, line and key path.
"""

from __future__ import annotations

from typing import Any, Callable

from agent.config.loader import SourceMap
from agent.config.validate import AgentConfig, check_plugin_config, unknown_type
from agent.config.validate import validate_config as validate_config  # the CLI still imports it from here
from agent.sdk.decoder import Decoder
from agent.engine.decoder_key import DecoderKey, stamp
from agent.errors import ConfigError, Problem
from agent.plugins import PluginSet
from agent.registry import RegistryError
from agent.config.schema import validate_section, with_nested_defaults
from agent.sdk.sink import Sink, SinkContext
from agent.sdk.source import Source, SourceContext, Submitted, SubmitStatus

__all__ = ["DecoderFactory", "build_sinks", "build_sources"]


class DecoderFactory:
    """Builds decoders from a source's ``decoder:`` value: a type name, a named entry of
    the top-level ``decoders:`` section, or ``{type: NAME, ...options}``."""

    def __init__(self, plugins: PluginSet, named: dict[str, Any], smap: SourceMap) -> None:
        self.plugins = plugins
        self.named = named
        self.smap = smap

    def __call__(self, spec: object, path: tuple[Any, ...] = ()) -> Decoder:
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
            raise ConfigError(self.smap.problem(where, unknown_type("decoder", spec["type"], self.plugins)))
        try:
            ct.load()  # a type registered by reference is imported here, and may fail
        except RegistryError as exc:
            raise ConfigError(self.smap.problem(where, str(exc))) from None
        schema = with_nested_defaults({"type": {"type": "string", "required": True}, **ct.schema})
        problems: list[Problem] = []
        doc = validate_section(spec, schema, self.smap, where, problems, proven=self.plugins.is_builtin(ct.plugin))
        if doc is None:
            raise ConfigError(problems)
        for msg in check_plugin_config(ct.cls, doc):
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
        # how a preparing child process builds the same decoder (agent.intake.processes)
        stamp(decoder, DecoderKey.of(tuple(path), spec, doc))
        return decoder


def _refuse(*_: object, **__: object) -> Submitted:
    return Submitted(SubmitStatus.CLOSED)


def build_sinks(cfg: AgentConfig, redact: Callable[[str], str]) -> dict[str, Sink]:
    """Construct every enabled sink (no I/O); raise ConfigError naming each failure."""
    from loguru import logger  # here: the preparing child builds decoders with this module, and never logs through loguru

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
                  submit: Callable[..., Submitted] | None = None,
                  stopping: Any = None) -> dict[str, Source]:  # Any: a threading.Event, or None passed on as given
    """Construct every enabled source (no threads, no sockets)."""
    import threading

    from loguru import logger

    factory = DecoderFactory(plugins, cfg.decoders, cfg.smap)
    stopping = stopping or threading.Event()
    out: dict[str, Source] = {}
    problems: list[Problem] = []
    for name, (ct, conf) in cfg.sources.items():
        if not conf.get("enabled", True):
            continue

        def build_decoder(spec: object, key: str | tuple[Any, ...] = "decoder", _name: str = name) -> Decoder:
            # key: where the spec sits in this source's section, so an error names that line
            return factory(spec, ("sources", _name) + (key if isinstance(key, tuple) else (key,)))

        ctx = SourceContext(name=name, logger=logger.bind(component="source", name=name),
                            state_dir=cfg.state_dir / "sources" / name, submit=submit or _refuse,
                            build_decoder=build_decoder, stopping=stopping, redact=redact,
                            submit_pending=getattr(submit, "submit_async", None))
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
