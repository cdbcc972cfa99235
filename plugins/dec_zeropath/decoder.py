"""ZeroPath webhook → one Event: the ``time/host/source/sourcetype/event`` envelope, 24 types.

The envelope and ``event.timestamp``/``event.organization.id`` are required for every
type; each type's own required fields (:mod:`plugins.dec_zeropath.rules`) are checked
too, so a SCAN_FAILED without ``event.error`` is an error record naming that field.
A sourcetype ZeroPath adds later is accepted and typed ``zeropath.<name>``.

ZeroPath sends no event id, so the id is a hash of the canonical payload: a retried
delivery gets the same id. The vulnerability severity follows the ambiguous-number
rule of :mod:`agent.sdk.normalize` (``8.2`` is CVSS, ``82`` a 0-100 score).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from agent.sdk.decoder import Decoder, DecodeError
from agent.sdk import Event, Severity, parse_time
from agent.sdk.normalize import (canonical, first_time, normalize_type, obj_or_empty, opt_obj, opt_str, req_obj, req_str,
                             severity_of_any, severity_of_score, stable_id)
from agent.sdk.record import RawRecord
from plugins.dec_zeropath.context import context_groups
from plugins.dec_zeropath.config import CONFIG_SCHEMA
from plugins.dec_zeropath.rules import NESTED_REQUIRED, missing_for

SOURCE = "zeropath"
_INFO = (Severity.INFO, 5)
_LOW = (Severity.LOW, 25)
#: types whose vulnerability may be described by event.metadata alone
_META_FINDINGS = frozenset({"VULNERABILITY_PATCHED", "VULNERABILITY_REOPENED", "VULNERABILITY_STATUS_CHANGED"})
_SEV_NAMES = ("critical", "high", "medium", "low", "info")
_TITLES = {
    "SCAN_STARTED": "Scan started", "SCAN_COMPLETE": "Scan completed", "SCAN_FAILED": "Scan failed",
    "SCAN_SCHEDULED": "Scan schedule {action}", "PR_SCAN_STARTED": "PR scan started",
    "PR_SCAN_COMPLETE": "PR scan completed", "NEW_VULNERABILITIES_FULL_SCAN": "New vulnerabilities found",
    "NEW_VULNERABILITIES_PR": "New vulnerabilities in a pull request", "VULNERABILITY_PATCHED": "Vulnerability patched",
    "VULNERABILITY_REOPENED": "Vulnerability reopened", "VULNERABILITY_STATUS_CHANGED": "Vulnerability status changed",
    "PR_BLOCKED": "Pull request #{pr} blocked", "PR_MERGED_WITH_ISSUES": "Pull request merged with open vulnerabilities",
    "PATCH_PR_DENIED": "Patch pull request denied", "REPORT_COMPLETE": "Report ready",
    "LONG_RUNNING_SCAN": "Scan running for {minutes} minutes", "AUDIT_LOG_EVENT": "Audit: {endpoint}",
    "SCA_NEW_CVE": "New CVE in a dependency", "SCA_NEW_ISSUE": "New dependency vulnerability",
    "INBOUND_WEBHOOK": "Inbound webhook trigger", "SCA_SCAN_STARTED": "Dependency scan started",
    "SCA_SCAN_COMPLETE": "Dependency scan completed", "SCA_SCAN_FAILED": "Dependency scan failed",
    "REPO_ADDED": "Repository added",
}


def _first(obj: dict[str, Any], *keys: str) -> str:
    for key in keys:
        value = opt_str(obj.get(key))
        if value:
            return value
    return ""


class ZeroPathDecoder(Decoder):
    """ZeroPath's outbound webhooks (SAST, SCA, PR, audit and scan lifecycle events)."""

    type_name = "zeropath"
    description = "ZeroPath webhooks: the time/host/source/sourcetype/event envelope, all 24 event types."
    CONFIG_SCHEMA = CONFIG_SCHEMA

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.strict = bool(config.get("strict", True))

    def decode(self, record: RawRecord) -> list[Event]:
        payload = self.payload(record)
        if not isinstance(payload, dict):
            raise DecodeError(f"a ZeroPath webhook is a JSON object, found {type(payload).__name__}")
        return [self.map(payload, record)]

    def _check(self, payload: dict[str, Any], sourcetype: str, event: dict[str, Any]) -> datetime:
        """Check the envelope and the type's required fields; return ``event.timestamp`` parsed."""
        if not isinstance(payload.get("time"), (int, float)) or isinstance(payload.get("time"), bool):
            if "time" not in payload:
                raise DecodeError("time is required and missing (Unix epoch seconds)")
            raise DecodeError(f"time must be Unix epoch seconds (a number), found {payload.get('time')!r:.40}")
        req_str(payload, "host", "$")
        req_str(payload, "source", "$")
        stamp = req_str(event, "timestamp", "event")
        when = parse_time(stamp)
        if when is None:
            raise DecodeError(f"event.timestamp is not an ISO 8601 date-time: {stamp[:40]!r}")
        req_obj(event, "organization", "event")
        for name, fields in NESTED_REQUIRED.items():
            obj = opt_obj(event, name, "event")
            if obj is not None:
                for f in fields:
                    req_str(obj, f, f"event.{name}")
        for name in ("vulnerability", "metadata"):
            opt_obj(event, name, "event")
        if "error" in event and event["error"] is not None and not isinstance(event["error"], str):
            raise DecodeError(f"event.error must be a string, found {type(event['error']).__name__}")
        reason = missing_for(sourcetype, event)
        if reason:
            raise DecodeError(reason)
        return when

    def map(self, payload: dict[str, Any], record: RawRecord) -> Event:
        """Map one envelope to an Event (checking it first when ``strict``)."""
        sourcetype = req_str(payload, "sourcetype", "$")
        event = req_obj(payload, "event", "$")
        when = self._check(payload, sourcetype, event) if self.strict else None
        canon = canonical(payload)
        org = opt_obj(event, "organization", "event") or {}
        repo = opt_obj(event, "repository", "event") or {}
        scan_in = opt_obj(event, "scan", "event") or {}
        vuln = opt_obj(event, "vulnerability", "event") or {}
        meta = opt_obj(event, "metadata", "event") or {}
        audit = opt_obj(event, "audit_log", "event") or {}
        error = opt_str(event.get("error"))

        organization: dict[str, Any] = {k: v for k, v in (("id", opt_str(org.get("id"))),
                                                          ("name", opt_str(org.get("name")))) if v}
        repository = self._repository(repo, meta)
        scan = self._scan(scan_in, meta, error)
        finding = self._finding(vuln, meta) if (vuln or sourcetype in _META_FINDINGS) else None
        etype = normalize_type(SOURCE, sourcetype)
        if vuln:
            sev = self._severity(vuln)
        elif etype.startswith("finding."):
            sev = (Severity.UNKNOWN, 0)  # a finding whose severity this payload does not carry
        elif etype == "scan.failed":
            sev = _LOW
        else:
            sev = _INFO
        asset: dict[str, Any] | None = None
        if audit:
            caller = obj_or_empty(audit.get("caller"))
            actor = {k: v for k, v in (("id", opt_str(caller.get("id"))), ("email", opt_str(caller.get("email")))) if v}
            if actor:
                organization["actor"] = actor
            endpoint: dict[str, Any] = {"type": "api_endpoint", "name": opt_str(audit.get("endpoint"))}
            args = audit.get("arguments")
            if isinstance(args, dict) and args:
                endpoint["arguments"] = sorted(str(k) for k in args)
            asset = endpoint
        elif sourcetype == "REPO_ADDED" and repository:
            asset = {"type": "repository"}
            asset.update((k, repository[k]) for k in ("id", "name", "url") if k in repository)

        links: dict[str, str] = {}
        for name, value in (("scan", scan.get("url") if scan else ""), ("pull_request", meta.get("prUrl")),
                            ("report", meta.get("reportUrl")), ("vendor", vuln.get("url"))):
            text = opt_str(value)
            if text:
                links[name] = text
        if links and "vendor" not in links:
            links["vendor"] = next(iter(links.values()))

        title = self._title(sourcetype, vuln, meta, audit, repository)
        description = error or _first(vuln, "description", "generatedDescription", "summary") or \
            _first(meta, "message", "reason", "description")
        time = (first_time(audit.get("timestamp")) if audit else None) or when or \
            first_time(event.get("timestamp"), payload.get("time"))
        groups = context_groups(payload, sourcetype, audit, finding, scan)
        return Event(
            id=stable_id(SOURCE, canon), time=time or record.received_at, received_at=record.received_at,
            source=SOURCE, type=etype, vendor_type=sourcetype,
            severity_id=int(sev[0]), score=sev[1], title=title, description=description,
            asset=asset, finding=finding or None, scan=scan or None, repository=repository or None,
            organization=organization or None, links=links or None, raw=payload,
            device=groups.get("device"), actor=groups.get("actor"), file=groups.get("file"),
            outcome=groups.get("outcome"), action=groups.get("action"),
        )

    @staticmethod
    def _severity(vuln: dict[str, Any]) -> tuple[Severity, int]:
        score = vuln.get("score")
        if isinstance(score, (int, float)) and not isinstance(score, bool):
            return severity_of_score(score)
        for key in ("severity", "cvss", "cvssScore"):
            if vuln.get(key) not in (None, ""):
                sev = severity_of_any(vuln[key])
                if sev[0] is not Severity.UNKNOWN:
                    return sev
        return Severity.UNKNOWN, 0

    @staticmethod
    def _repository(repo: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {k: v for k, v in (("id", opt_str(repo.get("id"))), ("name", opt_str(repo.get("name"))),
                                 ("url", _first(repo, "url", "repositoryUrl")), ("branch", _first(repo, "branch")))
               if v}
        target = opt_str(meta.get("targetBranch"))
        if target:
            out["target_branch"] = target
        pr: dict[str, Any] = {k: v for k, v in (("id", opt_str(meta.get("prId"))), ("url", opt_str(meta.get("prUrl")))) if v}
        number = meta.get("prNumber")
        if isinstance(number, (int, str)) and not isinstance(number, bool) and str(number):
            pr["number"] = number if isinstance(number, int) else int(number) if number.isdecimal() and len(number) < 19 else number
        if pr:
            out["pull_request"] = pr
        return out

    @staticmethod
    def _scan(scan: dict[str, Any], meta: dict[str, Any], error: str) -> dict[str, Any]:
        out: dict[str, Any] = {k: v for k, v in (("id", opt_str(scan.get("id"))), ("type", opt_str(scan.get("type"))),
                                                  ("status", opt_str(scan.get("status"))),
                                                  ("url", opt_str(scan.get("url")))) if v}
        minutes = scan.get("duration_minutes")
        if isinstance(minutes, (int, float)) and not isinstance(minutes, bool) and 0 <= minutes <= 10**9:
            out["duration_s"] = int(minutes * 60)
        summary = scan.get("vulnerability_summary")
        if isinstance(summary, dict):
            by = obj_or_empty(summary.get("by_severity"))
            counts = {k: int(by[k]) for k in _SEV_NAMES if isinstance(by.get(k), int) and not isinstance(by.get(k), bool)}
            if isinstance(summary.get("total"), int) and not isinstance(summary.get("total"), bool):
                counts["total"] = summary["total"]
            if counts:
                out["counts"] = counts
        if error:
            out["error"] = error
        running = meta.get("runningMinutes")
        if isinstance(running, (int, float)) and not isinstance(running, bool):
            out["running_minutes"] = running
        if "scheduleId" in meta:
            out["schedule"] = {k: meta[s] for k, s in (("id", "scheduleId"), ("crontab", "crontab"),
                                                       ("enabled", "isEnabled"), ("action", "action"))
                               if s in meta and not isinstance(meta[s], (dict, list))}
            out["trigger"] = "scheduled"
        return out

    @staticmethod
    def _finding(vuln: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, names in (("id", ("id", "vulnerabilityId", "issueId")), ("category", ("vulnClass", "category", "type")),
                           ("status", ("status", "triageStatus")), ("cve", ("cve", "cveId")), ("cwe", ("cwe", "cweId")),
                           ("url", ("url",)), ("remediation", ("remediation", "fix"))):
            value = _first(vuln, *names) or (_first(meta, *names) if key == "status" else "")
            if value:
                out[key] = value
        if not out.get("id"):
            mid = _first(meta, "vulnerabilityId", "issueId")
            if mid:
                out["id"] = mid
        for key, names in (("previous_status", ("previousStatus", "oldStatus", "fromStatus")),
                           ("status", ("newStatus", "toStatus"))):
            value = _first(meta, *names)
            if value:
                out[key] = value
        path = _first(vuln, "filePath", "file", "path")
        if path:
            loc: dict[str, Any] = {"file": path}
            line = vuln.get("lineNumber", vuln.get("line"))
            if isinstance(line, int) and not isinstance(line, bool):
                loc["line"] = line
            out["location"] = loc
        cvss = vuln.get("cvss", vuln.get("cvssScore"))
        sev = vuln.get("severity")
        if isinstance(cvss, (int, float)) and not isinstance(cvss, bool):
            out["cvss"] = float(cvss)
        elif isinstance(sev, float) and 0 <= sev <= 10:
            out["cvss"] = sev  # the ambiguous-number rule: a decimal ≤ 10 is CVSS
        pkg = obj_or_empty(vuln.get("package"))
        name = _first(pkg, "name") or _first(vuln, "packageName", "dependency")
        if name:
            out["package"] = {"name": name, **({"version": v} if (v := _first(pkg, "version") or
                                                                   _first(vuln, "packageVersion", "version")) else {})}
        if sev is not None and not isinstance(sev, (dict, list)):
            out["vendor_severity"] = sev
        return out

    @staticmethod
    def _title(sourcetype: str, vuln: dict[str, Any], meta: dict[str, Any], audit: dict[str, Any],
               repository: dict[str, Any]) -> str:
        vtitle = _first(vuln, "generatedTitle", "title", "name")
        if vtitle:
            base = vtitle
        else:
            template = _TITLES.get(sourcetype)
            if template is None:  # a sourcetype ZeroPath added later: vendor text, never a format string
                return _with_repo(sourcetype.replace("_", " ").capitalize(), repository)
            base = template.format(action=opt_str(meta.get("action")) or "changed",
                                   pr=opt_str(meta.get("prNumber")) or "?",
                                   minutes=opt_str(meta.get("runningMinutes")) or "?",
                                   endpoint=opt_str(audit.get("endpoint")) or "?")
        return _with_repo(base, repository)


def _with_repo(base: str, repository: dict[str, Any]) -> str:
    """The title with the repository name appended when there is one."""
    repo = repository.get("name")
    return f"{base} ({repo})" if repo else base
