"""Webhook authentication: HMAC signatures, bearer tokens, secret headers, query secrets.

Every comparison is constant-time (:func:`hmac.compare_digest`), every configured
secret is tried without an early exit, and a refusal carries a reason for the log
only: the client is told 401 and nothing about which part was wrong.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any, Callable, Mapping
from urllib.parse import parse_qs

from agent.sdk import parse_time

__all__ = ["Authenticator"]


def _secrets(value: object) -> list[bytes]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [str(v).encode("utf-8") for v in items if v]


def _any_equal(given: bytes, expected: list[bytes]) -> bool:
    ok = False
    for e in expected:  # no early exit: time does not depend on which secret matched
        ok |= hmac.compare_digest(given, e)
    return ok


class Authenticator:
    """The checks of one path's ``auth:`` block; :meth:`check` returns ``None`` or a reason."""

    def __init__(self, auth: Mapping[str, Any], clock: Callable[[], float]) -> None:
        self.clock = clock
        h = auth.get("hmac") or None
        self.hmac_header = h["header"].lower() if h else ""
        self.hmac_secrets = _secrets(h["secret"]) if h else []
        self.hmac_prefixes = tuple({p.lower() for p in (h.get("prefix") or "", "sha256=") if p}) if h else ()
        self.hmac_signed = h.get("signed", "body") if h else "body"
        self.bearer = [b"Bearer " + s for s in _secrets(auth.get("bearer"))]
        hd = auth.get("header") or None
        self.header_name = hd["name"].lower() if hd else ""
        self.header_values = _secrets(hd["value"]) if hd else []
        self.query_secrets = _secrets(auth.get("query_secret"))
        self.query_param = auth.get("query_param") or "secret"
        ts = auth.get("timestamp") or None
        self.ts_header = ts["header"].lower() if ts else ""
        self.ts_skew = float(ts["max_skew_s"]) if ts else 0.0

    @property
    def open(self) -> bool:
        """True when no check is configured (anyone may post)."""
        return not (self.hmac_secrets or self.bearer or self.header_values or self.query_secrets or self.ts_header)

    def check(self, headers: Mapping[str, str], query: str, body: bytes) -> str | None:
        """Return ``None`` when the request passes every configured check, else why not (for the log)."""
        if self.ts_header:
            reason = self._timestamp(headers.get(self.ts_header))
            if reason:
                return reason
        if self.bearer:
            got = headers.get("authorization", "")
            scheme, _, token = got.partition(" ")
            if not _any_equal(b"Bearer " + token.strip().encode("utf-8", "replace"), self.bearer) or scheme.lower() != "bearer":
                return "bearer token missing or wrong"
        if self.header_values:
            value = headers.get(self.header_name)
            if value is None or not _any_equal(value.encode("utf-8", "replace"), self.header_values):
                return f"header {self.header_name} missing or wrong"
        if self.query_secrets:
            values = parse_qs(query, keep_blank_values=True).get(self.query_param, [""])
            if not _any_equal(values[-1].encode("utf-8", "replace"), self.query_secrets):
                return "query secret missing or wrong"
        if self.hmac_secrets:
            return self._hmac(headers, body)
        return None

    def _timestamp(self, value: str | None) -> str | None:
        if not value:
            return f"timestamp header {self.ts_header} missing"
        when = parse_time(value.strip())
        if when is None:
            return f"timestamp header {self.ts_header} is not a time"
        skew = abs(self.clock() - when.timestamp())
        if skew > self.ts_skew:
            return f"timestamp is {skew:.0f}s away from now (max_skew_s {self.ts_skew:.0f}): a replay or a wrong clock"
        return None

    def _hmac(self, headers: Mapping[str, str], body: bytes) -> str | None:
        sig = headers.get(self.hmac_header)
        if not sig:
            return f"signature header {self.hmac_header} missing"
        sig = sig.strip().lower()
        for p in self.hmac_prefixes:
            if sig.startswith(p):
                sig = sig[len(p):]
                break
        msg = body
        if self.hmac_signed == "timestamp.body":
            msg = headers.get(self.ts_header, "").strip().encode() + b"." + body
        given = sig.encode("ascii", "replace")
        ok = False
        for secret in self.hmac_secrets:
            ok |= hmac.compare_digest(given, hmac.new(secret, msg, hashlib.sha256).hexdigest().encode())
        return None if ok else "signature does not match"
