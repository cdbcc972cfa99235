"""siemrelay: collect security events, normalise them, forward them reliably.

Where things live (the README's *Layout* section has the whole map):

- ``agent.sdk``: the plugin contract and everything plugins reuse; the one import
  surface for plugin authors.
- ``agent.testing``: fakes, capturing receivers, the sink conformance suite, the pytest plugin.
- ``agent.engine``: the supervisor, intake, build and reload; ``agent.spool``: the durable
  queue; ``agent.delivery``: workers, retry and circuit; ``agent.routing``: routes and
  transforms; ``agent.config``: loading, schemas and validation; ``agent.admin``: the HTTP
  API, metrics and status page; ``agent.cli``: the ``siemrelay`` command.

``from agent import hookimpl`` (and the other names of the 0.1 API) still works for one
release and warns: import them from :mod:`agent.sdk`.
"""

from __future__ import annotations

import importlib
import warnings

from agent import _compat, compiled
from agent.version import __version__

_compat.install()
if compiled.pure_requested():  # SIEMRELAY_PURE_PYTHON: the hot path's modules from their sources
    compiled.use_sources()

#: names ``agent`` re-exported in 0.1, now served from ``agent.sdk`` with a warning
_LEGACY_NAMES = frozenset({
    "PLUGIN_API_VERSION", "hookimpl", "Event", "Severity", "RawRecord", "Decoder", "DecodeError", "Sink",
    "SinkContext", "SpooledEvent", "Delivery", "Status", "classify_http", "Source", "SourceContext",
    "Submitted", "SubmitStatus",
})

__all__ = ["__version__"]


def __getattr__(name: str) -> object:
    """Serve the 0.1 top-level names lazily (importing ``agent.model`` must not import the SDK)."""
    if name in _LEGACY_NAMES:
        warnings.warn(f"agent.{name} moved: import it from agent.sdk", DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module("agent.sdk"), name)
    raise AttributeError(f"module 'agent' has no attribute {name!r}")
