"""The hooks a siemrelay plugin implements. Their docstrings are the plugin reference.

A plugin is a module (or object) with functions decorated by :data:`hookimpl`. It is
found either in ``agent.plugins.DEFAULT_PLUGINS`` (the built-ins) or through the
``siemrelay`` entry-point group (everyone else); both are registered the same way.

Component hooks receive a ``register`` callable rather than returning values (the
pattern of llm's ``register_models``): a plugin may register several types, and an
error names the plugin that caused it.
"""

from __future__ import annotations

from typing import Callable

import pluggy

from agent.sdk.running import RunningAgent

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
def startup(agent: RunningAgent) -> None:
    """Called once when the sinks and their workers run and the sources are built, before any source starts.

    No event can arrive yet, so a hook can prepare what sinks, decoders or sources need
    (a lookup file, a directory, a login) and be sure the first event finds it. Sources
    start when every hook has returned; a hook that raises is logged and the agent runs on.

    :param agent: the running agent (:class:`agent.sdk.RunningAgent`; read-only use).
    """


@hookspec
def shutdown(agent: RunningAgent) -> None:
    """Called once after sources stopped and sinks were flushed and closed.

    :param agent: the agent that is stopping (:class:`agent.sdk.RunningAgent`).
    """
