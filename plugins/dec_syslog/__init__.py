"""Built-in decoder ``syslog``: RFC 5424 (structured data included) and RFC 3164, CEF inside."""

from agent.sdk import Register, TypeRef, hookimpl


@hookimpl
def register_decoders(register: Register) -> None:
    register(TypeRef("syslog", "plugins.dec_syslog.decoder:SyslogDecoder"))
