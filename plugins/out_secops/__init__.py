"""Built-in sink ``secops``: Google Security Operations (Chronicle) log import."""

from agent.sdk import Register, hookimpl
from plugins.out_secops.sink import SecOpsSink


@hookimpl
def register_sinks(register: Register) -> None:
    register(SecOpsSink)
