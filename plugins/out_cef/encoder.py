"""Pure encoder of the ``cef`` sink: native events → CEF 0, LEEF 1.0 or LEEF 2.0 text.

CEF: ``CEF:0|Device Vendor|Device Product|Device Version|Device Event Class ID|Name|Severity|Extension``.
Escaping follows the CEF specification: in the header ``\\`` and ``|`` are escaped with
a backslash (line breaks become spaces, they are not allowed there); in extension
values ``\\`` and ``=`` are escaped and CR/LF are written ``\\r``/``\\n``. Every other
control character (NUL, C0, DEL, C1) becomes a visible stand-in (``agent.sdk.neutralise``)
so vendor text can never end a record early. Field lengths are cut to the
specification's limits. The extension mapping is documented in
docs/sinks.md and is a contract: SIEM parsers are configured against it.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from agent.sdk import (TRUNCATION_MARKER, cef_extension_value, cef_header_field, epoch_ms, leef_header_field,
                       leef_value, lookup)

__all__ = ["CefFormat", "cef_severity", "escape_header", "escape_value", "extensions", "encode_cef", "encode_leef"]

#: (key, event path, label key, label, length limit) in the order written.
CEF_FIELDS: tuple[tuple[str, str, str, str, int], ...] = (
    ("externalId", "id", "", "", 40),
    ("cat", "vendor_type", "", "", 1023),
    ("cs1", "finding.id", "cs1Label", "Finding ID", 4000),
    ("cs2", "finding.category", "cs2Label", "Category", 4000),
    ("cs3", "repository.name", "cs3Label", "Repository", 4000),
    ("cs4", "asset.name", "cs4Label", "Asset", 4000),
    ("cs5", "source", "cs5Label", "Source", 4000),
    ("cs6", "links.vendor", "cs6Label", "Vendor URL", 4000),
    ("cn1", "score", "cn1Label", "Score", 20),
    ("cfp1", "finding.cvss", "cfp1Label", "CVSS", 20),
    ("dhost", "asset.host", "", "", 1023),
    ("dst", "asset.ip", "", "", 15),
    ("request", "finding.url", "", "", 1023),
    ("msg", "description", "", "", 1023),
)

_SEVERITY_OF_ID = {0: 0, 1: 1, 2: 3, 3: 5, 4: 8, 5: 10}


#: The default extension mapping of security events (an IDS alert, a firewall or login line:
#: events with a network, actor, device or signature): CEF key → Event path.
SECURITY_EXTENSIONS: dict[str, str] = {
    "src": "network.src_ip", "spt": "network.src_port", "dst": "network.dst_ip", "dpt": "network.dst_port",
    "proto": "network.protocol", "suser": "actor.user", "sntdom": "actor.domain", "act": "action.original",
    "outcome": "outcome.original", "sproc": "process.name", "spid": "process.pid", "filePath": "file.path",
    "fileHash": "file.hash", "dvchost": "device.hostname", "dhost": "asset.host", "cat": "finding.category",
    "request": "finding.url", "msg": "description",
}
_SECURITY_GROUPS = ("network", "actor", "signature", "process", "file")
#: Scanner life-cycle types: their default mapping is the finding one (cs1..cs6, score,
#: CVSS) even when a vendor decoder adds network, file or signature context to them.
_LIFECYCLE_TYPES = ("finding", "scan", "asset")


class CefFormat:
    """The constant header part of one sink, escaped once, and its extension mapping.

    :param header_from_event: take Device Vendor/Product/Version from the event's
        ``device`` and Event Class ID/Name from its ``signature`` when it has them.
    :param extensions: CEF key → Event path, replacing the family defaults.
    :param custom_strings: label → Event path, written as ``csN``/``csNLabel``.
    :param relay: an event decoded from CEF is written with exactly the extension
        keys and values it arrived with (its header from ``device``/``signature``).
    :param leef_keys: QRadar predefined LEEF key → Event path, replacing the default
        (:data:`LEEF_PREDEFINED`, ``cat`` from ``finding.category``, ``identSrc``).
    :param leef_custom_keys: custom LEEF key → Event path, replacing the default custom keys.
    """

    __slots__ = ("vendor", "product", "version", "prefix", "leef_prefix", "header_from_event", "mapping",
                 "custom_strings", "relay", "leef_keys", "leef_custom_keys")

    def __init__(self, vendor: str, product: str, version: str, *, header_from_event: bool = True,
                 extensions: Mapping[str, str] | None = None, custom_strings: Mapping[str, str] | None = None,
                 relay: bool = True, leef_keys: Mapping[str, str] | None = None,
                 leef_custom_keys: Mapping[str, str] | None = None) -> None:
        self.vendor, self.product, self.version = vendor, product, version
        self.leef_keys = dict(leef_keys) if leef_keys is not None else None
        self.leef_custom_keys = dict(leef_custom_keys) if leef_custom_keys is not None else None
        self.header_from_event, self.relay = header_from_event, relay
        self.mapping = dict(extensions) if extensions else None
        self.custom_strings = dict(custom_strings or {})
        self.prefix = (f"CEF:0|{escape_header(vendor, 63)}|{escape_header(product, 63)}|"
                       f"{escape_header(version, 31)}|")
        self.leef_prefix = f"LEEF:2.0|{_leef_header(vendor)}|{_leef_header(product)}|{_leef_header(version)}|"


def cef_severity(doc: Mapping[str, Any]) -> int:
    """0-10 from the 0-100 score (rounded); from the severity id when there is no score."""
    score = doc.get("score")
    if isinstance(score, (int, float)) and not isinstance(score, bool) and score > 0:
        return max(0, min(10, int(score / 10 + 0.5)))
    sid = doc.get("severity_id")
    return _SEVERITY_OF_ID.get(sid if isinstance(sid, int) else 0, 0)


# One check per field decides whether the SDK's escaper has anything to do: a value without
# a control character, a lone surrogate or the format's special characters is written as
# it is (most values), and the escaper's result is then that same text.
_CONTROLS = "\\x00-\\x1f\\x7f-\\x9f\\ud800-\\udfff"
_cef_header_work = re.compile(f"[{_CONTROLS}\\\\|]").search
_cef_value_work = re.compile(f"[{_CONTROLS}\\\\=]").search
_leef_header_work = re.compile(f"[{_CONTROLS}|]").search
_leef_value_work = re.compile(f"[{_CONTROLS}]").search


def escape_header(value: object, limit: int) -> str:
    """A header field: cut to ``limit`` characters, then escaped (:func:`agent.sdk.cef_header_field`)."""
    text = _text(value)[:limit]
    return text if not _cef_header_work(text) else cef_header_field(text)


def escape_value(value: str) -> str:
    """An extension value: ``\\`` → ``\\\\``, ``=`` → ``\\=``, CR → ``\\r``, LF → ``\\n``, other
    controls stand-ins (:func:`agent.sdk.cef_extension_value`)."""
    return value if not _cef_value_work(value) else cef_extension_value(value)


def _text(value: object) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def extensions(doc: Mapping[str, Any], msg_limit: int | None = None) -> list[tuple[str, str]]:
    """The (key, raw value) pairs of an event, in order, values cut to their limits."""
    out: list[tuple[str, str]] = []
    rt = epoch_ms(doc.get("time"))
    if rt is not None:
        out.append(("rt", str(rt)))
    for key, path, label_key, label, limit in CEF_FIELDS:
        value = doc.get(path) if "." not in path else lookup(doc, path)
        if key == "request" and not value:
            value = lookup(doc, "asset.url")
        if value is None or value == "" or isinstance(value, (dict, list)):
            continue
        if key in ("cn1", "cfp1") and (isinstance(value, bool) or not isinstance(value, (int, float))):
            continue
        if key == "dst" and (not isinstance(value, str) or value.count(".") != 3):
            continue
        text = _text(value)
        if key == "msg" and msg_limit is not None and msg_limit < min(limit, len(text)):
            # shortened to fit max_message_bytes: the marker shows the cut
            text = text[:max(0, msg_limit - len(TRUNCATION_MARKER))] + TRUNCATION_MARKER
        out.append((key, text[:limit]))
        if label_key:
            out.append((label_key, label))
    return out


def relayed_cef(doc: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The parsed CEF an event was decoded from (its ``raw``), or ``None``."""
    raw = doc.get("raw")
    if isinstance(raw, dict) and isinstance(raw.get("extensions"), dict) and "device_vendor" in raw:
        return raw
    return None


