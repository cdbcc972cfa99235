"""The one vendor-neutral security event that every stage of siemrelay speaks.

Decoders build :class:`Event` objects, the router reads them, the spool stores their
JSON form (:meth:`Event.to_json`) once, and sinks encode them. The JSON form is a
public contract (users' tools read what ``out_file`` writes), so its key order and
names are fixed here and nowhere else.
"""

from __future__ import annotations

import functools
import math
import operator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import IntEnum
from typing import Any, Mapping

import orjson

__all__ = [
    "Event",
    "Severity",
    "GROUPS",
    "content_id",
    "severity_from_name",
    "severity_from_score",
    "severity_from_cvss",
    "score_from_severity",
    "score_from_cvss",
    "parse_time",
    "format_time",
    "utcnow",
]


class Severity(IntEnum):
    """OCSF ``severity_id`` values (0 unknown … 5 critical)."""

    UNKNOWN = 0
    INFO = 1
    LOW = 2
    MEDIUM = 3
    HIGH = 4
    CRITICAL = 5

    @property
    def label(self) -> str:
        """Return the lower-case name used in the JSON form (``high``)."""
        return _SEVERITY_LABELS[self]


_SEVERITY_LABELS = {s: s.name.lower() for s in Severity}
#: the severity labels of the native form by plain id (``severity_id`` is an ``int`` on most events)
SEVERITY_LABEL_OF_ID: dict[int, str] = {int(s): label for s, label in _SEVERITY_LABELS.items()}

# Names vendors use, lower-cased, mapped to OCSF ids. "informational" (OCSF, Escape),
# "none" (CVSS), "moderate" (GitHub, npm), "severe"/"fatal" are seen in the wild.
_SEVERITY_ALIASES: dict[str, Severity] = {
    "unknown": Severity.UNKNOWN,
    "": Severity.UNKNOWN,
    "other": Severity.UNKNOWN,
    "info": Severity.INFO,
    "informational": Severity.INFO,
    "information": Severity.INFO,
    "none": Severity.INFO,
    "low": Severity.LOW,
    "minor": Severity.LOW,
    "medium": Severity.MEDIUM,
    "moderate": Severity.MEDIUM,
    "med": Severity.MEDIUM,
    "high": Severity.HIGH,
    "major": Severity.HIGH,
    "severe": Severity.HIGH,
    "critical": Severity.CRITICAL,
    "fatal": Severity.CRITICAL,
    "crit": Severity.CRITICAL,
}

# The representative 0-100 score of a severity when the vendor gave no number. Each
# lies inside the band that severity_from_score maps back to the same severity.
_SCORE_OF_SEVERITY = {
    Severity.UNKNOWN: 0,
    Severity.INFO: 5,
    Severity.LOW: 25,
    Severity.MEDIUM: 55,
    Severity.HIGH: 80,
    Severity.CRITICAL: 95,
}


def severity_from_name(name: object) -> Severity:
    """Map a vendor's severity word (any case) or OCSF id to a :class:`Severity`.

    :param name: ``"CRITICAL"``, ``"high"``, ``"Informational"``, ``4``, ``Severity.LOW``.
    :returns: the severity; :attr:`Severity.UNKNOWN` for anything not recognised.
    """
    if isinstance(name, Severity):
        return name
    if isinstance(name, bool):
        return Severity.UNKNOWN
    if isinstance(name, int):
        return Severity(name) if 0 <= name <= 5 else Severity.UNKNOWN
    if isinstance(name, str):
        key = name.strip().lower()
        found = _SEVERITY_ALIASES.get(key)
        if found is not None:
            return found
        if key.isascii() and key.isdigit():
            return severity_from_name(int(key))
    return Severity.UNKNOWN


def severity_from_score(score: float | int) -> Severity:
    """Map a 0-100 risk score to a severity with ZeroPath's documented bands.

    Critical 90-100, high 70-89, medium 40-69, low 10-39, info 0-9. Values outside
    0-100 are clamped; NaN is unknown.
    """
    if isinstance(score, bool) or not isinstance(score, (int, float)) or math.isnan(score):
        return Severity.UNKNOWN
    s = min(max(float(score), 0.0), 100.0)
    if s >= 90:
        return Severity.CRITICAL
    if s >= 70:
        return Severity.HIGH
    if s >= 40:
        return Severity.MEDIUM
    if s >= 10:
        return Severity.LOW
    return Severity.INFO


