"""Built-in decoders for generic JSON: ``json`` (object, array or NDJSON) and ``ndjson``."""

from agent.sdk import Register, TypeRef, hookimpl


@hookimpl
def register_decoders(register: Register) -> None:
    register(TypeRef("json", "plugins.dec_json.decoder:JsonDecoder"))
    register(TypeRef("ndjson", "plugins.dec_json.decoder:NdjsonDecoder"))
