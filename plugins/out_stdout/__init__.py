"""Built-in sink ``stdout``: JSON lines on standard output."""

from agent.sdk.hookspecs import hookimpl
from plugins.out_stdout.sink import StdoutSink


@hookimpl
def register_sinks(register):  # type: ignore[no-untyped-def]
    register(StdoutSink)
