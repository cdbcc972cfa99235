"""Built-in decoder ``cef``: CEF lines, bare or behind a syslog header; the parser and the
mapping live in the SDK (:mod:`agent.sdk.cef_parser`, :mod:`agent.sdk.cef_event`), shared
with the ``syslog`` decoder."""

from agent.sdk import Register, TypeRef, hookimpl


@hookimpl
def register_decoders(register: Register) -> None:
    register(TypeRef("cef", "plugins.dec_cef.decoder:CefDecoder"))
