"""Built-in sink ``splunk_hec``: Splunk HTTP Event Collector."""

from agent.sdk.hookspecs import hookimpl
from plugins.out_splunk_hec.sink import SplunkHecSink


@hookimpl
def register_sinks(register):  # type: ignore[no-untyped-def]
    register(SplunkHecSink)
