"""Pure encoder of the ``webhook`` sink: events → body bytes, and the HMAC signature."""

from __future__ import annotations

import hashlib
import hmac
from typing import Sequence

from agent.sdk.render import epoch_ms

__all__ = ["hec_envelope", "body", "signature", "CONTENT_TYPES"]

CONTENT_TYPES = {"object": "application/json", "array": "application/json", "ndjson": "application/x-ndjson"}


def hec_envelope(event_json: bytes, time_iso: str | None, meta: bytes) -> bytes:
    """``{"time":<epoch s.ms>,"host":..,"source":..,"sourcetype":..,"event":<event>}``."""
    ms = epoch_ms(time_iso)
    t = b"%d.%03d" % divmod(ms, 1000) if ms is not None else b"null"
    return b'{"time":' + t + meta + b',"event":' + event_json + b"}"


def body(items: Sequence[bytes], fmt: str) -> bytes:
    """Join rendered events: one object, a JSON array, or NDJSON (each line LF-terminated)."""
    if fmt == "object":
        if len(items) != 1:
            raise ValueError("format: object sends exactly one event per request")
        return items[0]
    if fmt == "ndjson":
        return b"".join(i + b"\n" for i in items)
    return b"[" + b",".join(items) + b"]"


def signature(secret: str, data: bytes, prefix: str = "sha256=", timestamp: str | None = None) -> str:
    """Hex HMAC-SHA256 of ``data`` (or of ``timestamp.data``), with ``prefix``."""
    msg = data if timestamp is None else timestamp.encode() + b"." + data
    return prefix + hmac.new(secret.encode("utf-8"), msg, hashlib.sha256).hexdigest()
