"""Built-in decoder ``escape``: Escape's workflow export webhook (issues, assets, scans, ...)."""

from agent.sdk import Register, TypeRef, hookimpl


@hookimpl
def register_decoders(register: Register) -> None:
    register(TypeRef("escape", "plugins.dec_escape.decoder:EscapeDecoder"))
