"""Pure encoder of the ``sentinel`` sink: events → the JSON array the Logs Ingestion API takes.

Each row is the event in the configured schema with ``TimeGenerated`` (the event's
time, ISO 8601 UTC) first, or, with a column map, ``TimeGenerated`` plus exactly the
mapped columns. The stored native bytes are spliced in untouched when no map is set,
so an event is serialised once.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import orjson

from agent.sdk import SpooledEvent, lookup, render_schema, render_json

__all__ = ["encode_rows", "encode_row", "time_generated"]


def time_generated(native: Mapping[str, Any]) -> str | None:
    """The event's time (or, lacking one, when it was received), as stored: ISO 8601 UTC."""
    value = native.get("time") or native.get("received_at")
    return value if isinstance(value, str) else None


def encode_row(item: SpooledEvent, schema: str, columns: Mapping[str, str]) -> bytes:
    """One row: ``{"TimeGenerated": ..., <event or mapped columns>}``."""
    native = orjson.loads(item.data)
    stamp = orjson.dumps(time_generated(native))
    if columns:
        doc = native if schema == "native" else render_schema(item.event, schema)
        row = {"TimeGenerated": None, **{column: lookup(doc, path) for column, path in columns.items()}}
        return b'{"TimeGenerated":' + stamp + orjson.dumps(row)[len(b'{"TimeGenerated":null'):]
    body = render_json(item, schema)
    if body.strip() == b"{}":
        return b'{"TimeGenerated":' + stamp + b"}"
    return b'{"TimeGenerated":' + stamp + b"," + body.lstrip()[1:]


def encode_rows(batch: Sequence[SpooledEvent], schema: str, columns: Mapping[str, str]) -> bytes:
    """The request body: a JSON array of rows."""
    return b"[" + b",".join(encode_row(item, schema, columns) for item in batch) + b"]"
