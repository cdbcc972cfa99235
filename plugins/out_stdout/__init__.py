"""Built-in sink ``stdout``: JSON lines on standard output."""

from agent.sdk import Register, hookimpl
from plugins.out_stdout.sink import StdoutSink


@hookimpl
def register_sinks(register: Register) -> None:
    register(StdoutSink)
