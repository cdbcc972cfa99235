"""Built-in sink ``cef``: ArcSight CEF / QRadar LEEF over syslog or to a file."""

from agent.sdk import Register, TypeRef, hookimpl


@hookimpl
def register_sinks(register: Register) -> None:
    register(TypeRef("cef", "plugins.out_cef.sink:CefSink"))