def severity_from_cvss(cvss: float | int) -> Severity:
    """Map a CVSS v3/v4 base score (0-10) to a severity with the CVSS rating bands.

    0.0 none → info, 0.1-3.9 low, 4.0-6.9 medium, 7.0-8.9 high, 9.0-10.0 critical.
    """
    if isinstance(cvss, bool) or not isinstance(cvss, (int, float)) or math.isnan(cvss):
        return Severity.UNKNOWN
    c = min(max(float(cvss), 0.0), 10.0)
    if c >= 9.0:
        return Severity.CRITICAL
    if c >= 7.0:
        return Severity.HIGH
    if c >= 4.0:
        return Severity.MEDIUM
    if c > 0.0:
        return Severity.LOW
    return Severity.INFO


def score_from_severity(severity: Severity | int) -> int:
    """Return the representative 0-100 score of a severity (info 5 … critical 95)."""
    return _SCORE_OF_SEVERITY[severity_from_name(int(severity))]


def score_from_cvss(cvss: float | int) -> int:
    """Scale a CVSS base score (0-10) to the 0-100 score (``8.2`` → ``82``)."""
    return int(round(min(max(float(cvss), 0.0), 10.0) * 10))


_UTC = timezone.utc


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(timezone.utc)


def parse_time(value: object) -> datetime | None:
    """Parse a vendor timestamp into an aware UTC datetime.

    Accepts ISO 8601 (``Z``, offsets, fractions, a space instead of ``T``), epoch
    seconds, and epoch milliseconds (any number above 10^11 is taken as ms: that is
    the year 5138 in seconds and 1973 in ms), as numbers or numeric strings. A naive
    ISO time is taken as UTC.

    :returns: the time, or ``None`` when the value is not a time.
    """
    if type(value) is str and len(value) > 9 and value[4] == "-":
        # the common shape (``2026-11-24T00:00:00.004Z``) first: one C call, no stripping
        # or numeric probing; text it refuses (white space around it, ...) takes the long way
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            return _parse_time(value)
        tz = dt.tzinfo
        if tz is _UTC:
            return dt
        return dt.replace(tzinfo=_UTC) if tz is None else dt.astimezone(_UTC)
    return _parse_time(value)


def _parse_time(value: object) -> datetime | None:
    """:func:`parse_time` for every shape of value."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        secs = float(value)
        if abs(secs) > 1e11:
            secs /= 1000.0
        try:
            return datetime.fromtimestamp(secs, timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if _looks_numeric(text):
            return _parse_time(float(text))
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            return None
    else:
        return None
    if dt.tzinfo is None:
        return dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def _looks_numeric(text: str) -> bool:
    """One optional sign, digits, at most one dot: what ``float()`` takes without raising."""
    t = text[1:] if text[:1] in ("+", "-") else text
    t = t.replace(".", "", 1)
    return bool(t) and t.isascii() and t.isdigit()


def format_time(dt: datetime) -> str:
    """Format a datetime as ISO 8601 UTC with ``Z`` and milliseconds when non-zero.

    Two events in the same second share the text up to the second (memoised in
    :func:`_second_text`); only the milliseconds differ, and they come from a table. This
    runs twice per event on the hot path, and ``datetime.isoformat`` of an aware time
    (or hashing one for a cache) costs several times more than these attribute reads.
    Equal aware datetimes are the same instant, so they format alike whatever their offset.
    """
    if dt.tzinfo is not _UTC:
        dt = dt.astimezone(_UTC)
    return (_second_text(dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second)
            + _FRACTION_TEXT[dt.microsecond // 1000])


@functools.lru_cache(maxsize=4096)
def _second_text(year: int, month: int, day: int, hour: int, minute: int, second: int) -> str:
    """``2026-11-24T00:00:07``: a UTC time's text up to the second."""
    return "%04d-%02d-%02dT%02d:%02d:%02d" % (year, month, day, hour, minute, second)


#: what follows the second, by millisecond: nothing at 0 (``...:07Z``), else ``.004Z``
_FRACTION_TEXT = ("Z",) + tuple(f".{ms:03d}Z" for ms in range(1, 1000))


