"""Built-in source ``file``: follow files by glob, checkpointing offsets."""

from agent.sdk import Register, hookimpl
from plugins.in_tail.source import TailSource


@hookimpl
def register_sources(register: Register) -> None:
    register(TailSource)
