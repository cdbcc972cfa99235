"""Normalisation shared by the vendor decoders: one type table, severity rules, payload access.

Everything a SOC routes on is decided here, once, so that ``finding.new`` means the
same thing whichever scanner sent it. ``docs/event-types.md`` lists the table and
``tests/unit/agent/sdk/test_normalize.py`` checks every row.

Severity rules (each returns an OCSF severity and a 0-100 score):

* a word in any case (``CRITICAL``, ``high``, ``Informational``): the word; score is
  the severity's representative value (info 5, low 25, medium 55, high 80, critical 95);
* a CVSS base score (0-10): the CVSS rating bands; score = CVSS × 10;
* a 0-100 score (ZeroPath): its levels (critical 90-100, high 70-89, medium 40-69,
  low 10-39, info 0-9); the score is kept;
* **the ambiguous number** (ZeroPath documents a 0-100 score, but its own example sends
  ``8.2``): a number written with a decimal point and at most 10 is a CVSS base score
  (``8.2`` → high, score 82); an integer, or anything above 10, is a 0-100 score
  (``8`` → info, score 8; ``82`` → high). The payload's bytes decide, not a guess.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any, Mapping

import orjson

from agent.sdk.decoder import DecodeError
from agent.model import (Severity, content_id, parse_time, score_from_cvss, score_from_severity, severity_from_cvss,
                         severity_from_name, severity_from_score)

__all__ = ["TYPE_TABLE", "normalize_type", "severity_of_name", "severity_of_cvss", "severity_of_score",
           "severity_of_number", "severity_of_detectify", "first_time", "canonical", "nested_within_limit", "stable_id",
           "opt_str", "opt_obj", "opt_list", "obj_or_empty", "req_obj", "req_str", "MAX_DEPTH"]

#: vendor (Event.source) → vendor type → normalised dotted type. Escape has no event
#: types: its keys are ``<resource>:<status>`` (``issue:OPEN``) or ``<resource>``.
TYPE_TABLE: dict[str, dict[str, str]] = {
    "escape": {
        "issue:OPEN": "finding.new", "issue:RESOLVED": "finding.resolved",
        "issue:MANUAL_REVIEW": "finding.status_changed", "issue:IGNORED": "finding.status_changed",
        "issue:FALSE_POSITIVE": "finding.status_changed", "issue": "finding.updated",
        "scan:STARTING": "scan.started", "scan:RUNNING": "scan.running", "scan:FINISHED": "scan.completed",
        "scan:FAILED": "scan.failed", "scan:CANCELED": "scan.cancelled", "scan": "scan.updated",
        "asset": "asset.changed", "profile": "config.profile_changed", "location": "config.location_changed",
        "integration": "config.integration_changed",
    },
    "detectify": {
        "finding": "finding.new", "new_finding": "finding.new", "finding_new": "finding.new",
        "finding_updated": "finding.status_changed", "finding_resolved": "finding.resolved",
        "scan_started": "scan.started", "scan_completed": "scan.completed", "scan_finished": "scan.completed",
        "asset_added": "asset.added", "asset_changed": "asset.changed", "asset_removed": "asset.removed",
        "event_scan_started": "scan.started", "event_scan_finished": "scan.completed",
        "event_finding_high": "finding.new", "event_finding_medium": "finding.new",
    },
    "zeropath": {
        "SCAN_STARTED": "scan.started", "SCAN_COMPLETE": "scan.completed", "SCAN_FAILED": "scan.failed",
        "SCAN_SCHEDULED": "scan.scheduled", "PR_SCAN_STARTED": "scan.started", "PR_SCAN_COMPLETE": "scan.completed",
        "NEW_VULNERABILITIES_FULL_SCAN": "finding.new", "NEW_VULNERABILITIES_PR": "finding.new",
        "VULNERABILITY_PATCHED": "finding.resolved", "VULNERABILITY_REOPENED": "finding.reopened",
        "VULNERABILITY_STATUS_CHANGED": "finding.status_changed", "PR_BLOCKED": "pr.blocked",
        "PR_MERGED_WITH_ISSUES": "pr.merged_with_issues", "PATCH_PR_DENIED": "pr.patch_denied",
        "REPORT_COMPLETE": "report.ready", "LONG_RUNNING_SCAN": "scan.long_running",
        "AUDIT_LOG_EVENT": "audit.api_call", "SCA_NEW_CVE": "finding.new", "SCA_NEW_ISSUE": "finding.new",
        "INBOUND_WEBHOOK": "automation.triggered", "SCA_SCAN_STARTED": "scan.started",
        "SCA_SCAN_COMPLETE": "scan.completed", "SCA_SCAN_FAILED": "scan.failed", "REPO_ADDED": "asset.added",
    },
    "pentest": {
        "finding_added": "finding.new", "finding_verified": "finding.verified",
        "critical_finding": "finding.new", "retest_completed": "finding.retested",
        "phase_changed": "engagement.phase_changed", "engagement_completed": "engagement.completed",
        "engagement_signed": "engagement.signed", "report_ready": "report.ready",
        "surface_changed": "asset.changed", "monitor_alert": "monitor.alert",
    },
}

_SLUG = re.compile(r"[^a-z0-9_]+")

#: Levels kept free above a payload for the event and a sink's envelope around it.
_HEADROOM = 16
#: Deepest nesting a payload may have (orjson's 254 less the headroom); no vendor
#: documented here goes past 10, so a deeper payload is refused as malformed.
MAX_DEPTH = 254 - _HEADROOM


def normalize_type(source: str, vendor_type: str) -> str:
    """Return the normalised type of ``vendor_type`` from ``source``.

    A type the table does not know is not rejected (vendors add types): it becomes
    ``<source>.<vendor type in snake case>`` (``zeropath.new_thing``), so it can still be
    routed, and the table can learn it later without breaking anyone's rules.
    """
    table = TYPE_TABLE.get(source)
    if table is not None:
        found = table.get(vendor_type)
        if found is not None:
            return found
    slug = _SLUG.sub("_", vendor_type.strip().lower()).strip("_")[:64] or "unknown"
    return f"{source}.{slug}"


def severity_of_name(value: object) -> tuple[Severity, int]:
    """A severity word (any case) or OCSF id → (severity, representative score)."""
    sev = severity_from_name(value)
    return sev, score_from_severity(sev)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def severity_of_cvss(value: object) -> tuple[Severity, int]:
    """A CVSS base score (0-10, number or numeric string) → (CVSS band, CVSS × 10)."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return Severity.UNKNOWN, 0
    if not _is_number(value):
        return Severity.UNKNOWN, 0
    return severity_from_cvss(value), score_from_cvss(value)  # type: ignore[arg-type]


