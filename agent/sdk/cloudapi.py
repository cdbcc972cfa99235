"""What cloud ingestion APIs (Azure Monitor, Google Chronicle) share: their error bodies,
how their answers map to outcomes, gzip, and the per-call size limit.

Both answer a failure with ``{"error": {"code": ..., "message": ..., "status": ...}}``
(Azure puts a word in ``code``; Google puts the HTTP status there and the gRPC name
in ``status``). The mapping is the same for both: 2xx delivered; 408, 429 and 5xx
retried (honouring ``Retry-After``); 401, 403 and 404 are the sink's credentials or
configuration (the caller has already tried a fresh token), so the circuit opens with
the API's own message; 413 and any other 4xx refuse the batch (the worker splits it,
then dead-letters the one event that is refused alone).
"""

from __future__ import annotations

from typing import Any

import orjson
import requests

from agent.sdk.outcome import Delivery, parse_retry_after
from agent.sdk.httpclient import HttpClient
from agent.sdk.compression import gzip_bytes

__all__ = ["api_outcome", "api_error_text", "gzip_bytes", "oversized"]

_CIRCUIT = {401: "the credentials were refused", 403: "the identity lacks permission",
            404: "the destination does not exist"}


def api_error_text(body: bytes) -> str:
    """``CODE: message`` from a JSON error body (or its first 200 characters of text)."""
    try:
        doc: Any = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        doc = None
    error = doc.get("error") if isinstance(doc, dict) else None
    if isinstance(error, dict):
        code = error.get("status") or error.get("code") or ""
        message = " ".join(str(error.get("message") or "").split())[:300]
        return f"{code}: {message}" if code and message else str(code or message)
    text = body.decode("utf-8", "replace") if body else ""
    return " ".join(text.split())[:200]


def api_outcome(client: HttpClient, response: "requests.Response | None", error: BaseException | None, url: str,
                hint: str) -> Delivery:
    """Classify a cloud API answer; ``hint`` tells the operator what to check on 401/403/404."""
    if response is None:
        return client.classify(None, error, url)
    status = response.status_code
    detail = api_error_text(response.content)
    reason = client.clean(f"HTTP {status}" + (f": {detail}" if detail else ""), url)
    if 200 <= status < 300:
        return Delivery.success(reason, code=status)
    if status in (408, 429) or status >= 500:
        return Delivery.retry(reason, parse_retry_after(response.headers.get("Retry-After")), code=status)
    if status in _CIRCUIT:
        return Delivery.reject(f"{reason}; {_CIRCUIT[status]}: {hint}", code=status, open_circuit=True)
    return Delivery.reject(reason, code=status)


def oversized(count: int, size: int, limit: int, api: str) -> Delivery:
    """A batch whose body exceeds ``api``'s per-call limit: refused before sending.

    The worker splits a refused batch in halves (no event is lost or sent twice); a
    single event over the limit is dead-lettered with this reason.
    """
    what = "one event" if count == 1 else f"a batch of {count} events"
    return Delivery.reject(f"{what} encodes to {size} bytes, over the {api} limit of {limit} bytes per call"
                           + ("" if count == 1 else "; splitting it"), code=413)


