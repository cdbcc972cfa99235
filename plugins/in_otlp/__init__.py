"""Built-in source ``otlp`` (OTLP/HTTP logs in) and its decoder ``otlp`` (LogRecord → Event).

Each hook imports its own component: the preparing child registers decoders only, and
then does not load the source's HTTP server and TLS (docs/hot-path.md, section 16).
"""

from agent.sdk import Register, hookimpl


@hookimpl
def register_sources(register: Register) -> None:
    from plugins.in_otlp.source import OtlpSource

    register(OtlpSource)


@hookimpl
def register_decoders(register: Register) -> None:
    from plugins.in_otlp.decoder import OtlpDecoder

    register(OtlpDecoder)
