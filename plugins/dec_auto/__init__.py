"""Built-in decoder ``auto``: recognises the vendor by the payload's shape."""

from agent.sdk import Register, hookimpl
from plugins.dec_auto.decoder import AutoDecoder


@hookimpl
def register_decoders(register: Register) -> None:
    register(AutoDecoder)
