"""Built-in sink ``nats``: publish events to a NATS JetStream subject, one message per event."""

from agent.sdk import Register, hookimpl
from plugins.out_nats.sink import NatsSink


@hookimpl
def register_sinks(register: Register) -> None:
    register(NatsSink)
