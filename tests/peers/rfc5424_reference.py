"""The ``syslog`` sink's RFC 5424 encoder as it was before its hot path was rewritten for speed.

A frozen, deliberately plain copy (header, structured data, truncation, framing, the
per-batch loop), kept only so property tests can hold the sink's optimised encoder to
exactly the bytes this one writes for every event and option. It reuses the SDK's
escaping primitives (the documented neutralisation and RFC 5424 escaping), not the
encoder's own code, so a change in the sink's composition of them shows up as a
difference here. Do not optimise this file.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Callable, Mapping, Sequence

import orjson

from agent.sdk import (TRUNCATION_MARKER, Template, escape_json_c1, field_text, lookup, render_json, sd_param_value,
                       syslog_msg_text, truncate_utf8)

_SYSLOG_SEVERITY = {5: 2, 4: 3, 3: 4, 2: 5, 1: 6, 0: 5}
_MARKER = TRUNCATION_MARKER.encode("utf-8")


def pri(facility: int, severity_id: Any) -> str:
    return f"<{facility * 8 + _SYSLOG_SEVERITY.get(severity_id if isinstance(severity_id, int) else 0, 5)}>"


def header_field(value: Any, limit: int) -> str:
    text = value if isinstance(value, str) else ("" if value is None else str(value))
    if not text:
        return "-"
    if not (text.isascii() and text.isprintable() and " " not in text):
        text = "".join(c if 33 <= ord(c) <= 126 else "_" for c in text)
    return text[:limit]


def hostname_field(value: Any) -> str:
    text = header_field(value, 255)
    if ":" in text or "[" in text:
        try:
            ipaddress.IPv6Address(text)
        except ValueError:
            text = text.replace(":", "_").replace("[", "_")
    return text


def rfc5424_timestamp(iso: Any) -> str:
    if isinstance(iso, str) and len(iso) >= 20 and iso[4] == "-" and iso[10] == "T":
        return iso
    return "-"


def rfc5424_header(facility: int, doc: Mapping[str, Any], hostname: str, app_name: str, procid: str, msgid: str) -> str:
    return (f"{pri(facility, doc.get('severity_id'))}1 {rfc5424_timestamp(doc.get('time'))} "
            f"{hostname_field(hostname)} {header_field(app_name, 48)} {header_field(procid, 128)} {header_field(msgid, 32)}")


def structured_data(fmt: Any, doc: Mapping[str, Any], extra: tuple[tuple[str, str], ...] = (),
                    value_limit: int | None = None) -> str:
    if not fmt.sd_id:
        return "-"
    parts = [fmt.sd_id]
    for name, path in fmt.sd_fields:
        value = doc.get(path) if "." not in path else lookup(doc, path)
        if value is None or (not value and isinstance(value, (str, list, dict))):
            continue
        text = value if type(value) is str else field_text(value)
        if value_limit is not None and len(text) > value_limit:
            text = text[:max(0, value_limit - len(TRUNCATION_MARKER))] + TRUNCATION_MARKER
        parts.append(f'{name}="{sd_param_value(text)}"')
    for name, value in extra:
        parts.append(f'{name}="{sd_param_value(value)}"')
    return "[" + " ".join(parts) + "]"


def encode(fmt: Any, doc: Mapping[str, Any], msg: bytes) -> bytes:
    """One message, unframed; ``fmt`` is a ``SyslogFormat`` (its settings and parsed templates)."""
    hostname, app_name, procid, msgid = fmt.templates
    header = rfc5424_header(fmt.facility, doc, hostname.render(doc), app_name.render(doc), procid.render(doc),
                            msgid.render(doc))
    head = f"{header} {structured_data(fmt, doc)}".encode("utf-8")
    out = head + b" " + msg if msg else head
    if not fmt.max_bytes or len(out) <= fmt.max_bytes:
        return out
    if not fmt.sd_id:
        flagged = head
    else:
        flag = (("truncated", str(len(out))),)
        flagged = f"{header} {structured_data(fmt, doc, flag)}".encode("utf-8")
        limit = 1024
        while len(flagged) + 1 + len(_MARKER) > fmt.max_bytes and limit:
            limit //= 2
            flagged = f"{header} {structured_data(fmt, doc, flag, limit)}".encode("utf-8")
    room = fmt.max_bytes - len(flagged) - 1 - len(_MARKER)
    if room < 0:
        return truncate_utf8(flagged, fmt.max_bytes)
    return flagged + b" " + truncate_utf8(msg, room) + _MARKER


def frame_octet(message: bytes) -> bytes:
    return b"%d %b" % (len(message), message)


def frame_lf(message: bytes) -> bytes:
    if b"\n" in message:
        message = message.replace(b"\r\n", b" ").replace(b"\n", b" ")
    return message + b"\n"


def encode_batch(fmt: Any, frame: Callable[[bytes], bytes], schema: str, template: Template | None,
                 batch: Sequence[Any]) -> list[bytes]:
    """What ``SyslogSink.encode_batch`` returned for ``batch`` (spooled events)."""
    frames = []
    for item in batch:
        doc = orjson.loads(item.data)
        if template is not None:
            msg = syslog_msg_text(template.render(doc), fmt.multiline).encode("utf-8")
        else:
            msg = escape_json_c1(render_json(item, schema))
        frames.append(frame(encode(fmt, doc, msg)))
    return frames
