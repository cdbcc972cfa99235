"""Splunk HTTP Event Collector compatibility: envelopes in, raw records out.

``/services/collector/event`` takes one or more JSON envelopes, concatenated with
or without white space between them (``{"event": ...}{"event": ...}``); each
envelope's ``event`` becomes a record, and ``time``, ``host``, ``source``,
``sourcetype``, ``index`` and ``fields`` travel in ``origin.hec``.
``/services/collector/raw`` takes lines. Answers use HEC's own ``{"text", "code"}``
bodies so that HEC clients understand them.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

__all__ = ["split_envelopes", "HecError", "HEC_OK", "HEC_OK_BODY", "hec_answer", "hec_auth_refusal"]

HEC_META = ("time", "host", "source", "sourcetype", "index", "fields")
HEC_OK = {"text": "Success", "code": 0}
HEC_OK_BODY = orjson.dumps(HEC_OK) + b"\n"  # the answer to every accepted HEC request
_DECODER = json.JSONDecoder()


class HecError(ValueError):
    """A body HEC would refuse; ``code`` is HEC's error code."""

    def __init__(self, text: str, code: int, index: int | None = None) -> None:
        super().__init__(text)
        self.code = code
        self.index = index


def hec_answer(text: str, code: int, **extra: object) -> dict[str, Any]:
    return {"text": text, "code": code, **extra}


def hec_auth_refusal(authorization: str | None) -> tuple[int, dict[str, Any]]:
    """The status and body Splunk answers for a request whose token was not accepted.

    No ``Authorization`` header: 401, code 2; a header that is not ``Splunk <token>``:
    401, code 3; a well-formed header with an unknown token: 403, code 4. HEC clients
    (and Splunk's own forwarders) tell "fix your header" from "fix your token" by it.
    """
    if not authorization or not authorization.strip():
        return 401, hec_answer("Token is required", 2)
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "splunk" or not token.strip():
        return 401, hec_answer("Invalid authorization", 3)
    return 403, hec_answer("Invalid token", 4)


def split_envelopes(body: bytes) -> list[tuple[Any, dict[str, Any]]]:
    """Return ``(event, metadata)`` per envelope of an ``/event`` body.

    :raises HecError: no data (5), not JSON (6), an envelope without ``event`` (12)
        or with an empty one (13).
    """
    if not body.strip():
        raise HecError("No data", 5)
    try:
        one = orjson.loads(body)
        items = [one]
    except orjson.JSONDecodeError:
        items = _concatenated(body)
    out = []
    for i, env in enumerate(items):
        if not isinstance(env, dict):
            raise HecError("Invalid data format", 6, i)
        if "event" not in env:
            raise HecError("Event field is required", 12, i)
        event = env["event"]
        if event is None or event == "" or event == {}:
            raise HecError("Event field cannot be blank", 13, i)
        out.append((event, {k: env[k] for k in HEC_META if k in env}))
    return out


def _concatenated(body: bytes) -> list[Any]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise HecError("Invalid data format", 6) from None
    items: list[Any] = []
    pos, n = 0, len(text)
    while True:
        while pos < n and text[pos] in " \t\r\n":
            pos += 1
        if pos >= n:
            return items
        try:
            value, pos = _DECODER.raw_decode(text, pos)
        except json.JSONDecodeError:
            raise HecError("Invalid data format", 6, len(items)) from None
        items.append(value)
