"""Built-in decoder ``zeropath``: ZeroPath webhooks, all 24 event types."""

from agent.sdk.hookspecs import hookimpl
from plugins.dec_zeropath.decoder import ZeroPathDecoder


@hookimpl
def register_decoders(register):  # type: ignore[no-untyped-def]
    register(ZeroPathDecoder)
