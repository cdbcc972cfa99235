"""Built-in sink ``syslog``: RFC 5424 over TCP, TLS, UDP or a file."""

from agent.sdk import Register, hookimpl
from plugins.out_syslog.sink import SyslogSink


@hookimpl
def register_sinks(register: Register) -> None:
    register(SyslogSink)
