"""Pure encoder of the ``splunk_hec`` sink: events → HEC JSON event objects, gzip.

A batch is the event objects concatenated (Splunk's documented batch format, no array,
no separators). Each object carries ``time`` (epoch seconds with milliseconds),
``host``, ``source``, ``sourcetype``, optional ``index``, and ``event`` (the event in
the configured schema). The stored native bytes are spliced in as they are, so an
event is never serialised twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import orjson

from agent.sdk.compression import gzip_bytes
from agent.sdk.render import epoch_ms
from agent.sdk import Template, parse_template

__all__ = ["HecFormat", "hec_time", "encode_event", "gzip_bytes"]


@dataclass(frozen=True, slots=True)
class HecFormat:
    """Metadata settings of one sink, parsed once; ``{{ path }}`` placeholders are filled per event."""

    host: str
    source: str
    sourcetype: str
    index: str | None = None
    _templates: tuple[Template, Template, Template, Template | None] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_templates", (parse_template(self.host), parse_template(self.source),
                                                parse_template(self.sourcetype),
                                                parse_template(self.index) if self.index else None))

    def needs_doc(self) -> bool:
        return not all(t is None or t.static for t in self._templates)

    def metadata(self, doc: Mapping[str, Any] | None) -> bytes:
        """``,"host":..,"source":..,"sourcetype":..[,"index":..]`` (leading comma)."""
        host, source, sourcetype, index = self._templates
        values = doc if doc is not None else {}
        parts = {"host": host.render(values), "source": source.render(values), "sourcetype": sourcetype.render(values)}
        if index is not None:
            name = index.render(values)
            if name:
                parts["index"] = name
        return b"," + orjson.dumps(parts)[1:-1]


def hec_time(iso: object) -> bytes:
    """Epoch seconds with milliseconds (``1736951400.123``), as HEC's ``time`` wants."""
    ms = epoch_ms(iso)
    if ms is None:
        return b""
    return b"%d.%03d" % divmod(ms, 1000)


def encode_event(event_json: bytes, time_iso: object, meta: bytes) -> bytes:
    """One HEC event object: ``{"time":..,<meta>,"event":<event_json>}``."""
    t = hec_time(time_iso)
    if t:
        return b'{"time":' + t + meta + b',"event":' + event_json + b"}"
    return b"{" + meta[1:] + b',"event":' + event_json + b"}"
