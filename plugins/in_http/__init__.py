"""Built-in source ``http``: a webhook listener (POST of JSON, arrays and NDJSON)."""

from agent.sdk import Register, TypeRef, hookimpl


@hookimpl
def register_sources(register: Register) -> None:
    register(TypeRef("http", "plugins.in_http.source:HttpSource"))
