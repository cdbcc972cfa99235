"""Pure encoder of the ``secops`` sink: events → a Chronicle ``logs:import`` request body.

Each event becomes one ``Log``: ``data`` is the event's JSON in the configured schema
(base64, as the API's bytes fields are), ``logEntryTime`` its time and
``collectionTime`` when siemrelay received it (RFC 3339), plus the namespace and
labels of the sink.
"""

from __future__ import annotations

import base64
from typing import Any, Mapping, Sequence

import orjson

from agent.sdk import SpooledEvent, render_json

__all__ = ["import_body"]


def import_body(batch: Sequence[SpooledEvent], schema: str, namespace: str | None, labels: Mapping[str, str],
                forwarder: str | None) -> bytes:
    """``{"inlineSource": {"logs": [...], "forwarder": ...}}``."""
    label_map = {k: {"value": v} for k, v in labels.items()}
    logs: list[dict[str, Any]] = []
    for item in batch:
        native = orjson.loads(item.data)
        log: dict[str, Any] = {"data": base64.b64encode(render_json(item, schema)).decode("ascii")}
        if isinstance(native.get("time"), str):
            log["logEntryTime"] = native["time"]
        log["collectionTime"] = native.get("received_at") or native.get("time")
        if namespace:
            log["environmentNamespace"] = namespace
        if label_map:
            log["labels"] = label_map
        logs.append(log)
    source: dict[str, Any] = {"logs": logs}
    if forwarder:
        source["forwarder"] = forwarder
    return orjson.dumps({"inlineSource": source})
