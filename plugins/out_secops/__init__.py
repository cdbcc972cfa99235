"""Built-in sink ``secops``: Google Security Operations (Chronicle) log import."""

from agent.sdk import hookimpl
from plugins.out_secops.sink import SecOpsSink


@hookimpl
def register_sinks(register):  # type: ignore[no-untyped-def]
    register(SecOpsSink)
