"""Pure encoder of the ``syslog`` sink: native events → RFC 5424 messages (bytes).

``SYSLOG-MSG = HEADER SP STRUCTURED-DATA [SP MSG]`` with the RFC's escaping of ``"``,
``\\`` and ``]`` in PARAM-VALUEs. No control character from an event reaches the wire
raw: header fields keep PRINTUSASCII only, PARAM-VALUEs and text MSGs get visible
stand-ins (``agent.sdk.neutralise``), a JSON MSG writes C1 controls as ``\\u`` escapes.
Works on the native JSON form as a dict, so the hot path never builds an Event; the MSG bytes come in ready (the native JSON as stored,
the OCSF rendering, or a text template), which keeps this module free of I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from agent.sdk import (FACILITIES, TRUNCATION_MARKER, Template, escape_json_c1, field_text, lookup, parse_template, rfc5424_header,
                       sd_param_value, syslog_msg_text, truncate_utf8)

__all__ = ["SyslogFormat", "escape_param", "structured_data", "text_msg", "json_msg", "encode"]


@dataclass(frozen=True, slots=True)
class SyslogFormat:
    """The header and structured-data settings of one sink, prepared once."""

    hostname: str = "-"
    app_name: str = "siemrelay"
    procid: str = "-"
    msgid: str = "{{ type }}"
    facility: int = FACILITIES["local0"]
    sd_id: str = "siemrelay@32473"
    sd_fields: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    max_bytes: int = 0  # 0: unlimited
    #: whether the framing carries line breaks inside MSG (octet counting, UDP); LF framing cannot
    multiline: bool = True
    #: hostname, app_name, procid and msgid parsed once (``{{ path }}`` filled per event)
    templates: tuple[Template, Template, Template, Template] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "templates", tuple(parse_template(t) for t in
                                                    (self.hostname, self.app_name, self.procid, self.msgid)))

    @classmethod
    def from_config(cls, config: Mapping[str, Any], default_hostname: str, max_bytes: int,
                    multiline: bool = True) -> "SyslogFormat":
        return cls(hostname=config.get("hostname") or default_hostname, app_name=config["app_name"],
                   procid=config["procid"], msgid=config["msgid"], facility=FACILITIES[config["facility"]],
                   sd_id=config["sd_id"], sd_fields=tuple((config.get("sd_fields") or {}).items()), max_bytes=max_bytes,
                   multiline=multiline)


def escape_param(value: str) -> str:
    """Escape a PARAM-VALUE as RFC 5424 §6.3.3 requires (``"``, ``\\`` and ``]``), controls
    neutralised first (:func:`agent.sdk.sd_param_value`)."""
    return sd_param_value(value)


def text_msg(fmt: SyslogFormat, template: Template, doc: Mapping[str, Any]) -> bytes:
    """A ``msg_format: text`` MSG: the template filled, controls neutralised for the framing."""
    return syslog_msg_text(template.render(doc), fmt.multiline).encode("utf-8")


def json_msg(data: bytes) -> bytes:
    """A JSON MSG as rendered (C0 is already escaped by JSON): C1 controls written as ``\\u`` escapes."""
    return escape_json_c1(data)


_MARKER = TRUNCATION_MARKER.encode("utf-8")


def structured_data(fmt: SyslogFormat, doc: Mapping[str, Any], extra: tuple[tuple[str, str], ...] = (),
                    value_limit: int | None = None) -> str:
    """``[SD-ID name="value" ...]`` from the configured fields, or ``-`` when there is none.

    :param value_limit: cut longer values to this many characters, ending with the
        truncation marker (only when the structured data alone would not fit the limit).
    """
    if not fmt.sd_id:
        return "-"
    parts = [fmt.sd_id]
    for name, path in fmt.sd_fields:
        value = doc.get(path) if "." not in path else lookup(doc, path)
        if value is None or (not value and isinstance(value, (str, list, dict))):
            continue  # empty values are left out (0 and false are values)
        text = value if type(value) is str else field_text(value)  # what a template writes for the value
        if value_limit is not None and len(text) > value_limit:
            text = text[:max(0, value_limit - len(TRUNCATION_MARKER))] + TRUNCATION_MARKER
        parts.append(f'{name}="{escape_param(text)}"')
    for name, value in extra:
        parts.append(f'{name}="{escape_param(value)}"')
    return "[" + " ".join(parts) + "]"


def encode(fmt: SyslogFormat, doc: Mapping[str, Any], msg: bytes) -> bytes:
    """One RFC 5424 message (unframed). Over ``fmt.max_bytes`` the MSG is cut at a
    character boundary and ends with :data:`agent.sdk.TRUNCATION_MARKER`, and
    ``truncated="<original size>"`` is added to the SD element; if the structured data
    alone does not fit, its values are cut too (each ending with the marker)."""
    hostname, app_name, procid, msgid = fmt.templates
    header = rfc5424_header(fmt.facility, doc, hostname.render(doc), app_name.render(doc), procid.render(doc),
                            msgid.render(doc))
    head = f"{header} {structured_data(fmt, doc)}".encode("utf-8")
    if not msg:
        out = head
    else:
        out = head + b" " + msg
    if not fmt.max_bytes or len(out) <= fmt.max_bytes:
        return out
    marker = _MARKER
    if not fmt.sd_id:
        flagged = head
    else:
        flag = (("truncated", str(len(out))),)
        flagged = f"{header} {structured_data(fmt, doc, flag)}".encode("utf-8")
        limit = 1024
        while len(flagged) + 1 + len(marker) > fmt.max_bytes and limit:
            # the structured data alone is too long: cut its values (never the element itself)
            limit //= 2
            flagged = f"{header} {structured_data(fmt, doc, flag, limit)}".encode("utf-8")
    room = fmt.max_bytes - len(flagged) - 1 - len(marker)
    if room < 0:
        return truncate_utf8(flagged, fmt.max_bytes)
    return flagged + b" " + truncate_utf8(msg, room) + marker
