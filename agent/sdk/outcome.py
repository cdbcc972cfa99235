"""Outcomes of a delivery attempt, and the one rule HTTP sinks share to classify them.

Sinks never raise for a remote failure: they return a :class:`Delivery`, and the
delivery worker decides what happens next (ack, retry with backoff, dead-letter).
"""

from __future__ import annotations

import time as _time
from dataclasses import dataclass
from enum import Enum
from typing import Any, Callable

__all__ = ["Status", "Delivery", "classify_http", "parse_retry_after"]


class Status(str, Enum):
    """What became of a batch: delivered, worth retrying, or refused for good."""

    OK = "ok"
    RETRY = "retry"
    REJECT = "reject"


@dataclass(frozen=True, slots=True)
class Delivery:
    """The outcome of one ``Sink.send`` call.

    A peer can answer in two vocabularies at once: the transport's status (HTTP 503)
    and its own code inside the body (Splunk HEC code 9 "Server is busy", Slack's
    ``rate_limited``, a JetStream error code). They are kept apart because they mean
    different things to different readers: ``retry.retry_on`` patterns (``5xx``,
    ``429``) are HTTP statuses and only ever see :attr:`http_status`; the vendor's code
    is for people (reasons, delivery history) and for the sink's own classification.

    :ivar status: :class:`Status`.
    :ivar reason: short human text (never a secret), e.g. ``"HTTP 503: HEC code 9 (Server is busy)"``.
    :ivar retry_after: seconds the peer asked us to wait (``Retry-After``), if any.
    :ivar http_status: the HTTP status of the answer (or the status a peer reported
        for the real endpoint, as Teams' legacy connectors do inside a 200), when there
        is one. This, and nothing else, is what ``retry.retry_on`` matches.
    :ivar open_circuit: the peer said something that retrying will not fix soon
        (e.g. a bad token): the worker opens the circuit at once.
    :ivar rejected_index: for REJECT of a batch, the index of the offending event
        when the peer said which one (HEC's ``invalid-event-number``).
    :ivar error_kind: for a failure without a status code, ``"connection"`` or
        ``"timeout"``: a sink's ``retry.retry_on`` list decides on these names.
    :ivar vendor_code: the peer's own code for the answer, when it gave one (HEC
        ``code``, Slack's error string, JetStream ``err_code``). Never matched by
        ``retry_on``.
    """

    status: Status
    reason: str = ""
    retry_after: float | None = None
    http_status: int | None = None
    open_circuit: bool = False
    rejected_index: int | None = None
    error_kind: str | None = None
    vendor_code: int | str | None = None

    @property
    def ok(self) -> bool:
        return self.status is Status.OK

    @property
    def code(self) -> int | None:
        """The HTTP status (the name sinks written before :attr:`vendor_code` existed read)."""
        return self.http_status

    def codes(self) -> str:
        """Both codes for people: ``"HTTP 503, code 9"``, ``"HTTP 429"``, ``"code rate_limited"`` or ``""``."""
        parts = []
        if self.http_status is not None:
            parts.append(f"HTTP {self.http_status}")
        if self.vendor_code is not None:
            parts.append(f"code {self.vendor_code}")
        return ", ".join(parts)

    @classmethod
    def success(cls, reason: str = "", code: int | None = None, *, vendor_code: int | str | None = None) -> "Delivery":
        """Delivered. ``code`` is the HTTP status, ``vendor_code`` the peer's own code."""
        return cls(Status.OK, reason, http_status=code, vendor_code=vendor_code)

    @classmethod
    def retry(cls, reason: str, retry_after: float | None = None, code: int | None = None,
              error_kind: str | None = None, *, vendor_code: int | str | None = None) -> "Delivery":
        """Worth retrying. ``code`` is the HTTP status (what ``retry_on`` matches), ``vendor_code`` the peer's own."""
        return cls(Status.RETRY, reason, retry_after=retry_after, http_status=code, error_kind=error_kind,
                   vendor_code=vendor_code)

    @classmethod
    def reject(cls, reason: str, code: int | None = None, *, open_circuit: bool = False,
               rejected_index: int | None = None, vendor_code: int | str | None = None) -> "Delivery":
        """Refused for good. ``code`` is the HTTP status, ``vendor_code`` the peer's own code."""
        return cls(Status.REJECT, reason, http_status=code, open_circuit=open_circuit,
                   rejected_index=rejected_index, vendor_code=vendor_code)


def parse_retry_after(value: str | None, *, now: Callable[[], float] = _time.time) -> float | None:
    """Parse an HTTP ``Retry-After`` value: delta-seconds or an HTTP-date.

    :returns: seconds to wait (never negative), or ``None`` when absent or unreadable.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    import email.utils  # here: an HTTP-date is rare, and the email package is 2 MB a decoding process need not load

    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now())


def classify_http(response: Any = None,  # Any: a requests.Response, or a stand-in with its status_code, headers, text
                  error: BaseException | None = None) -> Delivery:
    """Classify an HTTP response (or the exception raised instead) as an outcome.

    2xx → OK; 408, 425, 429 and 5xx, connection errors and timeouts → RETRY with the
    peer's ``Retry-After``; any other status → REJECT (retrying will not help).
    """
    if error is not None:
        name = type(error).__name__
        kind = "timeout" if isinstance(error, TimeoutError) or "Timeout" in name else "connection"
        return Delivery.retry(f"{name}: {_short_ends(str(error))}", error_kind=kind)
    code = int(response.status_code)
    reason = f"HTTP {code}"
    text = _short(getattr(response, "text", "") or "")
    if text:
        reason = f"{reason}: {text}"
    if 200 <= code < 300:
        return Delivery.success(reason, code=code)
    if code in (408, 425, 429) or code >= 500:
        return Delivery.retry(reason, parse_retry_after(response.headers.get("Retry-After")), code=code)
    return Delivery.reject(reason, code=code)


def _short_ends(text: str, limit: int = 200) -> str:
    """Like :func:`_short`, but keeping the end too: ``requests`` puts the root cause
    (``[Errno 111] Connection refused``) last, after the URL and the wrapper's name."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    tail = limit // 2
    return text[: limit - tail - 1] + "…" + text[-tail:]


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
