"""Built-in source ``syslog``: UDP, TCP and TLS (RFC 5425) listeners."""

from agent.sdk import Register, TypeRef, hookimpl


@hookimpl
def register_sources(register: Register) -> None:
    register(TypeRef("syslog", "plugins.in_syslog.source:SyslogSource"))