def content_id(source: str, payload: object) -> str:
    """Return a stable id for a payload with no vendor id: a hash of canonical content.

    Canonical means keys sorted and no insignificant white space, so the same payload
    delivered twice (or re-serialised by a proxy) gives the same id. The source name is
    mixed in so that two vendors' identical bodies do not collide.

    :returns: 32 lower-case hex characters (128 bits of SHA-256).
    """
    if isinstance(payload, (bytes, bytearray, memoryview)):
        body = bytes(payload)
    else:
        try:
            body = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
        except TypeError:
            body = repr(payload).encode("utf-8", "replace")
    # imported here, not at the top: hashlib loads OpenSSL (about 3.5 MB), which a process whose
    # events all carry their ids never needs (docs/hot-path.md, section 16); `import hashlib`
    # is a lookup once loaded (66 ns; `from hashlib import sha256` would cost 1 µs per call)
    import hashlib

    h = hashlib.sha256(source.encode("utf-8", "replace"))
    h.update(b"\0")
    h.update(body)
    return h.hexdigest()[:32]


#: The optional nested groups, in the order the JSON form writes them.
GROUPS = ("asset", "finding", "scan", "repository", "organization", "links",
          "network", "actor", "action", "outcome", "process", "file", "device", "signature", "origin")


@dataclass(slots=True)
class Event:
    """One security event in siemrelay's common model.

    :ivar id: stable identifier; the vendor's event or finding id where it has one,
        else :func:`content_id` of the payload. Used for de-duplication.
    :ivar time: when the event happened (vendor time), aware UTC.
    :ivar received_at: when siemrelay received it, aware UTC.
    :ivar source: the vendor or input kind (``zeropath``, ``detectify``, ``syslog``).
    :ivar type: normalised dotted type (``finding.new``, ``scan.completed``).
    :ivar vendor_type: the vendor's own event type (``SCAN_COMPLETE``).
    :ivar severity_id: OCSF severity id, see :class:`Severity`.
    :ivar score: 0-100 risk score.
    :ivar title: one line for humans.
    :ivar description: longer text, may be empty.
    :ivar asset: what was affected: ``name``, ``type``, ``url``, ``host``, ``ip``, ...
    :ivar finding: ``id``, ``category``, ``status``, ``cve``, ``cwe``, ``cvss``,
        ``url``, ``parameter``, ``remediation``, ``location``, ...
    :ivar scan: ``id``, ``status``, ``started_at``, ``finished_at``, counts, ...
    :ivar repository: ``name``, ``url``, ``branch``, ``commit``, ``pull_request``, ...
    :ivar organization: ``id``, ``name``.
    :ivar links: named URLs; ``links["vendor"]`` is where a human looks at it.
    :ivar network: the connection an event is about: ``src_ip``, ``src_port``, ``dst_ip``,
        ``dst_port``, ``protocol`` (lower case, ``tcp``), ``direction`` (``inbound``,
        ``outbound``, ``internal``, ``external``, ``unknown``).
    :ivar actor: who acted: ``user``, ``domain``.
    :ivar action: what the reporting device did, normalised (``allowed``, ``denied``,
        ``dropped``, ``blocked``, ``reset``, ``quarantined``, ``alerted``, ``other``) with
        the device's own word in ``original``: ``{"name": "denied", "original": "deny"}``.
    :ivar outcome: how it ended, normalised (``success``, ``failure``, ``unknown``) with
        ``original``.
    :ivar process: ``name``, ``pid``.
    :ivar file: ``path``, ``hash``.
    :ivar device: who reported the event (the IDS, firewall, host), apart from the asset
        it is about: ``vendor``, ``product``, ``version``, ``hostname``.
    :ivar signature: the rule or signature that fired: ``id``, ``name``.
    :ivar origin: where siemrelay got it: ``input`` (the source's config name),
        ``peer``, ``path``, ``file``; also ``flags`` such as ``parse_error``.
    :ivar tags: free labels, added by vendors and by routes.
    :ivar raw: the original payload, kept whole (unknown vendor fields live here).
    """

    id: str
    time: datetime
    received_at: datetime
    source: str
    type: str
    vendor_type: str = ""
    severity_id: int = Severity.UNKNOWN
    score: int = 0
    title: str = ""
    description: str = ""
    asset: dict[str, Any] | None = None
    finding: dict[str, Any] | None = None
    scan: dict[str, Any] | None = None
    repository: dict[str, Any] | None = None
    organization: dict[str, Any] | None = None
    links: dict[str, str] | None = None
    network: dict[str, Any] | None = None
    actor: dict[str, Any] | None = None
    action: dict[str, Any] | None = None
    outcome: dict[str, Any] | None = None
    process: dict[str, Any] | None = None
    file: dict[str, Any] | None = None
    device: dict[str, Any] | None = None
    signature: dict[str, Any] | None = None
    origin: dict[str, Any] | None = None
    tags: list[str] = field(default_factory=list)
    raw: Any = None

    @property
    def severity(self) -> Severity:
        """Return :attr:`severity_id` as a :class:`Severity`."""
        return severity_from_name(self.severity_id)

    def to_dict(self, received_text: str | None = None) -> dict[str, Any]:
        """Return the native JSON form as a dict, keys in the documented order.

        Empty groups are left out; ``tags`` and ``raw`` are always present.

        :param received_text: ``format_time(self.received_at)``, when the caller already has
            it: the events of one received batch share their receiving time, and the intake
            formats it once per batch instead of once per event.
        """
        out: dict[str, Any] = {
            "id": self.id,
            "time": format_time(self.time),
            "received_at": format_time(self.received_at) if received_text is None else received_text,
            "source": self.source,
            "type": self.type,
            "vendor_type": self.vendor_type,
            "severity": SEVERITY_LABEL_OF_ID.get(self.severity_id, "unknown"),
            "severity_id": int(self.severity_id),
            "score": self.score,
            "title": self.title,
            "description": self.description,
        }
        groups = _group_values(self)
        if any(groups):  # most events have none or one or two: one C call instead of 15 getattr
            for name, value in zip(GROUPS, groups):
                if value:
                    out[name] = value
        out["tags"] = self.tags
        out["raw"] = self.raw
        return out

    def to_json(self) -> bytes:
        """Serialise to the native JSON form (one line, UTF-8, no trailing newline)."""
        return orjson.dumps(self.to_dict(), option=orjson.OPT_NON_STR_KEYS)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Event":
        """Build an Event from its native JSON form (the inverse of :meth:`to_dict`).

        :raises ValueError: when ``id``, ``time``, ``source`` or ``type`` is missing or
            a time does not parse.
        """
        try:
            time = parse_time(data["time"])
            received = parse_time(data.get("received_at", data["time"]))
            if time is None or received is None:
                raise ValueError("time or received_at is not an ISO 8601 time")
            sev = data.get("severity_id")
            if sev is None:
                sev = severity_from_name(data.get("severity"))
            return cls(
                id=str(data["id"]),
                time=time,
                received_at=received,
                source=str(data["source"]),
                type=str(data["type"]),
                vendor_type=str(data.get("vendor_type") or ""),
                severity_id=int(sev),
                score=int(data.get("score") or 0),
                title=str(data.get("title") or ""),
                description=str(data.get("description") or ""),
                asset=data.get("asset"),
                finding=data.get("finding"),
                scan=data.get("scan"),
                repository=data.get("repository"),
                organization=data.get("organization"),
                links=data.get("links"),
                network=data.get("network"),
                actor=data.get("actor"),
                action=data.get("action"),
                outcome=data.get("outcome"),
                process=data.get("process"),
                file=data.get("file"),
                device=data.get("device"),
                signature=data.get("signature"),
                origin=data.get("origin"),
                tags=list(data.get("tags") or ()),
                raw=data.get("raw"),
            )
        except KeyError as exc:
            raise ValueError(f"event is missing the required field {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise ValueError(f"event is not in the native form: {exc}") from None

    @classmethod
    def from_json(cls, data: bytes | str) -> "Event":
        """Parse the native JSON form (see :meth:`to_json`)."""
        return cls.from_dict(orjson.loads(data))

    def get(self, path: str, default: object = None) -> Any:
        """Return the value at a dotted path (``asset.name``, ``raw.event.id``).

        Top-level names are the JSON form's (``severity`` gives the name, ``severity_id``
        the number); a missing step gives ``default``.
        """
        head, _, rest = path.partition(".")
        if head == "severity":
            value: Any = self.severity.label
        elif head in _FIELD_NAMES:
            value = getattr(self, head)
        else:
            return default
        if not rest:
            return default if value is None else value
        for step in rest.split("."):
            if isinstance(value, Mapping):
                if step not in value:
                    return default
                value = value[step]
            elif isinstance(value, list) and step.lstrip("-").isascii() and step.lstrip("-").isdigit():
                idx = int(step)
                if not -len(value) <= idx < len(value):
                    return default
                value = value[idx]
            else:
                return default
        return value


_FIELD_NAMES = frozenset(Event.__dataclass_fields__) | {"severity"}
#: the optional groups of an event, in :data:`GROUPS` order, read in one call
_group_values = operator.attrgetter(*GROUPS)
