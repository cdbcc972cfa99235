"""Built-in source ``otlp`` (OTLP/HTTP logs in) and its decoder ``otlp`` (LogRecord → Event)."""

from agent.sdk import Register, TypeRef, hookimpl


@hookimpl
def register_sources(register: Register) -> None:
    register(TypeRef("otlp", "plugins.in_otlp.source:OtlpSource"))


@hookimpl
def register_decoders(register: Register) -> None:
    register(TypeRef("otlp", "plugins.in_otlp.decoder:OtlpDecoder"))
