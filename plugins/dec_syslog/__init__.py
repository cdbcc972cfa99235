"""Built-in decoder ``syslog``: RFC 5424 (structured data included) and RFC 3164, CEF inside."""

from agent.sdk.hookspecs import hookimpl
from plugins.dec_syslog.decoder import SyslogDecoder


@hookimpl
def register_decoders(register):  # type: ignore[no-untyped-def]
    register(SyslogDecoder)
