"""Built-in source ``http``: a webhook listener (POST of JSON, arrays and NDJSON)."""

from agent.sdk import Register, hookimpl
from plugins.in_http.source import HttpSource


@hookimpl
def register_sources(register: Register) -> None:
    register(HttpSource)
