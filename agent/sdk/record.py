"""The raw record: what a source hands to the pipeline before any decoding."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from agent.model import Event

__all__ = ["RawRecord", "RecordDecoder"]


class RecordDecoder(Protocol):
    """What a record needs of its decoder: the pipeline calls ``decode`` (or ``decode_native``)
    and names ``type_name`` in reasons.

    Every :class:`agent.sdk.decoder.Decoder` is one. Declared here, beside the record, so
    this module does not import the decoder module that imports it.
    """

    @property
    def type_name(self) -> str: ...

    def decode(self, record: RawRecord) -> list[Event]: ...

    def decode_native(self, record: RawRecord, received_text: str) -> list[dict[str, object]] | None: ...


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
    decoder: RecordDecoder
    origin: dict[str, Any]
    received_at: datetime
    parsed: Any = None
    meta: dict[str, Any] = field(default_factory=dict)
