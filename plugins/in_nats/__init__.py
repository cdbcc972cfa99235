"""Built-in source ``nats``: a durable JetStream pull consumer shared by a pool of relay agents."""

from agent.sdk.hookspecs import hookimpl
from plugins.in_nats.source import NatsSource


@hookimpl
def register_sources(register):  # type: ignore[no-untyped-def]
    register(NatsSource)
