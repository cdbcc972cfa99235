"""Built-in decoder ``cef``: CEF lines, bare or behind a syslog header; the parser lives in
:mod:`plugins.dec_cef.parser` so the ``syslog`` decoder can share it."""

from agent.sdk.hookspecs import hookimpl
from plugins.dec_cef.decoder import CefDecoder


@hookimpl
def register_decoders(register):  # type: ignore[no-untyped-def]
    register(CefDecoder)
