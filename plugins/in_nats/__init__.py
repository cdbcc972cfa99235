"""Built-in source ``nats``: a durable JetStream pull consumer shared by a pool of relay agents."""

from agent.sdk import Register, hookimpl
from plugins.in_nats.source import NatsSource


@hookimpl
def register_sources(register: Register) -> None:
    register(NatsSource)
