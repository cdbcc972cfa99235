"""Built-in decoders for generic JSON: ``json`` (object, array or NDJSON) and ``ndjson``."""

from agent.sdk.hookspecs import hookimpl
from plugins.dec_json.decoder import JsonDecoder, NdjsonDecoder


@hookimpl
def register_decoders(register):  # type: ignore[no-untyped-def]
    register(JsonDecoder)
    register(NdjsonDecoder)
