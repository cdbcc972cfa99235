"""Built-in sink ``sentinel``: Microsoft Sentinel / Azure Monitor Logs Ingestion API."""

from agent.sdk import Register, hookimpl
from plugins.out_sentinel.sink import SentinelSink


@hookimpl
def register_sinks(register: Register) -> None:
    register(SentinelSink)
