"""The context groups a ZeroPath event carries: who reported it, who called the audited API,
the file a vulnerability is in, a scan's outcome and a pull-request gate's verdict.

Pure functions of the envelope and the groups the decoder already made, so SIEM content
keyed on ``actor.user``, ``file.path``, ``outcome`` or ``action`` works for ZeroPath too.
"""

from __future__ import annotations

from typing import Any

__all__ = ["context_groups"]

#: sourcetype → (action, as the model's vocabulary names it) of a pull-request gate
_GATES = {"PR_BLOCKED": "blocked", "PATCH_PR_DENIED": "denied", "PR_MERGED_WITH_ISSUES": "allowed"}


def _outcome(sourcetype: str, scan: dict[str, Any] | None) -> dict[str, str]:
    if sourcetype.endswith("_COMPLETE") and sourcetype != "REPORT_COMPLETE":
        name = "success"
    elif sourcetype.endswith("_FAILED"):
        name = "failure"
    else:
        return {}
    return {"name": name, "original": str((scan or {}).get("status") or sourcetype)}


def context_groups(payload: dict[str, Any], sourcetype: str, audit: dict[str, Any], finding: dict[str, Any] | None,
                   scan: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """``device``, ``actor``, ``file``, ``outcome`` and ``action`` of one envelope (only those it has)."""
    device: dict[str, Any] = {"vendor": "ZeroPath", "product": "ZeroPath"}
    if isinstance(payload.get("host"), str) and payload["host"]:
        device["hostname"] = payload["host"]  # the documented origin host (zeropath.com)
    groups: dict[str, dict[str, Any]] = {"device": device}
    found = audit.get("caller")
    caller: dict[str, Any] = found if isinstance(found, dict) else {}
    user = next((str(caller[k]) for k in ("email", "id") if isinstance(caller.get(k), str) and caller[k]), "")
    if user:
        groups["actor"] = {"user": user}
    path = ((finding or {}).get("location") or {}).get("file")
    if isinstance(path, str) and path:
        groups["file"] = {"path": path}
    outcome = _outcome(sourcetype, scan)
    if outcome:
        groups["outcome"] = outcome
    if sourcetype in _GATES:
        groups["action"] = {"name": _GATES[sourcetype], "original": sourcetype}
    return groups
