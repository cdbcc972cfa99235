"""Built-in sink ``stdout``: JSON lines on standard output."""

from agent.sdk import Register, TypeRef, hookimpl


@hookimpl
def register_sinks(register: Register) -> None:
    register(TypeRef("stdout", "plugins.out_stdout.sink:StdoutSink"))