def severity_of_score(value: object) -> tuple[Severity, int]:
    """A 0-100 risk score → (ZeroPath's level, the score clamped to 0-100)."""
    if not _is_number(value):
        return Severity.UNKNOWN, 0
    score = int(round(min(max(float(value), 0.0), 100.0)))  # type: ignore[arg-type]
    return severity_from_score(score), score


def severity_of_number(value: object) -> tuple[Severity, int]:
    """The ambiguous number rule (module docstring): a float ≤ 10 is CVSS, else a 0-100 score."""
    if isinstance(value, float) and math.isfinite(value) and 0.0 <= value <= 10.0:
        return severity_of_cvss(value)
    return severity_of_score(value)


def severity_of_any(value: object) -> tuple[Severity, int]:
    """A vendor severity of unknown form: a word, a numeric string, or a number (see above)."""
    if isinstance(value, str):
        text = value.strip()
        sev = severity_from_name(text)
        if sev is not Severity.UNKNOWN or not text:
            return sev, score_from_severity(sev)
        try:
            num = float(text)
        except ValueError:
            return Severity.UNKNOWN, 0
        return severity_of_number(num if "." in text else int(num)) if math.isfinite(num) else (Severity.UNKNOWN, 0)
    if _is_number(value):
        return severity_of_number(value)
    return Severity.UNKNOWN, 0


def severity_of_detectify(name: object, cvss: object) -> tuple[Severity, int]:
    """Detectify: its severity word when given, else its CVSS bands; score from the CVSS.

    Detectify's bands (legacy docs): high is CVSS 6 and up, medium 3 to 6; below 3 is
    low, 0 is informational, and 9 and up is critical (its current severity scale).
    """
    c_sev, c_score = Severity.UNKNOWN, 0
    if isinstance(cvss, str):
        try:
            cvss = float(cvss)
        except ValueError:
            cvss = None
    if _is_number(cvss):
        c = min(max(float(cvss), 0.0), 10.0)  # type: ignore[arg-type]
        c_score = int(round(c * 10))
        c_sev = (Severity.CRITICAL if c >= 9 else Severity.HIGH if c >= 6 else Severity.MEDIUM if c >= 3
                 else Severity.LOW if c > 0 else Severity.INFO)
    n_sev = severity_from_name(name)
    if n_sev is Severity.UNKNOWN:
        return c_sev, c_score
    return n_sev, c_score if _is_number(cvss) else score_from_severity(n_sev)


