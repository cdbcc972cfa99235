"""The zeropath decoder: the envelope, all 24 types, each type's required fields, severity."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest

from agent.sdk.decoder import DecodeError
from agent.model import Severity
from agent.sdk.normalize import TYPE_TABLE
from agent.testing import make_record
from plugins.dec_zeropath.decoder import ZeroPathDecoder
from plugins.dec_zeropath.rules import REQUIRED, SOURCETYPES

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "vendors" / "zeropath"


def load(sourcetype: str) -> dict[str, Any]:
    return orjson.loads((FIXTURES / (sourcetype.lower().replace("_", "-") + ".json")).read_bytes())


@pytest.fixture
def dec() -> ZeroPathDecoder:
    return ZeroPathDecoder({})


def decode(dec: ZeroPathDecoder, payload: Any) -> Any:
    events = dec.decode(make_record(orjson.dumps(payload), dec))
    assert len(events) == 1
    return events[0]


@pytest.mark.parametrize("sourcetype", SOURCETYPES)
def test_every_documented_type_decodes(dec: ZeroPathDecoder, sourcetype: str) -> None:
    payload = load(sourcetype)
    ev = decode(dec, payload)
    assert (ev.source, ev.vendor_type, ev.type) == ("zeropath", sourcetype, TYPE_TABLE["zeropath"][sourcetype])
    assert ev.organization["id"] == "org_123"
    assert ev.raw == payload and ev.title
    ev.to_json()


def test_scan_complete_example(dec: ZeroPathDecoder) -> None:
    ev = decode(dec, load("SCAN_COMPLETE"))
    assert ev.time.isoformat() == "2025-10-16T12:34:56+00:00"
    assert ev.title == "Scan completed (backend-api)"
    assert ev.scan == {"id": "scan_abc", "type": "FullScan", "status": "completed",
                       "url": "https://zeropath.com/scans/scan_abc", "duration_s": 480,
                       "counts": {"critical": 0, "high": 1, "medium": 1, "low": 1, "info": 0, "total": 3}}
    assert ev.repository == {"id": "repo_123", "name": "backend-api"}
    assert ev.links == {"scan": "https://zeropath.com/scans/scan_abc", "vendor": "https://zeropath.com/scans/scan_abc"}
    assert ev.severity is Severity.INFO


def test_scan_failed_example(dec: ZeroPathDecoder) -> None:
    ev = decode(dec, load("SCAN_FAILED"))
    assert ev.type == "scan.failed" and ev.description == "Timeout contacting build server"
    assert ev.scan["error"] == "Timeout contacting build server" and ev.severity is Severity.LOW


def test_new_vulnerability_example_uses_the_ambiguous_number_rule(dec: ZeroPathDecoder) -> None:
    ev = decode(dec, load("NEW_VULNERABILITIES_FULL_SCAN"))
    assert (ev.severity, ev.score) == (Severity.HIGH, 82)
    assert ev.title == "SQL Injection risk (backend-api)"
    assert ev.finding == {"id": "vuln_001", "cvss": 8.2, "vendor_severity": 8.2}


@pytest.mark.parametrize("value,severity,score", [
    (8.2, Severity.HIGH, 82), (92, Severity.CRITICAL, 92), (75, Severity.HIGH, 75), (40, Severity.MEDIUM, 40),
    (12, Severity.LOW, 12), (5, Severity.INFO, 5), ("CRITICAL", Severity.CRITICAL, 95), ("low", Severity.LOW, 25),
    (None, Severity.UNKNOWN, 0),
])
def test_vulnerability_severity(dec: ZeroPathDecoder, value: Any, severity: Severity, score: int) -> None:
    payload = load("NEW_VULNERABILITIES_FULL_SCAN")
    payload["event"]["vulnerability"]["severity"] = value
    ev = decode(dec, payload)
    assert (ev.severity, ev.score) == (severity, score)


def test_pr_blocked_example(dec: ZeroPathDecoder) -> None:
    ev = decode(dec, load("PR_BLOCKED"))
    assert ev.type == "pr.blocked" and ev.title == "Pull request #123 blocked (backend-api)"
    assert ev.repository["pull_request"] == {"id": "01HXYZ", "number": 123}


def test_status_change_audit_and_sca(dec: ZeroPathDecoder) -> None:
    ev = decode(dec, load("VULNERABILITY_STATUS_CHANGED"))
    assert (ev.finding["previous_status"], ev.finding["status"]) == ("pending_review", "accepted_risk")
    audit = decode(dec, load("AUDIT_LOG_EVENT"))
    assert audit.type == "audit.api_call" and audit.time.isoformat() == "2025-10-16T13:10:00+00:00"
    assert audit.organization["actor"] == {"id": "user_1", "email": "alice@acme.example"}
    assert audit.asset == {"type": "api_endpoint", "name": "/api/v1/repositories/delete", "arguments": ["repositoryId"]}
    sca = decode(dec, load("SCA_NEW_CVE"))
    assert sca.finding["cve"] == "CVE-2021-23337" and sca.finding["package"] == {"name": "lodash", "version": "4.17.20"}
    assert (sca.severity, sca.score) == (Severity.HIGH, 72)
    reopened = decode(dec, load("VULNERABILITY_REOPENED"))
    assert reopened.finding == {"id": "vuln_001"} and reopened.severity is Severity.UNKNOWN


def test_scan_failed_without_error_is_an_error_record_with_that_reason(dec: ZeroPathDecoder) -> None:
    payload = load("SCAN_FAILED")
    del payload["event"]["error"]
    with pytest.raises(DecodeError, match=r"^SCAN_FAILED requires event\.error$"):
        decode(dec, payload)


def _remove(payload: dict[str, Any], path: str) -> None:
    node = payload["event"]
    *head, last = path.split(".")
    for step in head:
        node = node[step]
    node.pop(last, None)


RULE_CASES = [(st, alt) for st, alts in REQUIRED.items() for alt in alts]


@pytest.mark.parametrize("sourcetype,paths", RULE_CASES, ids=[f"{s}-{'+'.join(p)}" for s, p in RULE_CASES])
def test_each_required_field_is_checked(dec: ZeroPathDecoder, sourcetype: str, paths: tuple[str, ...]) -> None:
    for path in paths:
        payload = load(sourcetype)
        for alts in REQUIRED[sourcetype]:  # take away every alternative, then the reason must name them
            for p in alts:
                if p != path and len(REQUIRED[sourcetype]) > 1:
                    _remove(payload, p)
        _remove(payload, path)
        with pytest.raises(DecodeError, match=f"^{sourcetype} requires .*event\\.{path.replace('.', '[.]')}"):
            decode(dec, payload)


@pytest.mark.parametrize("mutate,reason", [
    (lambda p: p.pop("time"), r"^time is required and missing"),
    (lambda p: p.update(time="yesterday"), r"^time must be Unix epoch seconds"),
    (lambda p: p.pop("host"), r"^\$\.host is required and missing$"),
    (lambda p: p.update(source=["zeropath"]), r"^\$\.source must be a string, found an array$"),
    (lambda p: p.pop("sourcetype"), r"^\$\.sourcetype is required and missing$"),
    (lambda p: p.update(event=[]), r"^\$\.event must be an object, found an array$"),
    (lambda p: p["event"].pop("timestamp"), r"^event\.timestamp is required and missing$"),
    (lambda p: p["event"].update(timestamp="soon"), r"^event\.timestamp is not an ISO 8601 date-time"),
    (lambda p: p["event"].pop("organization"), r"^event\.organization is required and missing$"),
    (lambda p: p["event"]["organization"].pop("id"), r"^event\.organization\.id is required and missing$"),
    (lambda p: p["event"]["repository"].pop("name"), r"^event\.repository\.name is required and missing$"),
    (lambda p: p["event"]["scan"].update(url=None), r"^event\.scan\.url is required and missing$"),
    (lambda p: p["event"].update(scan=[{"id": 1}]), r"^event\.scan must be an object, found an array$"),
    (lambda p: p["event"].update(error={"msg": "x"}), r"^event\.error must be a string, found dict$"),
])
def test_envelope_is_checked(dec: ZeroPathDecoder, mutate: Any, reason: str) -> None:
    payload = load("SCAN_FAILED")
    mutate(payload)
    with pytest.raises(DecodeError, match=reason):
        decode(dec, payload)


def test_not_an_object(dec: ZeroPathDecoder) -> None:
    with pytest.raises(DecodeError, match="a ZeroPath webhook is a JSON object, found list"):
        decode(dec, [load("SCAN_COMPLETE")])


def test_strict_false_maps_what_is_there() -> None:
    lax = ZeroPathDecoder({"strict": False})
    payload = load("SCAN_FAILED")
    del payload["event"]["error"], payload["host"], payload["event"]["timestamp"]
    ev = decode(lax, payload)
    assert ev.type == "scan.failed" and ev.time.isoformat() == "2024-10-16T17:53:20+00:00"


def test_unknown_type_is_accepted_and_routable(dec: ZeroPathDecoder) -> None:
    payload = load("SCAN_COMPLETE")
    payload["sourcetype"] = "SECRET_ROTATED"
    payload["event"]["newField"] = {"x": 1}
    ev = decode(dec, payload)
    assert ev.type == "zeropath.secret_rotated" and ev.raw["event"]["newField"] == {"x": 1}


def test_same_payload_twice_same_id_and_any_change_a_new_one(dec: ZeroPathDecoder) -> None:
    payload = load("SCAN_COMPLETE")
    reordered = orjson.loads(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2))
    assert decode(dec, payload).id == decode(dec, reordered).id
    changed = copy.deepcopy(payload)
    changed["time"] += 1
    assert decode(dec, changed).id != decode(dec, payload).id


@pytest.mark.parametrize("sourcetype", ["NEW_{0}_TYPE", "X_{action}", "{", "}{", "A_{0!r:>{1}}", "%s_{__class__}"])
def test_unknown_type_text_is_never_a_format_string(dec: ZeroPathDecoder, sourcetype: str) -> None:
    payload = load("SCAN_COMPLETE")
    payload["sourcetype"] = sourcetype
    ev = decode(dec, payload)
    assert ev.vendor_type == sourcetype
    assert ev.title.startswith(sourcetype.replace("_", " ").capitalize())


def test_the_fixtures_fill_the_context_groups(dec: ZeroPathDecoder) -> None:
    audit = decode(dec, load("AUDIT_LOG_EVENT"))
    assert audit.actor == {"user": "alice@acme.example"}
    assert audit.device == {"vendor": "ZeroPath", "product": "ZeroPath", "hostname": "zeropath.com"}
    assert decode(dec, load("SCAN_COMPLETE")).outcome == {"name": "success", "original": "completed"}
    assert decode(dec, load("SCAN_FAILED")).outcome == {"name": "failure", "original": "failed"}
    assert decode(dec, load("PR_BLOCKED")).action == {"name": "blocked", "original": "PR_BLOCKED"}
    assert decode(dec, load("PATCH_PR_DENIED")).action == {"name": "denied", "original": "PATCH_PR_DENIED"}
    assert decode(dec, load("REPORT_COMPLETE")).outcome is None


def test_a_vulnerability_file_is_the_file_group(dec: ZeroPathDecoder) -> None:
    payload = load("NEW_VULNERABILITIES_FULL_SCAN")
    payload["event"]["vulnerability"].update({"filePath": "src/db/users.py", "lineNumber": 42})
    assert decode(dec, payload).file == {"path": "src/db/users.py"}
