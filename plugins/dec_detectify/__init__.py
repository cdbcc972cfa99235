"""Built-in decoder ``detectify``: Detectify webhooks, current and legacy messages."""

from agent.sdk import Register, TypeRef, hookimpl


@hookimpl
def register_decoders(register: Register) -> None:
    register(TypeRef("detectify", "plugins.dec_detectify.decoder:DetectifyDecoder"))