def first_time(*values: object) -> datetime | None:
    """The first of ``values`` that parses as a time (ISO 8601, epoch s or ms), as UTC."""
    for value in values:
        dt = parse_time(value)
        if dt is not None:
            return dt
    return None


def canonical(payload: object) -> bytes:
    """The payload's canonical JSON (sorted keys), refusing what the spool could not store.

    orjson serialises at most 254 levels; the payload is serialised inside
    :data:`_HEADROOM` extra levels, so whatever passes leaves room for the event around
    it (``raw`` inside the event, the event inside a sink's envelope). The depth check
    costs nothing beyond the serialisation that the content hash needs anyway.

    :raises DecodeError: nested deeper than :data:`MAX_DEPTH` or not JSON-serialisable
        (an integer beyond 64 bits from a non-orjson parser, a non-string key).
    """
    wrapped: object = payload
    for _ in range(_HEADROOM):
        wrapped = [wrapped]
    try:
        text = orjson.dumps(wrapped, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError as exc:
        if "recursion" in str(exc).lower():
            raise DecodeError(f"payload is nested deeper than {MAX_DEPTH} levels") from None
        raise DecodeError(f"payload cannot be stored as JSON: {exc}") from None
    return text[_HEADROOM:-_HEADROOM]


def nested_within_limit(data: bytes) -> bool:
    """Whether JSON text cannot nest deeper than :data:`MAX_DEPTH`, told from its bytes alone.

    Every level opens with ``{`` or ``[``, so fewer of them in all than the limit (two C
    scans of the bytes) proves the depth without serialising the parsed value as
    :func:`canonical` does. ``False`` means only "not proven": brackets inside strings count
    too. A value orjson parsed from such bytes is also storable (orjson reads no integer
    beyond 64 bits and no non-string key), so a decoder that parsed the bytes itself needs
    :func:`canonical` only for a content-hash id.
    """
    return data.count(b"{") + data.count(b"[") <= MAX_DEPTH


def stable_id(source: str, canon: bytes) -> str:
    """Content hash id of a payload already made :func:`canonical`."""
    return content_id(source, canon)


def opt_str(value: object) -> str:
    """A scalar as text (``""`` for None, objects and arrays): fields humans read."""
    if type(value) is str:  # the common case first: this runs dozens of times per event
        return value
    if value is None or isinstance(value, (dict, list)):
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def obj_or_empty(value: object) -> dict[str, Any]:
    """``value`` when it is an object, else ``{}``: for optional details read leniently."""
    return value if isinstance(value, dict) else {}


def opt_obj(obj: Mapping[str, object], key: str, where: str) -> dict[str, Any] | None:
    """``obj[key]`` when it is an object; ``None`` when absent or null.

    :raises DecodeError: present with another type (an array where an object belongs).
    """
    value = obj.get(key)
    if value is None or type(value) is dict:
        return value
    if not isinstance(value, dict):
        raise DecodeError(f"{where}.{key} must be an object, found {_kind(value)}")
    return value


def opt_list(obj: Mapping[str, object], key: str, where: str) -> list[Any]:
    """``obj[key]`` when it is an array; ``[]`` when absent or null.

    :raises DecodeError: present with another type.
    """
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise DecodeError(f"{where}.{key} must be an array, found {_kind(value)}")
    return value


def req_obj(obj: Mapping[str, object], key: str, where: str) -> dict[str, Any]:
    """``obj[key]``, which must be an object. :raises DecodeError: missing or wrong type."""
    value = opt_obj(obj, key, where)
    if value is None:
        raise DecodeError(f"{where}.{key} is required and missing")
    return value


def req_str(obj: Mapping[str, object], key: str, where: str) -> str:
    """``obj[key]``, a non-empty string (a number is accepted as its text).

    :raises DecodeError: missing, empty, or not a scalar.
    """
    value = obj.get(key)
    if type(value) is str and value:
        return value
    if value is None or value == "":
        raise DecodeError(f"{where}.{key} is required and missing")
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise DecodeError(f"{where}.{key} must be a string, found {_kind(value)}")


def _kind(value: object) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)
