"""Built-in decoders for generic JSON: ``json`` (object, array or NDJSON) and ``ndjson``."""

from agent.sdk import Register, hookimpl
from plugins.dec_json.decoder import JsonDecoder, NdjsonDecoder


@hookimpl
def register_decoders(register: Register) -> None:
    register(JsonDecoder)
    register(NdjsonDecoder)
