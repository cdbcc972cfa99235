"""Built-in sink ``splunk_hec``: Splunk HTTP Event Collector."""

from agent.sdk import Register, hookimpl
from plugins.out_splunk_hec.sink import SplunkHecSink


@hookimpl
def register_sinks(register: Register) -> None:
    register(SplunkHecSink)
