"""Built-in sink ``syslog``: RFC 5424 over TCP, TLS, UDP or a file."""

from agent.sdk import Register, TypeRef, hookimpl


@hookimpl
def register_sinks(register: Register) -> None:
    register(TypeRef("syslog", "plugins.out_syslog.sink:SyslogSink"))
