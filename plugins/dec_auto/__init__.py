"""Built-in decoder ``auto``: recognises the vendor by the payload's shape."""

from agent.sdk.hookspecs import hookimpl
from plugins.dec_auto.decoder import AutoDecoder


@hookimpl
def register_decoders(register):  # type: ignore[no-untyped-def]
    register(AutoDecoder)
