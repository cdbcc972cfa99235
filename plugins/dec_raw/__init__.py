"""Built-in decoder ``raw``: plain text lines, optionally picked apart by a regular expression."""

from agent.sdk import Register, hookimpl
from plugins.dec_raw.decoder import RawDecoder


@hookimpl
def register_decoders(register: Register) -> None:
    register(RawDecoder)