def _relay_severity(doc: Mapping[str, Any], original: object) -> str | None:
    """The CEF line's own severity when the event's still says the same (no route changed it)."""
    text = _text(original).strip()
    words = {"unknown": 0, "low": 25, "medium": 55, "high": 80, "very-high": 95}
    try:
        score = int(round(float(text) * 10))
    except ValueError:
        score = words.get(text.lower(), -1)
    return text if score == doc.get("score") else None


def mapped_extensions(fmt: CefFormat, doc: Mapping[str, Any], msg_limit: int | None = None) -> list[tuple[str, str]]:
    """The (key, value) pairs of one event under the sink's mapping, in order."""
    relayed = relayed_cef(doc) if fmt.relay else None
    if relayed is not None:
        return [(str(k), _text(v)) for k, v in relayed["extensions"].items()]
    mapping = fmt.mapping
    lifecycle = str(doc.get("type") or "").split(".", 1)[0] in _LIFECYCLE_TYPES
    if mapping is None and (lifecycle or not any(doc.get(g) for g in _SECURITY_GROUPS)):
        out = extensions(doc, msg_limit)
        if lifecycle:  # a scanner's finding keeps its finding keys, plus the context it carries
            written = {k for k, _ in out}
            for key, path in SECURITY_EXTENSIONS.items():
                value = lookup(doc, path) if key not in written else None
                if value is not None and value != "" and not isinstance(value, (dict, list)):
                    out.append((key, _text(value)[:4000]))
    else:
        out = []
        rt = epoch_ms(doc.get("time"))
        if rt is not None and "rt" not in (mapping or {}):
            out.append(("rt", str(rt)))
        for key, path in (mapping or SECURITY_EXTENSIONS).items():
            value = doc.get(path) if "." not in path else lookup(doc, path)
            if value is None or value == "" or isinstance(value, (dict, list)):
                continue
            text = _text(value)
            if key == "msg" and msg_limit is not None and msg_limit < min(1023, len(text)):
                text = text[:max(0, msg_limit - len(TRUNCATION_MARKER))] + TRUNCATION_MARKER
            out.append((key, text[:4000]))
    for n, (label, path) in enumerate(fmt.custom_strings.items(), 1):
        value = lookup(doc, path)
        if value is not None and value != "" and not isinstance(value, (dict, list)):
            out += [(f"cs{n}", _text(value)[:4000]), (f"cs{n}Label", label)]
    return out


