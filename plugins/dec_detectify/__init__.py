"""Built-in decoder ``detectify``: Detectify webhooks, current and legacy messages."""

from agent.sdk import Register, hookimpl
from plugins.dec_detectify.decoder import DetectifyDecoder


@hookimpl
def register_decoders(register: Register) -> None:
    register(DetectifyDecoder)
