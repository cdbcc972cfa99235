"""Pure encoder of the ``splunk_hec`` sink: events → HEC JSON event objects, gzip.

A batch is the event objects concatenated (Splunk's documented batch format, no array,
no separators). Each object carries ``time`` (epoch seconds with milliseconds),
``host``, ``source``, ``sourcetype``, optional ``index``, and ``event`` (the event in
the configured schema). The stored native bytes are spliced in as they are, so an
event is never serialised twice.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any, Mapping

import orjson

from agent.sdk.render import epoch_ms, expand

__all__ = ["HecFormat", "hec_time", "encode_event", "gzip_bytes"]


@dataclass(frozen=True, slots=True)
class HecFormat:
    """Metadata settings of one sink; values with ``{...}`` are filled per event."""

    host: str
    source: str
    sourcetype: str
    index: str | None = None

    def _value(self, template: str, doc: Mapping[str, Any] | None) -> str:
        if "{" in template and doc is not None:
            return expand(template, doc)
        return template

    def needs_doc(self) -> bool:
        return any("{" in (v or "") for v in (self.host, self.source, self.sourcetype, self.index))

    def metadata(self, doc: Mapping[str, Any] | None) -> bytes:
        """``,"host":..,"source":..,"sourcetype":..[,"index":..]`` (leading comma)."""
        parts = {"host": self._value(self.host, doc), "source": self._value(self.source, doc),
                 "sourcetype": self._value(self.sourcetype, doc)}
        if self.index:
            index = self._value(self.index, doc)
            if index:
                parts["index"] = index
        return b"," + orjson.dumps(parts)[1:-1]


def hec_time(iso: Any) -> bytes:
    """Epoch seconds with milliseconds (``1736951400.123``), as HEC's ``time`` wants."""
    ms = epoch_ms(iso)
    if ms is None:
        return b""
    return b"%d.%03d" % divmod(ms, 1000)


def encode_event(event_json: bytes, time_iso: Any, meta: bytes) -> bytes:
    """One HEC event object: ``{"time":..,<meta>,"event":<event_json>}``."""
    t = hec_time(time_iso)
    if t:
        return b'{"time":' + t + meta + b',"event":' + event_json + b"}"
    return b"{" + meta[1:] + b',"event":' + event_json + b"}"


def gzip_bytes(data: bytes, level: int = 1) -> bytes:
    """gzip (RFC 1952) with a zero mtime, so the same input always gives the same bytes."""
    c = zlib.compressobj(level, zlib.DEFLATED, 31)
    return c.compress(data) + c.flush()