def header_fields(fmt: CefFormat, doc: Mapping[str, Any]) -> tuple[str, str, str, str, str, str]:
    """(vendor, product, version, event class id, name, severity) of one event."""
    device = doc.get("device") if fmt.header_from_event and isinstance(doc.get("device"), dict) else None
    signature: Mapping[str, Any] = doc["signature"] if fmt.header_from_event and isinstance(doc.get("signature"), dict) else {}
    vendor, product, version = fmt.vendor, fmt.product, fmt.version
    if device and device.get("vendor") and device.get("product"):
        vendor, product, version = _text(device["vendor"]), _text(device["product"]), _text(device.get("version"))
    class_id = _text(signature.get("id")) or _text(doc.get("type")) or "event"
    name = _text(signature.get("name")) or _text(doc.get("title")) or _text(doc.get("type"))
    relayed = relayed_cef(doc) if fmt.relay else None
    severity = (_relay_severity(doc, relayed.get("severity")) if relayed else None) or str(cef_severity(doc))
    return vendor, product, version, class_id, name, severity


def encode_cef(fmt: CefFormat, doc: Mapping[str, Any], msg_limit: int | None = None) -> str:
    """The CEF text of one event (no syslog header)."""
    vendor, product, version, class_id, name, severity = header_fields(fmt, doc)
    prefix = (fmt.prefix if (vendor, product, version) == (fmt.vendor, fmt.product, fmt.version) else
              f"CEF:0|{escape_header(vendor, 63)}|{escape_header(product, 63)}|{escape_header(version, 31)}|")
    header = f"{prefix}{escape_header(class_id, 1023)}|{escape_header(name, 512)}|{escape_header(severity, 10)}|"
    return header + " ".join(f"{k}={escape_value(v)}" for k, v in mapped_extensions(fmt, doc, msg_limit))


#: Custom LEEF keys for the finding fields QRadar has no predefined key for.
_LEEF_CUSTOM = {"externalId": "externalId", "cs1": "findingId", "cs3": "repository", "cs4": "asset",
                "cs5": "source", "cs6": "vendorUrl", "cn1": "score", "cfp1": "cvss", "dhost": "dstHostName",
                "request": "url", "msg": "description"}

#: QRadar's predefined LEEF key → Event path (IBM "LEEF event components", predefined attributes).
LEEF_PREDEFINED: dict[str, str] = {
    "src": "network.src_ip", "dst": "network.dst_ip", "srcPort": "network.src_port", "dstPort": "network.dst_port",
    "proto": "network.protocol", "usrName": "actor.user", "domain": "actor.domain",
}

#: The time layout written in ``devTime``, declared in ``devTimeFormat`` (a Java SimpleDateFormat).
LEEF_TIME_FORMAT = "MMM dd yyyy HH:mm:ss.SSS z"


def _leef_header(value: object) -> str:
    text = _text(value)
    return (text if not _leef_header_work(text) else leef_header_field(text))[:255]


def _leef_value(value: str) -> str:
    return value if not _leef_value_work(value) else leef_value(value)


def _leef_time(iso: object) -> str | None:
    """``devTime`` in :data:`LEEF_TIME_FORMAT` (UTC) from a native-form time."""
    ms = epoch_ms(iso)
    if ms is None:
        return None
    from datetime import datetime, timezone

    dt = datetime.fromtimestamp(ms / 1000, timezone.utc)
    return f"{dt.strftime('%b %d %Y %H:%M:%S')}.{ms % 1000:03d} UTC"


