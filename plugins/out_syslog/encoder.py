"""Pure encoder of the ``syslog`` sink: native events → RFC 5424 messages (bytes).

``SYSLOG-MSG = HEADER SP STRUCTURED-DATA [SP MSG]`` with the RFC's escaping of ``"``,
``\\`` and ``]`` in PARAM-VALUEs. No control character from an event reaches the wire
raw: header fields keep PRINTUSASCII only, PARAM-VALUEs and text MSGs get visible
stand-ins (``agent.sdk.neutralise``), a JSON MSG writes C1 controls as ``\\u`` escapes.
Works on the native JSON form as a dict, so the hot path never builds an Event; the MSG bytes come in ready (the native JSON as stored,
the OCSF rendering, or a text template), which keeps this module free of I/O.

This is the sink's per-event hot path, so :class:`SyslogFormat` prepares once what
does not depend on the event (the sanitised fixed header fields, each PRI, each
SD-PARAM's ``name="`` and its split path), and per event a value that needs no
escaping (the common case) is written as it is after one check. Values that need
work, and messages over the size limit, take the general functions below; the bytes
are the same either way (a property test holds :func:`encode` to a frozen copy of the
earlier, plain implementation).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

from agent.sdk import (FACILITIES, TRUNCATION_MARKER, Template, escape_json_c1, field_text, lookup, parse_template,
                       sd_param_value, syslog_msg_text, truncate_utf8)
from agent.sdk.syslog_header import EventField, HeaderValue, Rfc5424Header, frame_octet
from agent.sdk.template import Field

__all__ = ["SyslogFormat", "SyslogHeads", "escape_param", "structured_data", "text_msg", "json_msg", "message_head", "encode",
           "encode_framed", "fields_read", "encode_octet_stream"]


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
    #: the header with its fixed fields sanitised once
    header: Rfc5424Header = field(init=False, repr=False, compare=False)
    #: per SD-PARAM: ``␠name="`` and the path, split (see :func:`_sd_plan`)
    sd_plan: tuple[tuple[str, str, str | None, str], ...] = field(init=False, repr=False, compare=False)
    #: ``[SD-ID``
    sd_open: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        templates = tuple(parse_template(t) for t in (self.hostname, self.app_name, self.procid, self.msgid))
        object.__setattr__(self, "templates", templates)
        object.__setattr__(self, "header", Rfc5424Header(self.facility, *(_header_value(t) for t in templates)))
        object.__setattr__(self, "sd_plan", _sd_plan(self.sd_fields))
        object.__setattr__(self, "sd_open", f"[{self.sd_id}")

    def settings(self) -> tuple[str, str, str, str, int, str, tuple[tuple[str, str], ...], int, bool]:
        """The settings it was made from (what :meth:`__reduce__` pickles; the rest is derived)."""
        return (self.hostname, self.app_name, self.procid, self.msgid, self.facility, self.sd_id, self.sd_fields,
                self.max_bytes, self.multiline)

    def __reduce__(self) -> tuple[type["SyslogFormat"], tuple[object, ...]]:
        # the derived fields hold closures, which do not pickle; the settings rebuild them
        return (SyslogFormat, self.settings())

    @classmethod
    def from_config(cls, config: Mapping[str, Any], default_hostname: str, max_bytes: int,
                    multiline: bool = True) -> "SyslogFormat":
        return cls(hostname=config.get("hostname") or default_hostname, app_name=config["app_name"],
                   procid=config["procid"], msgid=config["msgid"], facility=FACILITIES[config["facility"]],
                   sd_id=config["sd_id"], sd_fields=tuple((config.get("sd_fields") or {}).items()), max_bytes=max_bytes,
                   multiline=multiline)


def fields_read(fmt: SyslogFormat, text_template: Template | None = None) -> frozenset[str]:
    """The top-level event fields a message of ``fmt`` reads (the first step of each path):
    what decides whether the sink may parse the stored JSON without ``raw``
    (:func:`agent.sdk.native_head.head_parser`). The header always reads ``severity_id``
    and ``time``; a date placeholder reads ``time`` and ``received_at``."""
    names = {"severity_id", "time"}
    for template in (*fmt.templates, *((text_template,) if text_template is not None else ())):
        for part in template.parts:
            if isinstance(part, Field):
                names.update(("time", "received_at") if part.date is not None else part.steps[:1])
    names.update(path.partition(".")[0] for _, path in fmt.sd_fields)
    return frozenset(names)


def _header_value(template: Template) -> HeaderValue:
    """What :class:`Rfc5424Header` takes for a header template: its text when it has no
    placeholder, else a function filling it (one dict lookup for a plain ``{{ field }}``)."""
    if template.static:
        return template.render({})
    if len(template.parts) == 1:
        only = template.parts[0]
        if isinstance(only, Field) and only.date is None and len(only.steps) == 1:
            return EventField(only.steps[0])  # template.render(doc) is field_text(doc.get(name))
    return template.render


def _sd_plan(sd_fields: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str, str | None, str], ...]:
    """``(' name="', head, tail, path)`` per SD-PARAM: ``head`` is the path's first step;
    ``tail`` is ``None`` for a top-level field, the second step of a two-step path, or
    ``""`` for a longer one (walked by :func:`agent.sdk.lookup`)."""
    plan = []
    for name, path in sd_fields:
        head, dot, rest = path.partition(".")
        tail = None if not dot else "" if "." in rest or not rest else rest
        plan.append((f' {name}="', head, tail, path))
    return tuple(plan)


#: what a PARAM-VALUE may not hold raw: controls and lone surrogates (as
#: :data:`agent.sdk.wire_text.CONTROL_CHARS`) and the three characters RFC 5424 escapes
_needs_escape = re.compile(r'[\x00-\x1f\x7f-\x9f\ud800-\udfff"\\\]]').search


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


def _structured_data(fmt: SyslogFormat, doc: Mapping[str, Any], strict: bool = False) -> str | None:
    """:func:`structured_data` without extra parameters or a value limit: the per-event path.
    A string is written as it is unless one check finds something to escape or neutralise;
    a number as ``str()`` writes it; other values take the general path.

    :param strict: return None instead for a value that might read otherwise after a JSON
        round trip (see :func:`_reads_plain`): a head rendered ahead must be exactly the
        head rendered from the stored JSON (:class:`SyslogHeads`).

    The strings are appended as they are and checked afterwards with one search over all
    of them together (a string needs escaping exactly when one of its characters does), so
    the usual event pays one search instead of one per value (the structured data of the
    side-by-side workload's events 1.17-1.19 → 0.97-1.05 µs compiled, docs/hot-path.md
    section 18); only when that search finds something is each string checked and
    escaped alone.
    """
    if not fmt.sd_id:
        return "-"
    parts = [fmt.sd_open]
    where: list[int] = []  # where in parts the string values are
    get = doc.get
    for prefix, head, tail, path in fmt.sd_plan:
        value = get(head)
        if value is None:
            continue
        if tail is not None:
            if tail and type(value) is dict:
                value = value.get(tail)
            elif strict and not _reads_plain(doc, (tuple(path.split(".")),)):
                return None
            else:
                value = lookup(doc, path)
            if value is None:
                continue
        kind = type(value)
        if kind is str:
            if value:  # empty values are left out (0 and false are values)
                parts.append(prefix)
                where.append(len(parts))
                parts.append(value)
                parts.append('"')
        elif kind is int or kind is float:
            if strict and kind is float and not math.isfinite(value):
                return None  # NaN and infinities are stored as null
            parts.append(f'{prefix}{value}"')  # field_text's str(): digits, '.', 'e', '+', '-', inf, nan
        elif strict and kind is not bool:
            return None  # a list, mapping, tuple, datetime or subclass: its text may change in JSON
        elif value or not isinstance(value, (str, list, dict)):
            parts.append(f'{prefix}{sd_param_value(field_text(value))}"')
    if where and _needs_escape("".join([parts[at] for at in where])):
        for at in where:
            if _needs_escape(parts[at]):
                parts[at] = sd_param_value(parts[at])
    parts.append("]")
    return "".join(parts)


def message_head(fmt: SyslogFormat, doc: Mapping[str, Any]) -> bytes:
    """``HEADER SP STRUCTURED-DATA``: all of a message but its MSG (no size limit applied)."""
    return f"{fmt.header(doc)} {_structured_data(fmt, doc)}".encode("utf-8")


#: fields :meth:`agent.model.Event.to_dict` always writes as a plain str or int, whatever the decoder gave
_ALWAYS_PLAIN = frozenset({"time", "received_at", "severity", "severity_id"})
#: values whose text is the same before and after a JSON round trip (a finite float too)
_PLAIN = frozenset({str, int, bool, type(None)})


def _header_paths(fmt: SyslogFormat) -> tuple[tuple[str, ...], ...]:
    """Every field path the header templates of ``fmt`` read, but those that are always plain
    (the structured data checks its own values: ``_structured_data(strict=True)``)."""
    paths = [part.steps for template in fmt.templates for part in template.parts
             if isinstance(part, Field) and part.date is None]
    return tuple(dict.fromkeys(p for p in paths if p and p[0] not in _ALWAYS_PLAIN))


def _reads_plain(doc: Mapping[str, Any], paths: tuple[tuple[str, ...], ...]) -> bool:
    """Whether every value at ``paths`` renders the same from ``doc`` as from ``doc`` written
    as JSON and parsed back: a str, an int, a bool, a finite float, or nothing. A list, a
    mapping, a tuple, a datetime, a str subclass or NaN may not (a tuple becomes a list,
    NaN becomes null), and neither may a path that crosses anything but a dict."""
    for steps in paths:
        value: object = doc
        for step in steps:
            if type(value) is not dict:
                if value is None:
                    break
                return False
            value = value.get(step)
        kind = type(value)
        if kind not in _PLAIN and not (kind is float and math.isfinite(value)):  # type: ignore[arg-type]
            return False
    return True


class SyslogHeads:
    """The ``syslog`` sink's head renderer (:class:`agent.sdk.heads.HeadRenderer`):
    :func:`message_head` of an event's native dict, run where the intake builds the event.

    It renders only when every value the head reads is plain (:func:`_reads_plain`), so the
    head is exactly what the sink renders from the stored JSON parsed back; otherwise it
    returns None and the sink renders that event's head itself.

    A plain class (not a frozen dataclass, whose ``__post_init__`` would have to go around
    its own freezing): this module is compiled with mypyc where a C compiler is available
    (``setup.py``), and a compiled frozen class refuses that. It pickles as its format.
    """

    __slots__ = ("fmt", "key", "paths")

    def __init__(self, fmt: SyslogFormat) -> None:
        self.fmt = fmt
        self.key: str = f"syslog:{fmt.settings()!r}"
        #: what the header templates read (the structured data checks its values as it goes)
        self.paths: tuple[tuple[str, ...], ...] = _header_paths(fmt)

    def __reduce__(self) -> tuple[type["SyslogHeads"], tuple[SyslogFormat]]:
        return (SyslogHeads, (self.fmt,))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SyslogHeads) and other.key == self.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __repr__(self) -> str:
        return f"SyslogHeads(fmt={self.fmt!r})"

    def __call__(self, doc: Mapping[str, Any]) -> bytes | None:
        if self.paths and not _reads_plain(doc, self.paths):
            return None
        sd = _structured_data(self.fmt, doc, strict=True)
        if sd is None:
            return None
        return f"{self.fmt.header(doc)} {sd}".encode("utf-8")


def encode(fmt: SyslogFormat, doc: Mapping[str, Any], msg: bytes) -> bytes:
    """One RFC 5424 message (unframed). Over ``fmt.max_bytes`` the MSG is cut at a
    character boundary and ends with :data:`agent.sdk.TRUNCATION_MARKER`, and
    ``truncated="<original size>"`` is added to the SD element; if the structured data
    alone does not fit, its values are cut too (each ending with the marker)."""
    head = message_head(fmt, doc)
    if not msg:
        out = head
    else:
        out = head + b" " + msg
    if not fmt.max_bytes or len(out) <= fmt.max_bytes:
        return out
    marker = _MARKER
    header = fmt.header(doc)
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


def encode_framed(fmt: SyslogFormat, doc: Mapping[str, Any], msg: bytes, frame: Callable[[bytes], bytes]) -> bytes:
    """``frame(encode(fmt, doc, msg))``, with the MSG copied once instead of twice when the
    message fits and the framing is octet counting (the default, and the hot path)."""
    head = message_head(fmt, doc)
    size = len(head) + 1 + len(msg)
    if frame is frame_octet and msg and not (fmt.max_bytes and size > fmt.max_bytes):
        return b"%d %b %b" % (size, head, msg)
    return frame(encode(fmt, doc, msg))


def encode_octet_stream(fmt: SyslogFormat, parse: Callable[[bytes], Mapping[str, Any]], datas: Sequence[bytes],
                        heads: Sequence[bytes | None] | None = None) -> bytes:
    """``b"".join`` of the octet-counted frames of stored native events sent as their own
    MSG: what :func:`encode_framed` gives each (with ``json_msg`` of the stored JSON), in
    one buffer without a bytes object per frame (the socket writes one buffer anyway).

    :param parse: how the stored JSON is parsed (``orjson.loads``, or
        :func:`agent.sdk.native_head.parse_head` when the format reads nothing of ``raw``).
    :param heads: per event, its :func:`message_head` rendered ahead (:class:`SyslogHeads`)
        or None; an event without one is parsed and its head rendered here.
    """
    parts: list[bytes] = []
    add = parts.extend
    max_bytes = fmt.max_bytes
    for data, head in zip(datas, heads if heads is not None else [None] * len(datas)):
        doc = None
        if head is None:
            doc = parse(data)
            head = message_head(fmt, doc)
        msg = data if b"\xc2" not in data else json_msg(data)
        size = len(head) + 1 + len(msg)
        if not msg or (max_bytes and size > max_bytes):
            parts.append(frame_octet(encode(fmt, parse(data) if doc is None else doc, msg)))
        else:
            add((b"%d " % size, head, b" ", msg))
    return b"".join(parts)
