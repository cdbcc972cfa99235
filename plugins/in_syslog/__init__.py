"""Built-in source ``syslog``: UDP, TCP and TLS (RFC 5425) listeners."""

from agent.sdk import Register, hookimpl
from plugins.in_syslog.source import SyslogSource


@hookimpl
def register_sources(register: Register) -> None:
    register(SyslogSource)
