"""agent.sdk.ocsf: every event renders as OCSF 1.4.0, validated with the independent OCSF JSON schema.

The validator is the ``ocsf-json-schema`` package (the OCSF schema compiled to JSON
Schema 2020-12) run by ``jsonschema``; neither shares code with siemrelay.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ocsf_json_schema import OcsfJsonSchemaEmbedded, get_ocsf_schema

from agent.model import Event
from agent.sdk.ocsf import OCSF_VERSION, ocsf_class_of, to_ocsf
from agent.testing import make_event, make_record
from tests.peers.decoder_factory import build_decoder

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "vendors"
_SCHEMA = OcsfJsonSchemaEmbedded(get_ocsf_schema(version=OCSF_VERSION))
_VALIDATORS: dict[int, jsonschema.Draft202012Validator] = {}


def validate(obj: dict[str, Any]) -> list[str]:
    """Every schema error of an OCSF event, as 'path: message' strings."""
    uid = obj["class_uid"]
    if uid not in _VALIDATORS:
        name = _SCHEMA.lookup_class_name_from_uid(class_uid=uid)
        _VALIDATORS[uid] = jsonschema.Draft202012Validator(_SCHEMA.get_class_schema(class_name=name, profiles=[]))
    return [f"{'.'.join(map(str, e.path))}: {e.message[:200]}" for e in _VALIDATORS[uid].iter_errors(obj)]


def _fixture_events() -> list[Event]:
    auto = build_decoder({"type": "auto", "unknown_json": "json", "unknown_text": "raw"})
    events: list[Event] = []
    for path in sorted(FIXTURES.glob("*/*")):
        if path.suffix in (".json", ".cef"):
            events.extend(auto.decode(make_record(path.read_bytes(), auto)))
    return events


FIXTURE_EVENTS = _fixture_events()


def test_fixtures_cover_every_class() -> None:
    assert {ocsf_class_of(e) for e in FIXTURE_EVENTS} == {2002, 2004, 6007, 3004, 5001, 4001, 0}


@pytest.mark.parametrize("event", FIXTURE_EVENTS, ids=[f"{e.source}-{e.vendor_type}-{i}" for i, e in enumerate(FIXTURE_EVENTS)])
def test_every_vendor_fixture_renders_valid_ocsf(event: Event) -> None:
    out = to_ocsf(event)
    assert validate(out) == []
    assert out["metadata"]["version"] == OCSF_VERSION
    assert out["metadata"]["uid"] == event.id
    assert out["type_uid"] == out["class_uid"] * 100 + out["activity_id"]
    assert out["severity_id"] == event.severity_id
    assert orjson.loads(out["raw_data"]) == event.raw
    assert out["unmapped"]["siemrelay"]["type"] == event.type


def test_validator_rejects_what_ocsf_forbids() -> None:
    """A control: the validation above can fail."""
    good = to_ocsf(make_event(type="finding.new"))
    assert validate(good) == []
    broken = [
        {**good, "bogus": 1},                                             # not an OCSF attribute
        {k: v for k, v in good.items() if k != "finding_info"},           # a required object missing
        {**good, "vulnerabilities": [{"title": "x"}]},                    # none of cve, cwe, advisory
        {**good, "severity_id": 7},                                       # not an OCSF severity
        {**good, "type_uid": 600701},                                     # another class's type
        {**good, "metadata": {**good["metadata"], "product": {}}},        # product without a name
    ]
    for obj in broken:
        assert validate(obj), f"expected a schema error in {sorted(k for k in obj if obj.get(k) != good.get(k))}"


def test_vulnerability_finding_details() -> None:
    ev = make_event(type="finding.new", title="SQLi", description="d",
                    finding={"id": "f1", "cve": "CVE-2024-0001", "cwe": "CWE-89", "cvss": 8.2, "status": "OPEN",
                             "remediation": "use binds", "location": {"file": "src/db/users.py", "line": 42},
                             "package": {"name": "lib", "version": "1.0", "fixed_version": "1.1"}, "category": "INJECTION"},
                    asset={"id": "a1", "name": "api", "host": "api.example.com"}, links={"vendor": "https://v/f1"})
    out = to_ocsf(ev)
    assert validate(out) == []
    assert (out["class_uid"], out["activity_id"], out["status_id"]) == (2002, 1, 1)
    assert out["finding_info"] == {"uid": "f1", "title": "SQLi", "desc": "d", "types": ["INJECTION"], "src_url": "https://v/f1"}
    vuln = out["vulnerabilities"][0]
    assert vuln["cve"] == {"uid": "CVE-2024-0001", "cwe_uid": "CWE-89", "cvss": [{"base_score": 8.2, "version": "3.1"}]}
    assert "cwe" not in vuln and "advisory" not in vuln
    assert vuln["affected_code"] == [{"file": {"name": "users.py", "path": "src/db/users.py", "type_id": 1}, "start_line": 42}]
    assert vuln["affected_packages"] == [{"name": "lib", "version": "1.0", "fixed_in_version": "1.1"}]
    assert vuln["remediation"] == {"desc": "use binds"}
    assert out["resources"] == [{"uid": "a1", "name": "api", "hostname": "api.example.com"}]


@pytest.mark.parametrize("finding,key", [({"cwe": "CWE-79"}, "cwe"), ({"category": "XSS"}, "advisory"), ({}, "advisory")])
def test_exactly_one_of_cve_cwe_advisory(finding: dict[str, Any], key: str) -> None:
    out = to_ocsf(make_event(type="finding.new", finding=finding))
    assert validate(out) == []
    assert [k for k in ("cve", "cwe", "advisory") if k in out["vulnerabilities"][0]] == [key]


@pytest.mark.parametrize("etype,status,activity,status_id", [
    ("finding.new", None, 1, 1), ("finding.resolved", None, 3, 4), ("finding.reopened", None, 2, 1),
    ("finding.verified", None, 2, 2), ("finding.status_changed", "FALSE_POSITIVE", 2, 3),
    ("finding.status_changed", "accepted risk", 2, 3), ("finding.status_changed", "MANUAL_REVIEW", 2, 2),
    ("finding.status_changed", "weird-state", 2, 99), ("finding.new", "RESOLVED", 1, 4), ("finding.updated", None, 2, 0),
])
def test_finding_activity_and_status(etype: str, status: str | None, activity: int, status_id: int) -> None:
    out = to_ocsf(make_event(type=etype, finding={"status": status} if status else {"id": "x"}))
    assert validate(out) == []
    assert (out["activity_id"], out["status_id"]) == (activity, status_id)
    if status_id == 99:
        assert out["status"] == status


@pytest.mark.parametrize("etype,activity,status_id", [
    ("scan.started", 1, None), ("scan.completed", 2, 1), ("scan.cancelled", 3, None), ("scan.long_running", 4, None),
    ("scan.failed", 6, 2), ("scan.scheduled", 99, None),
])
def test_scan_activity(etype: str, activity: int, status_id: int | None) -> None:
    ev = make_event(type=etype, scan={"id": "s1", "counts": {"total": 3}, "duration_s": 480, "error": "boom",
                                      "started_at": "2024-01-15T09:00:00Z", "finished_at": "2024-01-15T10:00:00.500Z"})
    out = to_ocsf(ev)
    assert validate(out) == []
    assert (out["class_uid"], out["activity_id"], out.get("status_id")) == (6007, activity, status_id)
    assert out["scan"]["uid"] == "s1" and out["num_detections"] == 3 and out["duration"] == 480000
    assert (out["start_time"], out["end_time"]) == (1705309200000, 1705312800500)
    assert out["status_detail"] == "boom"


def test_audit_event_is_entity_management_with_actor() -> None:
    ev = make_event(type="audit.api_call", asset={"type": "api_endpoint", "name": "/api/v1/repositories/delete"},
                    organization={"id": "org_1", "actor": {"id": "u1", "email": "alice@acme.example"}})
    out = to_ocsf(ev)
    assert validate(out) == []
    assert (out["class_uid"], out["activity_id"]) == (3004, 99)
    assert out["entity"] == {"name": "/api/v1/repositories/delete", "type": "api_endpoint"}
    assert out["actor"] == {"user": {"uid": "u1", "name": "alice@acme.example", "email_addr": "alice@acme.example"}}
    assert out["metadata"]["tenant_uid"] == "org_1"


def test_an_email_ocsf_would_refuse_stays_a_name() -> None:
    out = to_ocsf(make_event(type="audit.x", organization={"actor": {"email": "not an email"}}))
    assert validate(out) == []
    assert out["actor"] == {"user": {"name": "not an email"}}


@pytest.mark.parametrize("etype,asset,cls,activity", [
    ("asset.added", {"type": "repository", "name": "r"}, 3004, 1),
    ("asset.changed", {"name": "acme.example", "host": "acme.example"}, 5001, 1),
    ("asset.removed", {"id": "a9"}, 3004, 4),
    ("config.profile_changed", {"name": "p"}, 3004, 3),
    ("pr.blocked", None, 0, 99), ("log", None, 0, 99), ("alert", {"host": "h"}, 2004, 1),
])
def test_class_choice(etype: str, asset: dict[str, Any] | None, cls: int, activity: int) -> None:
    out = to_ocsf(make_event(type=etype, asset=asset))
    assert validate(out) == []
    assert (out["class_uid"], out["activity_id"]) == (cls, activity)


def test_raw_can_be_left_out() -> None:
    assert "raw_data" not in to_ocsf(make_event(), include_raw=False)


groups = st.dictionaries(st.sampled_from(["id", "name", "host", "ip", "url", "status", "cve", "cwe", "cvss", "type",
                                          "category", "counts", "location", "actor", "email", "started_at"]),
                         st.one_of(st.none(), st.text(max_size=12), st.integers(-10, 10**15), st.floats(allow_nan=False),
                                   st.dictionaries(st.sampled_from(["file", "line", "total", "email", "id"]),
                                                   st.one_of(st.text(max_size=8), st.integers(-5, 10**6)), max_size=3)),
                         max_size=6)


@settings(max_examples=150, deadline=None)
@given(etype=st.sampled_from(["finding.new", "finding.resolved", "finding.x", "scan.failed", "scan.y", "audit.z",
                              "config.a_changed", "asset.added", "asset.changed", "log", "weird"]),
       severity=st.integers(0, 5), title=st.text(max_size=20), asset=groups, finding=groups, scan=groups,
       org=groups, tags=st.lists(st.text(max_size=5), max_size=3))
def test_any_event_renders_valid_ocsf(etype: str, severity: int, title: str, asset: dict[str, Any],
                                      finding: dict[str, Any], scan: dict[str, Any], org: dict[str, Any],
                                      tags: list[str]) -> None:
    if "actor" in org:
        org["actor"] = {"email": str(org["actor"]), "id": org.get("id")}
    ev = make_event(type=etype, severity=severity, title=title, asset=asset, finding=finding, scan=scan,
                    organization=org, tags=tags)
    out = to_ocsf(ev)
    assert validate(out) == [], out
    orjson.dumps(out)


@pytest.mark.parametrize("ip", ["0", "not-an-ip", "10.0.0.300", "fe80::1%eth0", "192.0.2.7"])
def test_only_real_ip_addresses_go_to_ip_fields(ip: str) -> None:
    for etype in ("finding.new", "asset.changed"):
        out = to_ocsf(make_event(type=etype, asset={"name": "n", "ip": ip}))
        assert validate(out) == []
        placed = out.get("device", {}).get("ip") or (out.get("resources") or [{}])[0].get("ip")
        assert placed == (ip if ip in ("fe80::1%eth0", "192.0.2.7") else None)


def _syslog_event(line: str) -> Event:
    from plugins.dec_syslog.decoder import SyslogDecoder

    dec = SyslogDecoder({})
    [event] = dec.decode(make_record(line.encode(), dec))
    return event


def test_sshd_failure_is_ocsf_authentication_with_user_and_source() -> None:
    out = to_ocsf(_syslog_event("<34>Jan 15 14:30:00 bastion-1 sshd[1234]: Failed password for root from 198.51.100.23 port 40022 ssh2"))
    assert validate(out) == []
    assert (out["class_uid"], out["activity_id"], out["status_id"]) == (3002, 1, 2)
    assert out["user"] == {"name": "root"} and out["src_endpoint"] == {"ip": "198.51.100.23", "port": 40022}
    assert out["dst_endpoint"] == {"hostname": "bastion-1"} and out["severity_id"] == 0


def test_suricata_alert_is_an_ocsf_detection_finding_from_its_product() -> None:
    from plugins.dec_cef.decoder import CefDecoder

    dec = CefDecoder({})
    line = (b"CEF:0|Suricata|IDS|7.0|2100498|GPL ATTACK_RESPONSE id check returned root|7|src=203.0.113.9 "
            b"dst=192.0.2.10 dpt=80 proto=TCP cat=attempted-admin")
    [event] = dec.decode(make_record(line, dec))
    out = to_ocsf(event)
    assert validate(out) == []
    assert out["class_uid"] == 2004 and out["metadata"]["product"] == {"name": "IDS", "vendor_name": "Suricata", "version": "7.0"}
    assert out["finding_info"]["uid"] == "2100498" and out["finding_info"]["types"] == ["attempted-admin"]
    assert out["evidences"] == [{"src_endpoint": {"ip": "203.0.113.9"}, "dst_endpoint": {"ip": "192.0.2.10", "port": 80}}]


def test_a_firewall_deny_is_ocsf_network_activity_refuse() -> None:
    event = make_event(type="log", network={"src_ip": "10.1.1.1", "src_port": 51515, "dst_ip": "10.2.2.2", "dst_port": 443},
                       action={"name": "denied", "original": "deny"}, device={"vendor": "Fortinet", "product": "FortiGate"})
    out = to_ocsf(event)
    assert validate(out) == []
    assert (out["class_uid"], out["activity_id"]) == (4001, 5)
    assert out["src_endpoint"] == {"ip": "10.1.1.1", "port": 51515}


@pytest.mark.parametrize("etype,activity", [
    ("process.started", (1, "Launch")), ("process.terminated", (2, "Terminate")), ("process.injected", (4, "Inject")),
    ("process.set_user_id", (5, "Set User ID")), ("process.renamed", (99, "renamed")), ("auth.sudo", (1, "Launch")),
])
def test_process_events_are_process_activity(etype: str, activity: tuple[int, str]) -> None:
    out = to_ocsf(make_event(type=etype, process={"name": "nginx", "pid": 812}, actor={"user": "www-data"},
                             device={"hostname": "web-1"}, outcome={"name": "failure"}))
    assert validate(out) == []
    assert (out["class_uid"], out["category_uid"], out["activity_id"], out["activity_name"]) == (1007, 1, *activity)
    assert out["process"] == {"name": "nginx", "pid": 812} and out["actor"] == {"user": {"name": "www-data"}}
    assert out["device"]["hostname"] == "web-1" and out["status_id"] == 2


def test_a_process_without_pid_or_host_still_validates() -> None:
    ev = make_event(type="process.started", process={"path": "C:\\Tools\\x.exe"})
    out = to_ocsf(ev)
    assert validate(out) == []
    assert out["process"] == {"name": "x.exe", "uid": ev.id, "file": {"name": "x.exe", "path": "C:\\Tools\\x.exe", "type_id": 1}}
    assert out["actor"] == {"user": {"name": "unknown"}} and out["device"]["name"] == ev.source


def test_sudo_line_is_ocsf_process_activity_with_command_and_target_user() -> None:
    out = to_ocsf(_syslog_event("<86>Jan 15 14:31:00 bastion-1 sudo[4242]:    alice : TTY=pts/0 ; PWD=/home/alice ; "
                                "USER=root ; COMMAND=/usr/bin/systemctl restart nginx"))
    assert validate(out) == []
    assert (out["class_uid"], out["activity_id"], out["status_id"]) == (1007, 1, 1)
    assert out["actor"] == {"user": {"name": "alice"}} and out["device"]["hostname"] == "bastion-1"
    assert out["process"]["cmd_line"] == "/usr/bin/systemctl restart nginx" and out["process"]["user"] == {"name": "root"}


process_values = st.one_of(st.none(), st.text(max_size=12), st.integers(-5, 2**40), st.booleans(),
                           st.sampled_from(["42", "/usr/bin/id", "C:\\x\\y.exe", "/", "\\"]))


@settings(max_examples=80, deadline=None)
@given(verb=st.sampled_from(["started", "terminated", "opened", "weird", "exec"]),
       process=st.dictionaries(st.sampled_from(["name", "pid", "path", "command_line", "user", "parent_pid"]),
                               process_values, max_size=6),
       actor=st.dictionaries(st.sampled_from(["user", "domain"]), process_values, max_size=2),
       device=st.dictionaries(st.sampled_from(["hostname", "vendor", "product"]), process_values, max_size=3))
def test_any_process_event_renders_valid_ocsf(verb: str, process: dict[str, Any], actor: dict[str, Any],
                                              device: dict[str, Any]) -> None:
    out = to_ocsf(make_event(type=f"process.{verb}", process=process, actor=actor, device=device))
    assert validate(out) == [], out
    assert out["class_uid"] == 1007 and ("pid" in out["process"]) != ("uid" in out["process"])
    orjson.dumps(out)
