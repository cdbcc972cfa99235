"""Pure encoder of the ``secops`` sink: events → a Chronicle ``logs:import`` request body,
or a legacy Ingestion API ``unstructuredlogentries:batchCreate`` body.

Each event becomes one ``Log``: ``data`` is the event's JSON in the configured schema
(base64, as the API's bytes fields are), ``logEntryTime`` its time and
``collectionTime`` when siemrelay received it (RFC 3339), plus the namespace and
labels of the sink.

The legacy body names the instance in ``customer_id`` and carries each event as
``log_text`` (the JSON as text, not base64) with its time in ``ts_rfc3339``; labels are
a list of ``{key, value}``.
"""

from __future__ import annotations

import base64
from typing import Any, Mapping, Sequence

import orjson

from agent.sdk import SpooledEvent, render_json

__all__ = ["import_body", "legacy_unstructured_body"]


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


def legacy_unstructured_body(batch: Sequence[SpooledEvent], schema: str, customer_id: str, log_type: str,
                             namespace: str | None, labels: Mapping[str, str]) -> bytes:
    """``{"customer_id", "log_type", "namespace", "labels": [{key, value}], "entries": [{log_text, ts_rfc3339}]}``."""
    entries: list[dict[str, Any]] = []
    for item in batch:
        native = orjson.loads(item.data)
        entry: dict[str, Any] = {"log_text": render_json(item, schema).decode("utf-8")}
        if isinstance(native.get("time"), str):
            entry["ts_rfc3339"] = native["time"]
        entries.append(entry)
    body: dict[str, Any] = {"customer_id": customer_id, "log_type": log_type}
    if namespace:
        body["namespace"] = namespace
    if labels:
        body["labels"] = [{"key": k, "value": v} for k, v in labels.items()]
    body["entries"] = entries
    return orjson.dumps(body)
