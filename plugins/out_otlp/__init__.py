"""Built-in sink ``otlp``: OpenTelemetry logs over OTLP/HTTP (protobuf or JSON)."""

from agent.sdk import Register, TypeRef, hookimpl


@hookimpl
def register_sinks(register: Register) -> None:
    register(TypeRef("otlp", "plugins.out_otlp.sink:OtlpSink"))
