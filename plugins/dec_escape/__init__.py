"""Built-in decoder ``escape``: Escape's workflow export webhook (issues, assets, scans, ...)."""

from agent.sdk.hookspecs import hookimpl
from plugins.dec_escape.decoder import EscapeDecoder


@hookimpl
def register_decoders(register):  # type: ignore[no-untyped-def]
    register(EscapeDecoder)
