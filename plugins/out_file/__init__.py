"""Built-in sink ``file``: JSON lines with size-based rotation."""

from agent.sdk.hookspecs import hookimpl
from plugins.out_file.sink import FileSink


@hookimpl
def register_sinks(register):  # type: ignore[no-untyped-def]
    register(FileSink)
