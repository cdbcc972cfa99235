"""``decoder: auto``: recognise the vendor by the payload's shape and hand it on.

One listener path can then take every scanner's webhooks. Recognition looks only at
the keys and values that distinguish the documented payloads (:func:`detect`); the
chosen decoder does the checking, so a ZeroPath body with a missing field gets
ZeroPath's precise reason, not a vague "unknown payload". The events' ``origin`` is
untouched; which decoder was used shows in ``source``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from agent.sdk import (DETECTIFY_LEGACY_TYPES, ESCAPE_RESOURCES, PENTEST_EVENT_TYPES, DecodeError, Decoder, Event, RawRecord,
                       find_cef, find_leef, parse_json)
from plugins.dec_auto.config import CONFIG_SCHEMA
from agent.sdk.json_types import JsonValue

# The vendors' documented names detection keys on (ESCAPE_RESOURCES, PENTEST_EVENT_TYPES,
# DETECTIFY_LEGACY_TYPES) come from the SDK, the one list the vendor decoders read too;
# the decoders themselves are reached through the registry.
_DETECTIFY_CURRENT = ("finding", "scan_started", "scan_completed", "scan_finished", "asset_added", "asset_changed",
                      "asset_removed", "finding_updated", "finding_resolved", "new_finding", "finding_new")
#: the decoder types ``auto`` hands records to, by registered name
DISPATCH = ("escape", "detectify", "zeropath", "pentest", "json", "cef", "syslog", "raw")


def detect(payload: JsonValue) -> str | None:
    """The decoder type a JSON payload's shape belongs to, or ``None`` for none known.

    * ``zeropath``: an object with ``sourcetype`` and an ``event`` object;
    * ``escape``: an object whose only recognised keys are the export arrays
      (``issues``, ``assets``, ``scans``, ``profiles``, ``locations``, ``integrations``);
    * ``pentest``: ``event``/``event_type``/``type`` naming one of its 10 event types;
    * ``detectify``: ``event_type`` with a ``finding`` object or a Detectify type, or a
      legacy ``type: event_scan_*/event_finding_*`` with a ``domain``.
    """
    if not isinstance(payload, dict):
        return None
    if "sourcetype" in payload and isinstance(payload.get("event"), dict):
        return "zeropath"
    for key in ("event", "event_type", "type"):
        if isinstance(payload.get(key), str) and payload[key] in PENTEST_EVENT_TYPES:
            return "pentest"
    kind = payload.get("event_type")
    if isinstance(kind, str) and (isinstance(payload.get("finding"), dict) or kind in _DETECTIFY_CURRENT):
        return "detectify"
    if payload.get("type") in DETECTIFY_LEGACY_TYPES and "domain" in payload:
        return "detectify"
    present = [k for k in ESCAPE_RESOURCES if k in payload]
    if present and all(isinstance(payload[k], list) or payload[k] is None for k in present) \
            and not any(k in payload for k in ("event", "event_type", "type", "sourcetype")):
        return "escape"
    return None


_JSON_SCALARS = (b"null", b"true", b"false")
_HTML_STARTS = (b"<!doctype html", b"<html")


def not_an_event(data: bytes) -> str | None:
    """What a body that only looks like text is, when it is certainly no event; ``None`` otherwise.

    A bare JSON ``null``/``true``/``false`` or a top-level JSON string is a sender's
    bug (an empty object serialised as null, a double-encoded payload), and an HTML
    page is a proxy's or login error page: forwarding either as a log line hides the
    failure from the SOC. Numbers and other text stay log lines.
    """
    text = data.strip()
    if text in _JSON_SCALARS:
        return f"a bare JSON {text.decode()}"
    if text[:1] == b'"':
        try:
            if isinstance(parse_json(text), str):
                return "a top-level JSON string"
        except DecodeError:
            return None
    if text.lstrip(b"\xef\xbb\xbf")[:14].lower().startswith(_HTML_STARTS):
        return "an HTML page"
    return None


class AutoDecoder(Decoder):
    """Picks escape, detectify, zeropath, pentest, json, cef, syslog or raw by the record's shape."""

    type_name = "auto"
    description = "Recognises the vendor by the payload's shape (Escape, Detectify, ZeroPath, pentest, CEF, LEEF, syslog, JSON, text)."
    CONFIG_SCHEMA = CONFIG_SCHEMA

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.reject_json = config.get("unknown_json") == "reject"
        self.reject_text = config.get("unknown_text") == "reject"
        self.accept_text = config.get("unknown_text") == "accept"
        #: registered decoders by type name, filled by :meth:`use_decoders`
        self.decoders: dict[str, Decoder] = {}

    def use_decoders(self, build: Callable[[str], Decoder]) -> None:
        """Build the decoders this one hands records to, by name, through the agent's registry.

        A type that is not registered (its plugin is disabled or not installed) is left
        out: records of that kind are dead-lettered naming the missing decoder.
        """
        for name in DISPATCH:
            try:
                self.decoders[name] = build(name)
            except Exception:  # unknown type: the agent's error names it; here it only means "not available"
                continue

    def choose(self, record: RawRecord) -> tuple[str, Any]:
        """(decoder type, parsed JSON or ``None``) for ``record``."""
        if record.parsed is not None:
            payload = record.parsed
        else:
            head = record.data.lstrip()[:1]
            if head not in (b"{", b"["):
                return self._text_kind(record.data), None
            try:
                payload = parse_json(record.data)
            except DecodeError:
                if b"\n" in record.data.strip():  # NDJSON: the generic decoder reads it line by line
                    return "json", None
                raise
        kind = detect(payload)
        if kind is None:
            if self.reject_json:
                raise DecodeError("JSON payload of no known vendor shape (unknown_json: reject)")
            kind = "json"
        return kind, payload

    def _text_kind(self, data: bytes) -> str:
        first = data.lstrip()[:4096].split(b"\n", 1)[0].decode("utf-8", "replace")
        if find_cef(first) >= 0 and ("syslog" not in self.decoders or first.startswith("CEF:")):
            return "cef"
        if first[:1] == "<" and first[1:2] in tuple("0123456789") and "syslog" in self.decoders:
            return "syslog"
        if find_cef(first) >= 0:
            return "cef"
        if find_leef(first) >= 0 and "syslog" in self.decoders:  # the syslog decoder reads LEEF, bare or in syslog
            return "syslog"
        if self.reject_text:
            raise DecodeError("text that is neither JSON, CEF nor syslog (unknown_text: reject)")
        if not self.accept_text:
            refusal = not_an_event(data)
            if refusal is not None:
                raise DecodeError(f"{refusal}, not an event (unknown_text: accept forwards it as a log line)")
        return "raw"

    def decode(self, record: RawRecord) -> list[Event]:
        kind, payload = self.choose(record)
        if payload is not None and record.parsed is None:
            record = dataclasses.replace(record, parsed=payload)
        decoder = self.decoders.get(kind)
        if decoder is None:
            raise DecodeError(f"the record looks like {kind}, but no {kind!r} decoder is registered (is its plugin disabled?)")
        try:  # another plugin's decoder: its bugs become this record's reason, not an escape
            return decoder.decode(record)
        except DecodeError:
            raise
        except Exception as exc:
            raise DecodeError(f"{kind} decoder failed: {type(exc).__name__}: {exc}") from None
