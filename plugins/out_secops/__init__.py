"""Built-in sink ``secops``: Google Security Operations (Chronicle) log import."""

from agent.sdk import Register, TypeRef, hookimpl


@hookimpl
def register_sinks(register: Register) -> None:
    register(TypeRef("secops", "plugins.out_secops.sink:SecOpsSink"))
