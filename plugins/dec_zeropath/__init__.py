"""Built-in decoder ``zeropath``: ZeroPath webhooks, all 24 event types."""

from agent.sdk import Register, hookimpl
from plugins.dec_zeropath.decoder import ZeroPathDecoder


@hookimpl
def register_decoders(register: Register) -> None:
    register(ZeroPathDecoder)
