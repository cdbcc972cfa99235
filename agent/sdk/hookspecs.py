"""The hooks a siemrelay plugin implements. Their docstrings are the plugin reference.

A plugin is a module (or object) with functions decorated by :data:`hookimpl`. It is
found either in ``agent.plugins.DEFAULT_PLUGINS`` (the built-ins) or through the
``siemrelay`` entry-point group (everyone else); both are registered the same way.

Component hooks receive a ``register`` callable rather than returning values (the
pattern of llm's ``register_models``): a plugin may register several types, and an
error names the plugin that caused it.

A plugin with several types may register each by reference (:class:`TypeRef`) instead
of by class: the agent then imports a type's module only when something needs the class
(the configuration names the type, ``siemrelay plugins`` describes it), so an agent loads
the components it runs and not the others (the built-ins do this: about 4 MB of the
agent's memory for a file-to-syslog configuration, docs/hot-path.md section 16).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pluggy

from agent.sdk.running import RunningAgent

__all__ = ["hookspec", "hookimpl", "PROJECT", "Register", "TypeRef"]

PROJECT = "siemrelay"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

@dataclass(frozen=True, slots=True)
class TypeRef:
    """A component type named, and imported when first needed.

    ``register(TypeRef("syslog", "plugins.out_syslog.sink:SyslogSink"))`` registers the
    type ``syslog`` without importing its module. The class is imported, and checked as
    ``register(cls)`` checks it (base class, ``type_name`` equal to the name given here,
    plugin API version), the first time it is needed; a failure then is reported against
    the configuration that names the type, and by ``siemrelay plugins``.

    :ivar type_name: the type's name (the class's ``type_name``).
    :ivar target: ``"package.module:ClassName"``.
    """

    type_name: str
    target: str


#: The ``register`` callable a ``register_*`` hook receives: ``register(MyType)`` (or a
#: :class:`TypeRef`) once per type.
Register = Callable[["type | TypeRef"], None]


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
