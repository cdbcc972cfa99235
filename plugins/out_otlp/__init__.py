"""Built-in sink ``otlp``: OpenTelemetry logs over OTLP/HTTP (protobuf or JSON)."""

from agent.sdk import Register, hookimpl
from plugins.out_otlp.sink import OtlpSink


@hookimpl
def register_sinks(register: Register) -> None:
    register(OtlpSink)
