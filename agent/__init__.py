"""siemrelay: collect security events, normalise them, forward them reliably.

The public API for plugin authors is re-exported here.
"""

from __future__ import annotations

__version__ = "0.1.0"

from agent.decoders import PLUGIN_API_VERSION, Decoder, DecodeError  # noqa: E402
from agent.delivery import Delivery, Status, classify_http  # noqa: E402
from agent.hookspecs import hookimpl  # noqa: E402
from agent.model import Event, Severity  # noqa: E402
from agent.records import RawRecord  # noqa: E402
from agent.sinks import Sink, SinkContext, SpooledEvent  # noqa: E402
from agent.sources import Source, SourceContext, Submitted, SubmitStatus  # noqa: E402

__all__ = [
    "__version__", "PLUGIN_API_VERSION", "hookimpl", "Event", "Severity", "RawRecord",
    "Decoder", "DecodeError", "Sink", "SinkContext", "SpooledEvent", "Delivery", "Status",
    "classify_http", "Source", "SourceContext", "Submitted", "SubmitStatus",
]
