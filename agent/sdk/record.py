"""The raw record: what a source hands to the pipeline before any decoding."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent.sdk.decoder import Decoder

__all__ = ["RawRecord"]


@dataclass(slots=True)
class RawRecord:
    """Bytes (or an already parsed JSON value) plus where they came from.

    :ivar data: the bytes exactly as received (a line, a datagram, an HTTP body).
    :ivar decoder: the decoder this record goes through, chosen by the source's config.
    :ivar origin: ``input`` (source name), ``peer``, ``path``, ``file``, ``headers``
        that matter, ``flags`` (``truncated``, ``invalid_utf8``, ...).
    :ivar received_at: when the source read it (aware UTC).
    :ivar parsed: the JSON value when the source already parsed ``data`` (saves a
        second parse); ``None`` otherwise.
    """

    data: bytes
    decoder: "Decoder"
    origin: dict[str, Any]
    received_at: datetime
    parsed: Any = None
    meta: dict[str, Any] = field(default_factory=dict)
