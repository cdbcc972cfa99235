"""Built-in decoder ``detectify``: Detectify webhooks, current and legacy messages."""

from agent.sdk.hookspecs import hookimpl
from plugins.dec_detectify.decoder import DetectifyDecoder


@hookimpl
def register_decoders(register):  # type: ignore[no-untyped-def]
    register(DetectifyDecoder)
