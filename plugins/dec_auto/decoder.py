"""``decoder: auto``: recognise the vendor by the payload's shape and hand it on.

One listener path can then take every scanner's webhooks. Recognition looks only at
the keys and values that distinguish the documented payloads (:func:`detect`); the
chosen decoder does the checking, so a ZeroPath body with a missing field gets
ZeroPath's precise reason, not a vague "unknown payload". The events' ``origin`` is
untouched; which decoder was used shows in ``source``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from agent.sdk.decoder import Decoder, DecodeError, parse_json
from agent.model import Event
from agent.sdk.record import RawRecord
from plugins.dec_auto.config import CONFIG_SCHEMA
from plugins.dec_cef.decoder import CefDecoder
from plugins.dec_cef.parser import find_cef
from plugins.dec_detectify.decoder import LEGACY_TYPES, DetectifyDecoder
from plugins.dec_escape.config import RESOURCES
from plugins.dec_escape.decoder import EscapeDecoder
from plugins.dec_json.decoder import JsonDecoder
from plugins.dec_pentest.decoder import EVENT_TYPES as PENTEST_TYPES
from plugins.dec_pentest.decoder import PentestDecoder
from plugins.dec_raw.decoder import RawDecoder
from plugins.dec_zeropath.decoder import ZeroPathDecoder

_DETECTIFY_CURRENT = ("finding", "scan_started", "scan_completed", "scan_finished", "asset_added", "asset_changed",
                      "asset_removed", "finding_updated", "finding_resolved", "new_finding", "finding_new")


def _defaults(cls: type[Decoder]) -> dict[str, Any]:
    return {k: v.get("default") for k, v in cls.CONFIG_SCHEMA.items() if "default" in v}


def detect(payload: Any) -> str | None:
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
        if isinstance(payload.get(key), str) and payload[key] in PENTEST_TYPES:
            return "pentest"
    kind = payload.get("event_type")
    if isinstance(kind, str) and (isinstance(payload.get("finding"), dict) or kind in _DETECTIFY_CURRENT):
        return "detectify"
    if payload.get("type") in LEGACY_TYPES and "domain" in payload:
        return "detectify"
    present = [k for k in RESOURCES if k in payload]
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
    description = "Recognises the vendor by the payload's shape (Escape, Detectify, ZeroPath, pentest, CEF, syslog, JSON, text)."
    CONFIG_SCHEMA = CONFIG_SCHEMA

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.reject_json = config.get("unknown_json") == "reject"
        self.reject_text = config.get("unknown_text") == "reject"
        self.accept_text = config.get("unknown_text") == "accept"
        self.decoders: dict[str, Decoder] = {cls.type_name: cls(_defaults(cls)) for cls in (
            EscapeDecoder, DetectifyDecoder, ZeroPathDecoder, PentestDecoder, JsonDecoder, CefDecoder, RawDecoder)}
        syslog = self._syslog()
        if syslog is not None:
            self.decoders["syslog"] = syslog

    @staticmethod
    def _syslog() -> Decoder | None:
        """The ``syslog`` decoder when its plugin is installed (it is a separate plugin)."""
        try:
            from plugins.dec_syslog.decoder import SyslogDecoder
        except ImportError:
            return None
        return SyslogDecoder(_defaults(SyslogDecoder))

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
        if kind != "syslog":
            return self.decoders[kind].decode(record)
        try:  # another plugin's decoder: its bugs become this record's reason, not an escape
            return self.decoders[kind].decode(record)
        except DecodeError:
            raise
        except Exception as exc:
            raise DecodeError(f"syslog decoder failed: {type(exc).__name__}: {exc}") from None
