"""Built-in decoder ``auto``: recognises the vendor by the payload's shape."""

from agent.sdk import Register, TypeRef, hookimpl


@hookimpl
def register_decoders(register: Register) -> None:
    register(TypeRef("auto", "plugins.dec_auto.decoder:AutoDecoder"))
