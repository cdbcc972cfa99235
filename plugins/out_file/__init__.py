"""Built-in sink ``file``: JSON lines with size-based rotation."""

from agent.sdk import Register, hookimpl
from plugins.out_file.sink import FileSink


@hookimpl
def register_sinks(register: Register) -> None:
    register(FileSink)
