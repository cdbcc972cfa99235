"""Built-in sink ``cef``: ArcSight CEF / QRadar LEEF over syslog or to a file."""

from agent.sdk import Register, hookimpl
from plugins.out_cef.sink import CefSink


@hookimpl
def register_sinks(register: Register) -> None:
    register(CefSink)
