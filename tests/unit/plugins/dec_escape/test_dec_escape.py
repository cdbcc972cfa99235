"""The escape decoder: the documented export, every nested object, enums, bad input."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest

from agent.sdk.decoder import DecodeError, PartialDecodeError
from agent.model import Severity
from agent.testing import make_record
from plugins.dec_escape.decoder import EscapeDecoder

EXPORT = Path(__file__).resolve().parents[3] / "fixtures" / "vendors" / "escape" / "export.json"


@pytest.fixture
def dec() -> EscapeDecoder:
    return EscapeDecoder({})


@pytest.fixture
def export() -> dict[str, Any]:
    return orjson.loads(EXPORT.read_bytes())


def decode(dec: EscapeDecoder, payload: Any) -> list[Any]:
    return dec.decode(make_record(orjson.dumps(payload), dec))


def test_documented_export_gives_one_event_per_resource(dec: EscapeDecoder, export: dict[str, Any]) -> None:
    events = decode(dec, export)
    assert [(e.vendor_type, e.type) for e in events] == [
        ("issue", "finding.new"), ("asset", "asset.changed"), ("asset", "asset.changed"), ("asset", "asset.changed"),
        ("asset", "asset.changed"), ("scan", "scan.completed"), ("profile", "config.profile_changed"),
        ("location", "config.location_changed"), ("integration", "config.integration_changed")]
    assert all(e.source == "escape" and e.origin is None for e in events)
    for e in events:
        e.to_json()


def test_issue_mapping(dec: EscapeDecoder, export: dict[str, Any]) -> None:
    issue = decode(dec, export)[0]
    assert issue.id == "550e8400-e29b-41d4-a716-446655440000:OPEN"
    assert (issue.severity, issue.score) == (Severity.HIGH, 80)
    assert issue.title == "SQL Injection - Critical"
    assert issue.description.startswith("The application is vulnerable")
    assert issue.time.isoformat() == "2024-01-15T10:30:00+00:00"
    f = issue.finding
    assert (f["id"], f["category"], f["status"], f["alert_uid"], f["security_test_uid"]) == (
        "550e8400-e29b-41d4-a716-446655440000", "INJECTION", "OPEN", "alert-123", "test-456")
    assert f["targets"] == [{"id": "880e8400-e29b-41d4-a716-446655440003", "uid": "target-789",
                             "scan_id": "990e8400-e29b-41d4-a716-446655440004", "kind": "apiRoute", "method": "POST",
                             "route": "/users", "target_id": "a10e8400-e29b-41d4-a716-446655440100"}]
    assert f["location"] == {"method": "POST", "route": "/users"}
    assert f["url"] == "https://api.example.com/users"
    assert issue.asset["class"] == "API_SERVICE" and issue.asset["host"] == "api.example.com"
    assert issue.asset["details"]["service"]["type"] == "REST"
    assert issue.scan["id"] == "990e8400-e29b-41d4-a716-446655440004" and issue.scan["type"] == "ASM_REST"
    assert issue.scan["profile"] == {"id": "aa0e8400-e29b-41d4-a716-446655440005", "name": "My Application",
                                     "scanner_kind": "ASM_REST"}
    assert issue.raw == export["issues"][0]


def test_every_asset_class_is_reachable(dec: EscapeDecoder, export: dict[str, Any]) -> None:
    frontend, host, repo, schema = decode(dec, export)[1:5]
    assert frontend.asset["url"] == "https://app.example.com" and frontend.asset["details"]["frontend"]["type"] == "WEBAPP"
    assert (host.asset["host"], host.asset["ip"], host.asset["ips"]) == ("api.example.com", "192.0.2.1", ["192.0.2.1"])
    assert host.asset["details"]["host"]["ports"] == [{"port": 443, "protocols": ["HTTPS"]}]
    assert repo.repository == {"id": "cc0e8400-e29b-41d4-a716-446655440027", "name": "escape/product",
                               "url": "https://github.com/escape/product", "type": "GITHUB_REPOSITORY",
                               "visibility": "PRIVATE"}
    assert schema.asset["details"]["schema"]["s3Key"] == "schemas/aa/bb/openapi.json"
    assert schema.asset["url"] == "https://api.example.com/openapi.json"


def test_all_target_kinds_and_events(dec: EscapeDecoder, export: dict[str, Any]) -> None:
    issue = export["issues"][0]
    issue["targets"] = [
        {"id": "t1", "targetUid": "u1", "codeFile": {"id": "c", "language": "python", "path": "app/db.py"}},
        {"id": "t2", "targetUid": "u2", "graphqlResolver": {"id": "g", "parent": "Query", "name": "user",
                                                            "parameters": {"id": {"type": "ID"}}, "returnType": "User"}},
        {"id": "t3", "targetUid": "u3", "webPage": {"id": "w", "url": "https://app.example.com/login", "visits": 3}},
        {"id": "t4", "targetUid": "u4", "webCrawledUrl": {"id": "x", "url": "https://app.example.com/a"}},
    ]
    issue["events"] = [{"id": "e1", "title": "Payload sent", "description": "d", "level": "WARNING",
                        "stage": "EXECUTION", "createdAt": "2024-01-15T10:31:00Z", "attachments": [{"kind": "exchange"}]}]
    f = decode(dec, {"issues": [issue]})[0].finding
    assert [t["kind"] for t in f["targets"]] == ["codeFile", "graphqlResolver", "webPage", "webCrawledUrl"]
    assert f["targets"][0]["file"] == "app/db.py" and f["targets"][0]["language"] == "python"
    assert f["targets"][1] == {"id": "t2", "uid": "u2", "kind": "graphqlResolver", "resolver": "user", "parent": "Query",
                               "return_type": "User", "parameters": ["id"], "target_id": "g"}
    assert f["targets"][2]["visits"] == 3
    assert f["location"] == {"file": "app/db.py", "language": "python"}
    assert f["events"] == [{"id": "e1", "title": "Payload sent", "description": "d", "level": "WARNING",
                            "stage": "EXECUTION", "created_at": "2024-01-15T10:31:00Z", "attachments": 1}]


@pytest.mark.parametrize("severity,expected", [("CRITICAL", Severity.CRITICAL), ("HIGH", Severity.HIGH),
                                               ("MEDIUM", Severity.MEDIUM), ("LOW", Severity.LOW),
                                               ("INFO", Severity.INFO), ("NEW_LEVEL", Severity.UNKNOWN)])
def test_issue_severity_enum(dec: EscapeDecoder, export: dict[str, Any], severity: str, expected: Severity) -> None:
    export["issues"][0]["severity"] = severity
    assert decode(dec, {"issues": export["issues"]})[0].severity is expected


@pytest.mark.parametrize("status,etype", [("OPEN", "finding.new"), ("RESOLVED", "finding.resolved"),
                                          ("MANUAL_REVIEW", "finding.status_changed"),
                                          ("IGNORED", "finding.status_changed"),
                                          ("FALSE_POSITIVE", "finding.status_changed"), ("SNOOZED", "finding.updated")])
def test_issue_status_enum(dec: EscapeDecoder, export: dict[str, Any], status: str, etype: str) -> None:
    export["issues"][0]["status"] = status
    ev = decode(dec, {"issues": export["issues"]})[0]
    assert ev.type == etype and ev.id.endswith(":" + status) and ev.finding["status"] == status


@pytest.mark.parametrize("status,etype", [("STARTING", "scan.started"), ("RUNNING", "scan.running"),
                                          ("FINISHED", "scan.completed"), ("FAILED", "scan.failed"),
                                          ("CANCELED", "scan.cancelled"), ("PAUSED", "scan.updated")])
def test_scan_status_enum(dec: EscapeDecoder, export: dict[str, Any], status: str, etype: str) -> None:
    export["scans"][0]["status"] = status
    ev = decode(dec, {"scans": export["scans"]})[0]
    assert ev.type == etype
    assert ev.severity is (Severity.LOW if status == "FAILED" else Severity.INFO)


def test_state_change_is_a_new_id_and_redelivery_the_same(dec: EscapeDecoder, export: dict[str, Any]) -> None:
    first = [e.id for e in decode(dec, export)]
    assert first == [e.id for e in decode(dec, copy.deepcopy(export))]
    export["issues"][0]["status"] = "RESOLVED"
    assert decode(dec, export)[0].id != first[0]


def test_empty_arrays_are_fine(dec: EscapeDecoder) -> None:
    empty = {k: [] for k in ("issues", "assets", "scans", "profiles", "locations", "integrations")}
    assert decode(dec, empty) == []
    assert decode(dec, {"issues": None, "assets": []}) == []


def test_unknown_fields_are_kept_in_raw(dec: EscapeDecoder, export: dict[str, Any]) -> None:
    export["issues"][0]["riskScore"] = {"v": 9}
    export["newRootArray"] = [1, 2]
    issue = decode(dec, export)[0]
    assert issue.raw["riskScore"] == {"v": 9}


def test_resources_option_filters(export: dict[str, Any]) -> None:
    dec = EscapeDecoder({"resources": ["issues", "scans"]})
    assert [e.vendor_type for e in decode(dec, export)] == ["issue", "scan"]


@pytest.mark.parametrize("payload,reason", [
    ([], "an Escape export is a JSON object, found list"),
    ({"foo": 1}, "not an Escape export: none of issues, assets, scans, profiles, locations, integrations"),
    ({"issues": {"id": "x"}}, r"\$\.issues must be an array, found an object"),
    ({"issues": [{"name": "no id"}]}, r"issues\[0\]\.id is required and missing"),
    ({"issues": [{"id": "i", "asset": []}]}, r"issues\[0\]\.asset must be an object, found an array"),
    ({"issues": [{"id": "i", "targets": [{"id": "t", "apiRoute": "GET /"}]}]},
     r"issues\[0\]\.targets\[0\]\.apiRoute must be an object, found a string"),
    ({"assets": [{"id": "a", "host": {"ips": "1.2.3.4"}}]}, r"assets\[0\]\.host\.ips must be an array, found a string"),
    ({"scans": ["x"]}, r"scans\[0\] must be an object, found str"),
])
def test_bad_input_names_the_reason(dec: EscapeDecoder, payload: Any, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        decode(dec, payload)


def test_a_bad_item_does_not_sink_the_good_ones(dec: EscapeDecoder, export: dict[str, Any]) -> None:
    export["assets"][1] = "not an asset"
    export["scans"][0]["application"] = [1]
    with pytest.raises(PartialDecodeError) as info:
        decode(dec, export)
    assert len(info.value.events) == 7
    assert info.value.failures == ["assets[1] must be an object, found str",
                                   "scans[0].application must be an object, found an array"]


def test_too_many_items_is_refused_whole(export: dict[str, Any]) -> None:
    dec = EscapeDecoder({"max_items": 3})
    with pytest.raises(DecodeError, match="export carries 9 resources, over the limit of 3"):
        decode(dec, export)


def test_invalid_json_and_utf8(dec: EscapeDecoder) -> None:
    with pytest.raises(DecodeError, match="malformed JSON"):
        dec.decode(make_record(b'{"issues": [', dec))
    with pytest.raises(DecodeError, match="malformed JSON"):
        dec.decode(make_record(b'{"issues": ["\xff"]}', dec))


def test_the_export_fills_the_context_groups(dec: EscapeDecoder, export: dict[str, Any]) -> None:
    """Escape reports every event (device); an issue's security test is its signature; a host
    asset's address and port are network context; a scan's status is its outcome."""
    events = {e.vendor_type + ":" + (e.asset or {}).get("class", ""): e for e in decode(dec, export)}
    issue = next(e for e in decode(dec, export) if e.type == "finding.new")
    assert issue.device == {"vendor": "Escape", "product": "Escape"}
    assert issue.signature == {"id": "test-456", "name": "SQL Injection"}
    host = events["asset:HOST"]
    assert host.network == {"dst_ip": "192.0.2.1", "dst_port": 443, "protocol": "https"}
    scan = next(e for e in decode(dec, export) if e.type == "scan.completed")
    assert scan.outcome == {"name": "success", "original": "FINISHED"}
    integration = next(e for e in decode(dec, export) if e.vendor_type == "integration")
    assert integration.outcome == {"name": "success", "original": "valid"}
    assert all(e.device == {"vendor": "Escape", "product": "Escape"} for e in decode(dec, export))


def test_a_code_file_target_is_the_file_group(dec: EscapeDecoder, export: dict[str, Any]) -> None:
    issue = copy.deepcopy(export["issues"][0])
    issue["targets"] = [{"id": "t1", "targetUid": "u1", "codeFile": {"id": "c1", "language": "python", "path": "app/db.py"}}]
    [event] = decode(dec, {"issues": [issue]})
    assert event.file == {"path": "app/db.py"} and event.network is None
