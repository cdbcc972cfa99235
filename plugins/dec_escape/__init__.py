"""Built-in decoder ``escape``: Escape's workflow export webhook (issues, assets, scans, ...)."""

from agent.sdk import Register, hookimpl
from plugins.dec_escape.decoder import EscapeDecoder


@hookimpl
def register_decoders(register: Register) -> None:
    register(EscapeDecoder)
