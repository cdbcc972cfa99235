"""Built-in source ``file``: follow files by glob, checkpointing offsets."""

from agent.sdk.hookspecs import hookimpl
from plugins.in_tail.source import TailSource


@hookimpl
def register_sources(register):  # type: ignore[no-untyped-def]
    register(TailSource)
