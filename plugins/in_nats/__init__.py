"""Built-in source ``nats``: a durable JetStream pull consumer shared by a pool of relay agents."""

from agent.sdk import Register, TypeRef, hookimpl


@hookimpl
def register_sources(register: Register) -> None:
    register(TypeRef("nats", "plugins.in_nats.source:NatsSource"))
