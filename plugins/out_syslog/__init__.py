"""Built-in sink ``syslog``: RFC 5424 over TCP, TLS, UDP or a file.

The sink is imported in the hook, not here: the preparing child imports this package to
unpickle the sink's head renderer (``plugins.out_syslog.encoder``) and needs neither its
sockets nor TLS (docs/hot-path.md, section 16).
"""

from agent.sdk import Register, hookimpl


@hookimpl
def register_sinks(register: Register) -> None:
    from plugins.out_syslog.sink import SyslogSink

    register(SyslogSink)
