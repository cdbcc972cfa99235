"""Built-in decoder ``zeropath``: ZeroPath webhooks, all 24 event types."""

from agent.sdk import Register, TypeRef, hookimpl


@hookimpl
def register_decoders(register: Register) -> None:
    register(TypeRef("zeropath", "plugins.dec_zeropath.decoder:ZeroPathDecoder"))
