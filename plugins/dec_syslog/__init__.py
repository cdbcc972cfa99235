"""Built-in decoder ``syslog``: RFC 5424 (structured data included) and RFC 3164, CEF inside."""

from agent.sdk import Register, hookimpl
from plugins.dec_syslog.decoder import SyslogDecoder


@hookimpl
def register_decoders(register: Register) -> None:
    register(SyslogDecoder)
