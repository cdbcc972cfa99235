"""Pure encoder of the ``elasticsearch`` sink: events → a ``_bulk`` NDJSON body of ``create`` actions,
and the reading of the per-item answer.

``create`` (not ``index``) is what data streams accept, and it makes a re-sent event
harmless: the document with that ``_id`` exists, the item answers 409, and 409 on a
create counts as delivered. Each document gets ``@timestamp`` (data streams require it).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Sequence

import orjson

__all__ = ["bulk_body", "doc_id", "BulkVerdict", "read_items"]


def doc_id(event_id: str) -> str:
    """The document ``_id``: the event id, or its SHA-256 when over Elasticsearch's 512-byte limit."""
    return event_id if len(event_id.encode("utf-8")) <= 512 else hashlib.sha256(event_id.encode("utf-8")).hexdigest()


def bulk_body(items: Sequence[tuple[str, str, str | None, bytes]]) -> bytes:
    """NDJSON of ``(index, _id, @timestamp, document JSON)``: an action line and a source line each,
    LF-terminated; ``@timestamp`` is added unless it is ``None`` (an ECS document has its own)."""
    out = bytearray()
    for index, ident, timestamp, doc in items:
        out += orjson.dumps({"create": {"_index": index, "_id": ident}})
        out += b"\n"
        if timestamp is None:
            out += doc
        elif doc[:1] == b"{" and doc[1:2] != b"}":
            out += b'{"@timestamp":' + orjson.dumps(timestamp) + b"," + doc[1:]
        else:
            out += b'{"@timestamp":' + orjson.dumps(timestamp) + b"}"
        out += b"\n"
    return bytes(out)


@dataclass(frozen=True, slots=True)
class BulkVerdict:
    """What the per-item answer says.

    :ivar rejected: index of the first item refused for good (a 4xx other than 409 and 429).
    :ivar retry: index of the first item answered 429 or 5xx (none refused).
    :ivar status: that item's status; :ivar reason: its error type and reason.
    """

    rejected: int | None
    retry: int | None
    status: int
    reason: str


def read_items(answer: object, count: int) -> BulkVerdict:
    """Classify the items of a ``_bulk`` answer (``{"errors": bool, "items": [{"create": {...}}]}``)."""
    if not isinstance(answer, dict):
        raise ValueError("the _bulk answer is not a JSON object")
    if not answer.get("errors"):
        return BulkVerdict(None, None, 200, "")
    items = answer.get("items")
    if not isinstance(items, list) or len(items) != count:
        raise ValueError(f"the _bulk answer has {len(items) if isinstance(items, list) else 'no'} items for {count} actions")
    first_retry: tuple[int, int, str] | None = None
    for i, item in enumerate(items):
        result: Any = next(iter(item.values()), {}) if isinstance(item, dict) and item else {}  # JSON: checked below
        status = int(result.get("status", 0)) if isinstance(result, dict) else 0
        if 200 <= status < 300 or status == 409:
            continue
        error = result.get("error") if isinstance(result, dict) else None
        reason = f"{error.get('type', 'error')}: {error.get('reason', '')}" if isinstance(error, dict) else str(error or "")
        if status == 429 or status >= 500:
            first_retry = first_retry or (i, status, reason)
            continue
        return BulkVerdict(i, None, status, reason[:300])
    if first_retry is not None:
        return BulkVerdict(None, first_retry[0], first_retry[1], first_retry[2][:300])
    return BulkVerdict(None, None, 200, "")
