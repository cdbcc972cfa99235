"""Built-in decoder ``raw``: plain text lines, optionally picked apart by a regular expression."""

from agent.sdk import Register, TypeRef, hookimpl


@hookimpl
def register_decoders(register: Register) -> None:
    register(TypeRef("raw", "plugins.dec_raw.decoder:RawDecoder"))
