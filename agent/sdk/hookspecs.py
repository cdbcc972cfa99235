"""The hooks a siemrelay plugin implements. Their docstrings are the plugin reference.

A plugin is a module (or object) with functions decorated by :data:`hookimpl`. It is
found either in ``agent.plugins.DEFAULT_PLUGINS`` (the built-ins) or through the
``siemrelay`` entry-point group (everyone else); both are registered the same way.

Component hooks receive a ``register`` callable rather than returning values (the
pattern of llm's ``register_models``): a plugin may register several types, and an
error names the plugin that caused it.
"""

from __future__ import annotations

from typing import Any, Callable

import pluggy

__all__ = ["hookspec", "hookimpl", "PROJECT", "Register"]

PROJECT = "siemrelay"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

#: The ``register`` callable a ``register_*`` hook receives: ``register(MyType)`` once per type.
Register = Callable[[type], None]


@hookspec
def register_sources(register: Register) -> None:
    """Register source types (subclasses of :class:`agent.sdk.source.Source`).

    :param register: call ``register(MySource)`` once per type.
    """


@hookspec
def register_decoders(register: Register) -> None:
    """Register decoder types (subclasses of :class:`agent.sdk.decoder.Decoder`).

    :param register: call ``register(MyDecoder)`` once per type.
    """


@hookspec
def register_sinks(register: Register) -> None:
    """Register sink types (subclasses of :class:`agent.sdk.sink.Sink`).

    This is the only hook a sink plugin needs.

    :param register: call ``register(MySink)`` once per type.
    """


@hookspec
def startup(agent: Any) -> None:
    """Called once after the pipeline is built and before sources start.

    :param agent: the running :class:`agent.engine.supervisor.Supervisor` (read-only use).
    """


@hookspec
def shutdown(agent: Any) -> None:
    """Called once after sources stopped and sinks were flushed and closed.

    :param agent: the :class:`agent.engine.supervisor.Supervisor` that is stopping.
    """
