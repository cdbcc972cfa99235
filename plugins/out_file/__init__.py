"""Built-in sink ``file``: JSON lines with size-based rotation."""

from agent.sdk import Register, TypeRef, hookimpl


@hookimpl
def register_sinks(register: Register) -> None:
    register(TypeRef("file", "plugins.out_file.sink:FileSink"))
