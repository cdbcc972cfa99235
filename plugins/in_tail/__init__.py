"""Built-in source ``file``: follow files by glob, checkpointing offsets."""

from agent.sdk import Register, TypeRef, hookimpl


@hookimpl
def register_sources(register: Register) -> None:
    register(TypeRef("file", "plugins.in_tail.source:TailSource"))
