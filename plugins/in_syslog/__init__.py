"""Built-in source ``syslog``: UDP, TCP and TLS (RFC 5425) listeners."""

from agent.sdk.hookspecs import hookimpl
from plugins.in_syslog.source import SyslogSource


@hookimpl
def register_sources(register):  # type: ignore[no-untyped-def]
    register(SyslogSource)
