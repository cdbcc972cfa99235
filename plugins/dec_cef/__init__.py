"""Built-in CEF decoder (``cef``); the parser lives in :mod:`plugins.dec_cef.parser`."""
