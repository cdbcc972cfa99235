"""Built-in sink ``splunk_hec``: Splunk HTTP Event Collector."""

from agent.sdk import Register, TypeRef, hookimpl


@hookimpl
def register_sinks(register: Register) -> None:
    register(TypeRef("splunk_hec", "plugins.out_splunk_hec.sink:SplunkHecSink"))
