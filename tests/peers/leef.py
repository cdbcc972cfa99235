"""Read LEEF 2.0 back the way IBM QRadar's documentation defines it (no LEEF parser can run here).

``LEEF:2.0|Vendor|Product|Version|EventID|DelimiterCharacter|`` then attributes
``key=value`` separated by the declared delimiter (``x09`` or ``^`` style hex, or the
character itself); a key ends at the first ``=``. LEEF has no escape mechanism, which
is why the sink replaces the delimiter and line breaks in values.
"""

from __future__ import annotations

from typing import Any


def _delimiter(spec: str) -> str:
    if len(spec) == 1:
        return spec
    if spec[:1] in ("x", "X") or spec[:2] in ("0x", "0X"):
        return chr(int(spec.lstrip("0").lstrip("xX"), 16))
    raise ValueError(f"bad LEEF delimiter {spec!r}")


def parse_leef(line: str) -> dict[str, Any]:
    """Parse one LEEF 2.0 event (any syslog header before ``LEEF:`` is skipped)."""
    start = line.find("LEEF:2.0|")
    if start < 0:
        raise ValueError(f"no LEEF 2.0 header in {line[:80]!r}")
    fields = line[start:].split("|", 6)
    if len(fields) != 7:
        raise ValueError(f"LEEF 2.0 header needs 6 fields: {line[:200]!r}")
    _, vendor, product, version, event_id, delimiter, rest = fields
    attrs: dict[str, str] = {}
    for pair in rest.split(_delimiter(delimiter)) if rest else []:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"LEEF attribute without '=': {pair[:80]!r}")
        if key in attrs:
            raise ValueError(f"LEEF attribute {key!r} twice")
        attrs[key] = value
    return {"vendor": vendor, "product": product, "version": version, "event_id": event_id, "attrs": attrs}
