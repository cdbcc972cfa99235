"""Built-in sink ``sentinel``: Microsoft Sentinel / Azure Monitor Logs Ingestion API."""

from agent.sdk import hookimpl
from plugins.out_sentinel.sink import SentinelSink


@hookimpl
def register_sinks(register):  # type: ignore[no-untyped-def]
    register(SentinelSink)
