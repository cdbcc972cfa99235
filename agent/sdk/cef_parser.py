"""A CEF line parser: header and extensions, with the CEF specification's escaping.

Part of the SDK so every decoder that meets CEF (the ``cef`` decoder, the ``syslog``
decoder for CEF carried in syslog, third-party ones) parses it the same way. The grammar (ArcSight "Implementing ArcSight CEF", rev. 25):

    CEF:Version|Device Vendor|Device Product|Device Version|Signature ID|Name|Severity|Extension

* In the header, ``\\|`` is a literal pipe and ``\\\\`` a literal backslash.
* The extension is ``key=value`` pairs separated by spaces. A value runs until the
  space before the next ``key=``; inside it ``\\=`` is ``=``, ``\\\\`` is ``\\``,
  ``\\n``/``\\r`` are a newline/carriage return. Pipes need no escaping there.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["parse_cef", "find_cef", "HEADER_KEYS", "MAX_CEF_CHARS"]

#: The header fields after ``CEF:``, in order.
HEADER_KEYS = ("version", "device_vendor", "device_product", "device_version", "signature_id", "name", "severity")

#: Longest line accepted; a CEF event is normally < 8 KiB, syslog caps are 64 KiB.
MAX_CEF_CHARS = 1 << 20

# A key starts after a space (or the start) and is made of the characters ArcSight
# keys use (cs1Label, ad.user, flexString1, [x]); the "=" must not be escaped, which
# holds because a backslash is not a key character.
_KEY = re.compile(r"(?:^|(?<=\s))([A-Za-z0-9_.\[\]\-]+)=")
_VERSION = re.compile(r"\d{1,3}(?:\.\d{1,3})?")
_EXT_ESCAPES = {"\\": "\\", "=": "=", "n": "\n", "r": "\r", "|": "|", "t": "\t"}
_CEF_START = re.compile(r"(?:^|(?<=[\s>:]))CEF:\d")


def _split_header(body: str) -> tuple[list[str], str]:
    """Split ``body`` (after ``CEF:``) into 7 unescaped header fields and the rest."""
    head = body.split("|", 7)
    if len(head) == 8 and "\\" not in body[: len(body) - len(head[7])]:  # no escapes in the header: the fast path
        return head[:7], head[7]
    fields: list[str] = []
    buf: list[str] = []
    i, n = 0, len(body)
    while i < n:
        ch = body[i]
        if ch == "\\" and i + 1 < n and body[i + 1] in "|\\":
            buf.append(body[i + 1])
            i += 2
            continue
        if ch == "|":
            fields.append("".join(buf))
            buf = []
            i += 1
            if len(fields) == 7:
                return fields, body[i:]
            continue
        buf.append(ch)
        i += 1
    if len(fields) == 6:  # no trailing pipe and no extension: tolerated
        fields.append("".join(buf))
        return fields, ""
    raise ValueError(f"CEF header has {len(fields) + 1} of the 7 '|'-separated fields "
                     "(Version|Device Vendor|Device Product|Device Version|Signature ID|Name|Severity)")


def _unescape_value(text: str) -> str:
    if "\\" not in text:
        return text
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n and text[i + 1] in _EXT_ESCAPES:
            out.append(_EXT_ESCAPES[text[i + 1]])
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _parse_extension(text: str) -> dict[str, str]:
    text = text.strip()
    if not text:
        return {}
    keys = list(_KEY.finditer(text))
    if not keys or keys[0].start() != 0:
        head = text[: keys[0].start()] if keys else text
        raise ValueError(f"CEF extension does not start with key=value: {head[:60]!r}")
    out: dict[str, str] = {}
    for idx, m in enumerate(keys):
        end = keys[idx + 1].start() if idx + 1 < len(keys) else len(text)
        value = text[m.end():end]
        if idx + 1 < len(keys):
            value = value[:-1] if value.endswith(" ") else value  # the one separating space
        out[m.group(1)] = _unescape_value(value.rstrip() if idx + 1 == len(keys) else value)
    return out


def find_cef(text: str) -> int:
    """Return the index where ``CEF:<digit>`` starts in ``text`` (after a syslog header), or -1."""
    if text.startswith("CEF:"):
        return 0
    m = _CEF_START.search(text)
    return m.start() if m else -1


def parse_cef(text: str) -> dict[str, Any]:
    """Parse one CEF event (``CEF:0|...``) into its header fields and extensions.

    Leading white space and a UTF-8 BOM are ignored, as is the line end. Text before
    ``CEF:`` (a syslog header) is *not* accepted here: use :func:`find_cef` first.

    :returns: ``version``, ``device_vendor``, ``device_product``, ``device_version``,
        ``signature_id``, ``name``, ``severity`` (all strings, header-unescaped) and
        ``extensions`` (``dict[str, str]``, value-unescaped; a repeated key keeps the last).
    :raises ValueError: with the reason, when the text is not CEF.
    """
    if not isinstance(text, str):
        raise ValueError(f"CEF input must be text, got {type(text).__name__}")
    if len(text) > MAX_CEF_CHARS:
        raise ValueError(f"CEF line of {len(text)} characters is over the limit of {MAX_CEF_CHARS}")
    line = text.lstrip("\ufeff \t").rstrip("\r\n\x00")
    if not line.startswith("CEF:"):
        raise ValueError(f"not a CEF line: it must start with 'CEF:', found {line[:20]!r}")
    fields, rest = _split_header(line[4:])
    if not _VERSION.fullmatch(fields[0].strip()):
        raise ValueError(f"CEF version must be a number such as 0 or 1, found {fields[0][:20]!r}")
    out: dict[str, Any] = {k: v.strip() if k in ("version", "severity") else v for k, v in zip(HEADER_KEYS, fields)}
    out["extensions"] = _parse_extension(rest)
    return out
