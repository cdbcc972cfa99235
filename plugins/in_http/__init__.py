"""Built-in source ``http``: a webhook listener (POST of JSON, arrays and NDJSON)."""

from agent.sdk.hookspecs import hookimpl
from plugins.in_http.source import HttpSource


@hookimpl
def register_sources(register):  # type: ignore[no-untyped-def]
    register(HttpSource)
