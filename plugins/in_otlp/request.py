"""Pure parsing of an OTLP/HTTP logs request into one JSON-ready dict per LogRecord.

The dict keeps OTLP's own field names (``time_unix_nano``, ``severity_number``,
``body``, ``attributes``) plus the ``resource`` and ``scope`` it came with, so the
dead-letter store holds something a human can read when a record fails to decode.
"""

from __future__ import annotations

import base64
import gzip
import zlib
from typing import Any

import orjson

from agent.sdk import OtlpModules, attributes_dict, from_any_value

__all__ = ["BadRequest", "decode_body", "parse_request", "log_dicts", "to_json"]


class BadRequest(ValueError):
    """The body is not an OTLP logs request; the message says why (sent back as 400)."""


def decode_body(body: bytes, encoding: str, limit: int) -> bytes:
    """Undo ``Content-Encoding`` (gzip, deflate or none) without inflating past ``limit``."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "deflate"):
        raise BadRequest(f"unsupported Content-Encoding {encoding[:30]} (gzip, deflate or none)")
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise BadRequest(f"body is not valid {encoding}: {exc}") from None
    if len(out) > limit:
        raise BadRequest(f"decompressed body exceeds max_body_bytes ({limit})")
    if not inflater.eof:
        raise BadRequest(f"truncated {encoding} body")
    return out


def parse_request(body: bytes, json_body: bool, pb: OtlpModules) -> Any:
    """An ``ExportLogsServiceRequest`` from protobuf or OTLP/JSON bytes."""
    request = pb.service.ExportLogsServiceRequest()
    try:
        if json_body:
            pb.json_format.Parse(body, request, ignore_unknown_fields=True)
        else:
            request.ParseFromString(body)
    except (pb.message_error, pb.json_format.ParseError, UnicodeDecodeError, ValueError) as exc:
        kind = "OTLP/JSON" if json_body else "protobuf"
        raise BadRequest(f"body is not a {kind} ExportLogsServiceRequest: {str(exc)[:160]}") from None
    return request


def log_dicts(request: Any) -> list[dict[str, Any]]:  # Any: a generated protobuf message (lazy import)
    """One dict per LogRecord, in request order, with its resource and scope."""
    out: list[dict[str, Any]] = []
    for rl in request.resource_logs:
        resource = attributes_dict(rl.resource.attributes)
        for sl in rl.scope_logs:
            scope = {"name": sl.scope.name, "version": sl.scope.version} if sl.scope.name else {}
            for rec in sl.log_records:
                item: dict[str, Any] = {
                    "time_unix_nano": rec.time_unix_nano,
                    "observed_time_unix_nano": rec.observed_time_unix_nano,
                    "severity_number": int(rec.severity_number),
                    "severity_text": rec.severity_text,
                    "event_name": rec.event_name,
                    "body": from_any_value(rec.body),
                    "attributes": attributes_dict(rec.attributes),
                    "resource": resource,
                    "scope": scope,
                }
                if rec.trace_id:
                    item["trace_id"] = rec.trace_id.hex()
                if rec.span_id:
                    item["span_id"] = rec.span_id.hex()
                out.append(item)
    return out


def to_json(item: dict[str, Any]) -> bytes:
    """The record's bytes for the spool and dead letters (bytes values as base64)."""
    return orjson.dumps(item, default=_bytes_b64, option=orjson.OPT_NON_STR_KEYS)


def _bytes_b64(value: object) -> str:
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    raise TypeError(type(value).__name__)
