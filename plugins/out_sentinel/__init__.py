"""Built-in sink ``sentinel``: Microsoft Sentinel / Azure Monitor Logs Ingestion API."""

from agent.sdk import Register, TypeRef, hookimpl


@hookimpl
def register_sinks(register: Register) -> None:
    register(TypeRef("sentinel", "plugins.out_sentinel.sink:SentinelSink"))
