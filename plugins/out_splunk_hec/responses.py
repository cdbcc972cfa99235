"""Splunk HEC's documented status codes, and what each one means for delivery.

A response body is ``{"text": "...", "code": N}`` (plus ``ackId`` on success with
acknowledgement, ``invalid-event-number`` when one event of a batch is bad). Token
problems open the circuit (retrying with the same token will not help; the events
stay queued until an operator fixes it); malformed data is rejected, naming the event
when Splunk does, so the worker dead-letters just that one; busy, unhealthy, shutting
down and at-capacity are retried, honouring Retry-After.
"""

from __future__ import annotations

from typing import Any

from agent.sdk.outcome import Delivery, parse_retry_after

__all__ = ["HEC_CODES", "classify_hec"]

#: code → (HTTP status, text), as Splunk documents them.
HEC_CODES: dict[int, tuple[int, str]] = {
    0: (200, "Success"), 1: (403, "Token disabled"), 2: (401, "Token is required"),
    3: (401, "Invalid authorization"), 4: (403, "Invalid token"), 5: (400, "No data"),
    6: (400, "Invalid data format"), 7: (400, "Incorrect index"), 8: (500, "Internal server error"),
    9: (503, "Server is busy"), 10: (400, "Data channel is missing"), 11: (400, "Invalid data channel"),
    12: (400, "Event field is required"), 13: (400, "Event field cannot be blank"), 14: (400, "ACK is disabled"),
    15: (400, "Error in handling indexed fields"), 16: (400, "Query string authorization is not enabled"),
    17: (200, "HEC is healthy"), 18: (503, "HEC is unhealthy, queues are full"),
    19: (503, "HEC is unhealthy, ack service unavailable"),
    20: (503, "HEC is unhealthy, queues are full, ack service unavailable"),
    21: (400, "Invalid token"), 22: (400, "Token disabled"), 23: (503, "Server is shutting down"),
    24: (200, "HEC queue is approaching its capacity limit"), 25: (200, "HEC ACK is approaching its capacity limit"),
    26: (429, "HEC queue is at capacity and cannot process any more requests"),
    27: (429, "HEC ACK channel is at capacity and cannot process any more requests"),
}

_OK = {0, 17, 24, 25}
_CREDENTIALS = {1, 2, 3, 4, 21, 22}          # the token: open the circuit
_CONFIGURATION = {10, 11, 14, 16}            # channel/ack/auth mode: open the circuit
_BAD_DATA = {5, 6, 7, 12, 13, 15}            # this data will never be accepted
_RETRY = {8, 9, 18, 19, 20, 23, 26, 27}


def classify_hec(status: int, body: Any, retry_after: str | None) -> Delivery:  # Any: JSON, .get after an isinstance
    """Map an HTTP status and the parsed JSON body (or ``None``) to a Delivery.

    The outcome carries the HTTP status as ``http_status`` (what ``retry.retry_on``
    matches: code 9 rides on a 503, codes 26 and 27 on a 429) and the HEC code as
    ``vendor_code``; the reason names both.
    """
    code = body.get("code") if isinstance(body, dict) else None
    text = body.get("text") if isinstance(body, dict) else None
    if not isinstance(code, int) or isinstance(code, bool):
        return _by_status(status, retry_after)
    reason = f"HTTP {status}: HEC code {code} ({text or HEC_CODES.get(code, (0, 'unknown'))[1]})"
    wait = parse_retry_after(retry_after)
    if code in _OK and 200 <= status < 300:
        return Delivery.success(reason, code=status, vendor_code=code)
    if code in _CREDENTIALS:
        return Delivery.reject(reason + "; check the token", code=status, open_circuit=True, vendor_code=code)
    if code in _CONFIGURATION:
        return Delivery.reject(reason + "; check the token's settings", code=status, open_circuit=True, vendor_code=code)
    if code in _BAD_DATA:
        index = body.get("invalid-event-number")
        if isinstance(index, bool) or not isinstance(index, int):
            index = None
        return Delivery.reject(reason if index is None else f"{reason} at event {index}", code=status,
                               rejected_index=index, vendor_code=code)
    if code in _RETRY:
        return Delivery.retry(reason, wait, code=status, vendor_code=code)
    return _by_status(status, retry_after, reason, code)


def _by_status(status: int, retry_after: str | None, reason: str | None = None,
               vendor_code: int | None = None) -> Delivery:
    """An answer without a HEC code we know (a proxy, a load balancer): the HTTP status decides."""
    reason = reason or f"HTTP {status}"
    if 200 <= status < 300:
        return Delivery.success(reason, code=status, vendor_code=vendor_code)
    if status in (408, 425, 429) or status >= 500:
        return Delivery.retry(reason, parse_retry_after(retry_after), code=status, vendor_code=vendor_code)
    if status in (401, 403):
        return Delivery.reject(reason + "; check the token", code=status, open_circuit=True, vendor_code=vendor_code)
    return Delivery.reject(reason, code=status, vendor_code=vendor_code)
