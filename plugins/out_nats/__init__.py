"""Built-in sink ``nats``: publish events to a NATS JetStream subject, one message per event."""

from agent.sdk.hookspecs import hookimpl
from plugins.out_nats.sink import NatsSink


@hookimpl
def register_sinks(register):  # type: ignore[no-untyped-def]
    register(NatsSink)
