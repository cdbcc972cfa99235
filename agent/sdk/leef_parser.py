"""A LEEF line parser: IBM QRadar's Log Event Extended Format, versions 1.0 and 2.0.

Part of the SDK so every decoder that meets LEEF (the ``syslog`` decoder for LEEF
carried in syslog, ``auto`` for a bare LEEF line, third-party ones) reads it the same
way. The grammar (IBM "Log Event Extended Format (LEEF)", "LEEF event components"):

    LEEF:1.0|Vendor|Product|Version|EventID|attributes
    LEEF:2.0|Vendor|Product|Version|EventID|DelimiterCharacter|attributes

* LEEF has no escape character: a header field never contains ``|``.
* LEEF 1.0 attributes are tab-separated. LEEF 2.0 declares the separator: one
  character, or its code as ``xHH``/``0xHH``; an empty field means tab.
* An attribute is ``key=value`` split at the first ``=`` (a value may hold ``=``).
"""

from __future__ import annotations

import re
from typing import TypedDict

__all__ = ["LeefRecord", "find_leef", "parse_leef", "MAX_LEEF_CHARS"]

#: Longest line accepted, as for CEF: an event is normally < 8 KiB, syslog caps are 64 KiB.
MAX_LEEF_CHARS = 1 << 20

_LEEF_START = re.compile(r"(?:^|(?<=[\s>:]))LEEF:[12]\.0\|")
_HEX = re.compile(r"(?:0?[xX])([0-9A-Fa-f]{1,4})")
_KEY = re.compile(r"[A-Za-z0-9_.\-\[\]]+")


class LeefRecord(TypedDict):
    """One parsed LEEF event: the header fields and the attributes, in the order sent."""

    version: str
    vendor: str
    product: str
    product_version: str
    event_id: str
    delimiter: str
    attributes: dict[str, str]


def find_leef(text: str) -> int:
    """Return the index where ``LEEF:1.0|``/``LEEF:2.0|`` starts in ``text`` (after a syslog header), or -1."""
    if text.startswith(("LEEF:1.0|", "LEEF:2.0|")):
        return 0
    m = _LEEF_START.search(text)
    return m.start() if m else -1


def _delimiter(spec: str) -> str:
    """The LEEF 2.0 attribute separator from its header field (a character, ``xHH``/``0xHH``, empty = tab)."""
    if spec == "":
        return "\t"
    m = _HEX.fullmatch(spec)
    if m:
        return chr(int(m.group(1), 16))
    if len(spec) == 1:
        return spec
    raise ValueError(f"LEEF 2.0 delimiter must be one character or its hex code (x09, 0x5E), found {spec[:12]!r}")


def _attributes(body: str, delimiter: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in body.split(delimiter):
        if not item.strip():
            continue  # a trailing or doubled separator carries nothing
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not _KEY.fullmatch(key):
            raise ValueError(f"LEEF attribute is not key=value: {item[:60]!r}")
        out[key] = value  # a repeated key keeps the last, as for CEF
    return out


def parse_leef(text: str) -> LeefRecord:
    """Parse one LEEF event (``LEEF:1.0|...`` or ``LEEF:2.0|...``).

    Leading white space and a UTF-8 BOM are ignored, as is the line end. Text before
    ``LEEF:`` (a syslog header) is *not* accepted here: use :func:`find_leef` first.

    :raises ValueError: with the reason, when the text is not LEEF 1.0/2.0.
    """
    if len(text) > MAX_LEEF_CHARS:
        raise ValueError(f"LEEF line of {len(text)} characters is over the limit of {MAX_LEEF_CHARS}")
    line = text.lstrip("\ufeff \t").rstrip("\r\n\x00")
    if not line.startswith("LEEF:"):
        raise ValueError(f"not a LEEF line: it must start with 'LEEF:', found {line[:20]!r}")
    version = line[5:line.find("|")] if "|" in line else line[5:12]
    if version not in ("1.0", "2.0"):
        raise ValueError(f"LEEF version must be 1.0 or 2.0, found {version[:12]!r}")
    fields = line.split("|", 6 if version == "2.0" else 5)
    wanted = 7 if version == "2.0" else 6
    if len(fields) < wanted - 1:
        names = "Vendor|Product|Version|EventID|" + ("DelimiterCharacter|" if version == "2.0" else "")
        raise ValueError(f"LEEF {version} header has {len(fields) - 1} of its '|'-separated fields ({names})")
    if len(fields) == wanted - 1:
        if version == "2.0" and "=" in fields[5]:
            fields.insert(5, "")  # a LEEF 2.0 sender that left out the delimiter field: tab, the default
        else:
            fields.append("")  # the header alone, no attributes: tolerated
    delimiter = _delimiter(fields[5]) if version == "2.0" else "\t"
    return {"version": version, "vendor": fields[1], "product": fields[2], "product_version": fields[3],
            "event_id": fields[4], "delimiter": delimiter, "attributes": _attributes(fields[-1], delimiter)}
