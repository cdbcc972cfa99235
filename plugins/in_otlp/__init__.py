"""Built-in source ``otlp`` (OTLP/HTTP logs in) and its decoder ``otlp`` (LogRecord → Event)."""

from agent.sdk import Register, hookimpl
from plugins.in_otlp.decoder import OtlpDecoder
from plugins.in_otlp.source import OtlpSource


@hookimpl
def register_sources(register: Register) -> None:
    register(OtlpSource)


@hookimpl
def register_decoders(register: Register) -> None:
    register(OtlpDecoder)
