"""Read LEEF back the way IBM documents it (LEEF 1.0 and 2.0), and QRadar's predefined keys.

Written from IBM's "Log Event Extended Format (LEEF)" documentation: the header is
``LEEF:Version|Vendor|Product|Version|EventID|`` and, in LEEF 2.0 only, a delimiter
field (one character, or ``xHH``/``0xHH`` hex) before the attributes; LEEF 1.0
attributes are tab-separated. An attribute is ``key=value``, split at the first
``=``. LEEF has no escape character, so a header field never contains ``|``.
No QRadar can run here; this parser is only as strict as the documentation.
"""

from __future__ import annotations

from datetime import datetime

#: QRadar's predefined LEEF event attributes (IBM documentation, "Predefined LEEF event attributes").
QRADAR_KEYS = frozenset("""
cat devTime devTimeFormat proto sev src dst srcPort dstPort srcPreNAT dstPreNAT srcPostNAT dstPostNAT
usrName srcMAC dstMAC srcPreNATPort dstPreNATPort srcPostNATPort dstPostNATPort identSrc identHostName
identNetBios identGrpName identMAC vSrc vSrcName accountName srcBytes dstBytes srcPackets dstPackets
totalPackets role realm policy resource url groupID domain isLoginEvent isLogoutEvent identSecondlp
calLanguage AccountName calCountryOrRegion
""".split())


def parse_leef(line: str) -> tuple[dict[str, str], dict[str, str]]:
    """(header, attributes) of one LEEF line; raises ValueError on a malformed one."""
    if not line.startswith("LEEF:"):
        raise ValueError("not LEEF")
    parts = line.split("|", 6 if line.startswith("LEEF:2.0|") else 5)
    version = parts[0][5:]
    if version == "2.0":
        if len(parts) != 7:
            raise ValueError("LEEF 2.0 needs 6 header fields")
        spec = parts[5]
        delim = chr(int(spec[-2:], 16)) if spec.lower().startswith(("x", "0x")) else (spec or "\t")
        body = parts[6]
    elif version == "1.0":
        if len(parts) != 6:
            raise ValueError("LEEF 1.0 needs 5 header fields")
        delim, body = "\t", parts[5]
    else:
        raise ValueError(f"unknown LEEF version {version!r}")
    header = dict(zip(("version", "vendor", "product", "product_version", "event_id"), [version, *parts[1:5]]))
    attrs: dict[str, str] = {}
    for item in body.split(delim):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"attribute without key=value: {item!r}")
        if key in attrs:
            raise ValueError(f"duplicate attribute {key!r}")
        attrs[key] = value
    return header, attrs


def java_time(value: str, pattern: str) -> datetime:
    """Parse ``devTime`` with the subset of Java SimpleDateFormat the sink declares."""
    fmt = pattern.replace("yyyy", "%Y").replace("MMM", "%b").replace("dd", "%d").replace("HH", "%H")
    fmt = fmt.replace("mm", "%M").replace("ss", "%S").replace("SSS", "%f").replace("z", "%Z")
    return datetime.strptime(value, fmt)
