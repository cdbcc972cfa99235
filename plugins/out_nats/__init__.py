"""Built-in sink ``nats``: publish events to a NATS JetStream subject, one message per event."""

from agent.sdk import Register, TypeRef, hookimpl


@hookimpl
def register_sinks(register: Register) -> None:
    register(TypeRef("nats", "plugins.out_nats.sink:NatsSink"))