def _scalar(doc: Mapping[str, Any], path: str) -> str | None:
    """The text of a scalar at ``path`` (a top-level field or a dotted group path), else ``None``."""
    value = doc.get(path) if "." not in path else lookup(doc, path)
    if value is None or value == "" or isinstance(value, (dict, list)):
        return None
    return _text(value)


def _predefined_default(doc: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The documented default of QRadar's predefined keys (``cat`` apart)."""
    attrs: list[tuple[str, str]] = []
    for key, path in LEEF_PREDEFINED.items():
        value = _scalar(doc, path)
        if value is not None:
            attrs.append((key, value))
    if lookup(doc, "actor.user") and lookup(doc, "network.src_ip"):
        attrs.append(("identSrc", _text(lookup(doc, "network.src_ip"))))  # the address the user acted from
    return attrs


def _custom_default(doc: Mapping[str, Any], msg_limit: int | None) -> list[tuple[str, str]]:
    """The documented default custom keys: what QRadar has no predefined key for."""
    attrs: list[tuple[str, str]] = []
    for key, path in (("action", "action.original"), ("outcome", "outcome.name"), ("devHost", "device.hostname")):
        value = _scalar(doc, path)
        if value is not None:
            attrs.append((key, value))
    attrs.append(("name", _text(doc.get("title"))[:512]))
    for key, value in extensions(doc, msg_limit):
        name = _LEEF_CUSTOM.get(key)
        if name:
            attrs.append((name, value))
    return attrs


def _configured(mapping: Mapping[str, str], doc: Mapping[str, Any], msg_limit: int | None) -> list[tuple[str, str]]:
    """The attributes of a ``leef_keys``/``leef_custom_keys`` map, in its order; ``description``
    shortened to ``msg_limit`` as the CEF ``msg`` is."""
    attrs: list[tuple[str, str]] = []
    for key, path in mapping.items():
        value = _scalar(doc, path)
        if value is None:
            continue
        if path == "description" and msg_limit is not None and msg_limit < min(1023, len(value)):
            value = value[:max(0, msg_limit - len(TRUNCATION_MARKER))] + TRUNCATION_MARKER
        attrs.append((key, value[:4000]))
    return attrs


def leef_attributes(fmt: CefFormat, doc: Mapping[str, Any], msg_limit: int | None = None) -> list[tuple[str, str]]:
    """The (key, value) attributes of one event: QRadar's predefined keys where the model has
    the value, custom keys only for the rest.

    ``sev`` (1-10) and ``devTime``/``devTimeFormat`` are always written; ``cat`` is the
    mapped value, else the event's type. ``fmt.leef_keys`` replaces the default
    predefined mapping, ``fmt.leef_custom_keys`` the default custom keys; a key the
    predefined part already wrote is not written again.
    """
    sev = max(1, cef_severity(doc))
    keys = fmt.leef_keys
    cat_path = keys.get("cat") if keys is not None else "finding.category"
    category = (_scalar(doc, cat_path) if cat_path else None) or _text(doc.get("type")) or "event"
    attrs: list[tuple[str, str]] = [("sev", str(sev)), ("cat", category[:4000])]
    dev_time = _leef_time(doc.get("time"))
    if dev_time:
        attrs += [("devTime", dev_time), ("devTimeFormat", LEEF_TIME_FORMAT)]
    if keys is None:
        attrs += _predefined_default(doc)
    else:
        attrs += _configured({k: v for k, v in keys.items() if k != "cat"}, doc, msg_limit)
    custom = (_custom_default(doc, msg_limit) if fmt.leef_custom_keys is None
              else _configured(fmt.leef_custom_keys, doc, msg_limit))
    written = {k for k, _ in attrs}
    return attrs + [(k, v) for k, v in custom if k not in written]


def encode_leef(fmt: CefFormat, doc: Mapping[str, Any], msg_limit: int | None = None, version: str = "2.0") -> str:
    """The LEEF text of one event: LEEF 2.0 tab-delimited, declared as ``x09`` in the header,
    or LEEF 1.0 (tab-delimited, no delimiter field).

    LEEF has no escape mechanism: tabs and line breaks in values become spaces, other
    control characters visible stand-ins.
    """
    vendor, product, version_field, class_id, _, _ = header_fields(fmt, doc)
    head = f"LEEF:{version}|{_leef_header(vendor)}|{_leef_header(product)}|{_leef_header(version_field)}|{_leef_header(class_id)}|"
    if version == "2.0":
        head += "x09|"
    return head + "\t".join(f"{k}={_leef_value(v)}" for k, v in leef_attributes(fmt, doc, msg_limit))
