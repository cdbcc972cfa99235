"""ZeroPath's documented required fields, per event type, as data.

Each rule is a tuple of alternatives; each alternative is a tuple of dotted paths under
``event`` that must all be present (not null, not empty). One satisfied alternative is
enough: ``(("vulnerability",), ("scan",))`` reads "vulnerability or scan".
"""

from __future__ import annotations

from typing import Any

#: sourcetype → alternatives of required paths (under ``event``)
REQUIRED: dict[str, tuple[tuple[str, ...], ...]] = {
    "SCAN_STARTED": (("scan",),),
    "PR_SCAN_STARTED": (("scan",),),
    "SCAN_COMPLETE": (("scan",),),
    "PR_SCAN_COMPLETE": (("scan",),),
    "SCAN_FAILED": (("scan", "error"),),
    "NEW_VULNERABILITIES_PR": (("vulnerability",), ("scan",)),
    "NEW_VULNERABILITIES_FULL_SCAN": (("vulnerability",), ("scan",)),
    "LONG_RUNNING_SCAN": (("metadata.runningMinutes",),),
    "AUDIT_LOG_EVENT": (("audit_log",),),
    "SCAN_SCHEDULED": (("metadata.scheduleId", "metadata.crontab", "metadata.isEnabled", "metadata.action"),),
    "PR_BLOCKED": (("metadata.prId", "metadata.prNumber"),),
    "PR_MERGED_WITH_ISSUES": (("metadata.prUrl", "metadata.targetBranch"),),
    "VULNERABILITY_REOPENED": (("metadata",), ("vulnerability",)),
    "VULNERABILITY_PATCHED": (("metadata",), ("vulnerability",)),
    "REPORT_COMPLETE": (("metadata.reportId",),),
}

#: the 24 documented sourcetypes
SOURCETYPES = (
    "SCAN_STARTED", "SCAN_COMPLETE", "SCAN_FAILED", "SCAN_SCHEDULED", "PR_SCAN_STARTED", "PR_SCAN_COMPLETE",
    "NEW_VULNERABILITIES_FULL_SCAN", "NEW_VULNERABILITIES_PR", "VULNERABILITY_PATCHED", "VULNERABILITY_REOPENED",
    "PR_BLOCKED", "PR_MERGED_WITH_ISSUES", "REPORT_COMPLETE", "LONG_RUNNING_SCAN", "AUDIT_LOG_EVENT", "SCA_NEW_CVE",
    "SCA_NEW_ISSUE", "INBOUND_WEBHOOK", "PATCH_PR_DENIED", "VULNERABILITY_STATUS_CHANGED", "SCA_SCAN_STARTED",
    "SCA_SCAN_COMPLETE", "SCA_SCAN_FAILED", "REPO_ADDED",
)

#: fields required inside nested objects whenever the object is present
NESTED_REQUIRED: dict[str, tuple[str, ...]] = {
    "organization": ("id",),
    "repository": ("id", "name"),
    "scan": ("id", "type", "status", "url"),
    "audit_log": ("id", "endpoint", "timestamp"),
}


def _present(event: dict[str, Any], path: str) -> bool:
    value: Any = event
    for step in path.split("."):
        if not isinstance(value, dict) or step not in value:
            return False
        value = value[step]
    return value is not None and value != "" and value != {}


def missing_for(sourcetype: str, event: dict[str, Any]) -> str | None:
    """Return the reason ``event`` lacks what ``sourcetype`` requires, or ``None``."""
    alternatives = REQUIRED.get(sourcetype)
    if not alternatives:
        return None
    for paths in alternatives:
        if all(_present(event, p) for p in paths):
            return None
    if len(alternatives) == 1:
        absent = [f"event.{p}" for p in alternatives[0] if not _present(event, p)]
        return f"{sourcetype} requires {' and '.join(absent)}"
    options = " or ".join(" and ".join(f"event.{p}" for p in alt) for alt in alternatives)
    return f"{sourcetype} requires {options}"
