"""Webhook authentication: HMAC (Detectify, pentest platform), bearer, custom header, query secret, timestamps."""

from __future__ import annotations

import hashlib
import hmac

from plugins.in_http.auth import Authenticator

BODY = b'{"type":"event_finding_high","title":"CSRF"}'
NOW = 1_700_000_000.0


def sign(secret: str, body: bytes = BODY) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def auth(**cfg: object) -> Authenticator:
    return Authenticator(cfg, lambda: NOW)


def test_hmac_hex_with_or_without_prefix_any_case_and_rotated_secrets() -> None:
    a = auth(hmac={"header": "X-Detectify-Signature", "secret": ["old-secret", "new-secret"], "prefix": "sha256=", "signed": "body"})
    for value in (sign("new-secret"), "sha256=" + sign("old-secret"), sign("new-secret").upper()):
        assert a.check({"x-detectify-signature": value}, "", BODY) is None
    assert a.check({"x-detectify-signature": sign("wrong")}, "", BODY) == "signature does not match"
    assert a.check({"x-detectify-signature": sign("new-secret")}, "", BODY + b" ") == "signature does not match"
    assert "missing" in a.check({}, "", BODY)


def test_hmac_over_timestamp_and_body_with_skew() -> None:
    a = auth(hmac={"header": "X-Webhook-Signature", "secret": "k3y!", "prefix": "", "signed": "timestamp.body"},
             timestamp={"header": "X-Webhook-Timestamp", "max_skew_s": 300})
    ts = str(int(NOW) - 10)
    good = {"x-webhook-timestamp": ts, "x-webhook-signature": sign("k3y!", ts.encode() + b"." + BODY)}
    assert a.check(good, "", BODY) is None
    old = str(int(NOW) - 301)
    replay = {"x-webhook-timestamp": old, "x-webhook-signature": sign("k3y!", old.encode() + b"." + BODY)}
    assert "replay" in a.check(replay, "", BODY)
    assert a.check({**good, "x-webhook-timestamp": "2023-11-14T22:13:10Z"}, "", BODY) == "signature does not match"
    assert "not a time" in a.check({**good, "x-webhook-timestamp": "yesterday"}, "", BODY)


def test_bearer_custom_header_and_query_secret() -> None:
    a = auth(bearer="tok-123")
    assert a.check({"authorization": "Bearer tok-123"}, "", b"") is None
    assert a.check({"authorization": "bearer tok-123"}, "", b"") is None
    for bad in ("Bearer tok-1234", "Basic tok-123", "tok-123", ""):
        assert a.check({"authorization": bad}, "", b"") is not None
    h = auth(header={"name": "X-Api-Key", "value": "abc-key"})
    assert h.check({"x-api-key": "abc-key"}, "", b"") is None and h.check({"x-api-key": "abc"}, "", b"") is not None
    q = auth(query_secret="zp-secret", query_param="secret")
    assert q.check({}, "secret=zp-secret&x=1", b"") is None
    assert q.check({}, "secret=zp-secre", b"") is not None and q.check({}, "", b"") is not None


def test_all_configured_checks_must_pass_and_empty_auth_is_open() -> None:
    a = auth(bearer="tok-123", header={"name": "X-Env", "value": "prod"})
    assert a.check({"authorization": "Bearer tok-123"}, "", b"") is not None
    assert a.check({"authorization": "Bearer tok-123", "x-env": "prod"}, "", b"") is None
    assert auth().open and not a.open
