"""agent.sdk.ecs: every event renders as ECS, checked field by field against Elastic's field reference.

The reference is ECS's own ``ecs_flat.yml`` (vendored in tests/fixtures/ecs with its
licence): each emitted field must exist there, its value must have the field's type
(arrays only where ECS normalises to an array), and ``event.kind/category/type/outcome``
must use the allowed values, with each ``event.type`` one ECS expects for the category.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

import orjson
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.sdk.ecs import ECS_VERSION, to_ecs
from agent.model import Event
from agent.sdk.render import render_json
from agent.testing import make_event, make_record, spooled
from tests.peers.decoder_factory import build_decoder

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"
ECS_FIELDS: dict[str, dict[str, Any]] = yaml.safe_load((FIXTURES / "ecs" / "ecs_flat.yml").read_text())
_ALLOWED = {name: {a["name"]: a for a in ECS_FIELDS[name]["allowed_values"]}
            for name in ("event.kind", "event.category", "event.type", "event.outcome")}


def _leaves(doc: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in doc.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and path != "labels" and path not in ECS_FIELDS:
            yield from _leaves(value, path + ".")
        else:
            yield path, value


def _type_ok(ecs_type: str, value: Any) -> bool:
    if ecs_type in ("keyword", "wildcard", "match_only_text", "constant_keyword", "text"):
        return isinstance(value, str)
    if ecs_type in ("long", "integer"):
        return isinstance(value, int) and not isinstance(value, bool)
    if ecs_type in ("float", "double", "scaled_float"):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if ecs_type == "boolean":
        return isinstance(value, bool)
    try:
        if ecs_type == "date":
            return isinstance(value, str) and datetime.fromisoformat(value) is not None
        if ecs_type == "ip":
            return isinstance(value, str) and ipaddress.ip_address(value) is not None
    except ValueError:
        return False
    if ecs_type == "object":  # labels: an object of keyword values
        return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
    return False


def ecs_errors(doc: dict[str, Any]) -> list[str]:
    """Every way ``doc`` departs from the ECS field reference, as readable strings."""
    errors: list[str] = []
    for path, value in _leaves(doc):
        spec = ECS_FIELDS.get(path)
        if spec is None:
            errors.append(f"{path}: not an ECS field")
            continue
        values = value if isinstance(value, list) else [value]
        if isinstance(value, list) and "array" not in spec.get("normalize", []):
            errors.append(f"{path}: ECS does not take an array here")
        for v in values:
            if not _type_ok(spec["type"], v):
                errors.append(f"{path}: {v!r} is not of ECS type {spec['type']}")
        if path in _ALLOWED:
            errors += [f"{path}: {v!r} is not an allowed value" for v in values if v not in _ALLOWED[path]]
    event = doc.get("event", {})
    for category in event.get("category", []):
        expected = _ALLOWED["event.category"].get(category, {}).get("expected_event_types") or []
        errors += [f"event.type {t!r} is not expected with category {category!r}"
                   for t in event.get("type", []) if t not in expected]
    if "@timestamp" not in doc:
        errors.append("@timestamp missing")
    return errors


def _fixture_events() -> list[Event]:
    auto = build_decoder({"type": "auto", "unknown_json": "json", "unknown_text": "raw"})
    events: list[Event] = []
    for path in sorted((FIXTURES / "vendors").glob("*/*")):
        if path.suffix in (".json", ".cef", ".log"):
            events.extend(auto.decode(make_record(path.read_bytes(), auto)))
    return events


FIXTURE_EVENTS = _fixture_events()


def test_there_are_fixtures_of_every_family() -> None:
    kinds = {to_ecs(e)["event"]["kind"] for e in FIXTURE_EVENTS}
    assert {"alert", "event"} <= kinds and len(FIXTURE_EVENTS) > 20


@pytest.mark.parametrize("event", FIXTURE_EVENTS, ids=[f"{e.source}-{e.vendor_type}-{i}" for i, e in enumerate(FIXTURE_EVENTS)])
def test_every_vendor_fixture_renders_valid_ecs(event: Event) -> None:
    doc = to_ecs(event)
    assert ecs_errors(doc) == []
    assert doc["ecs"]["version"] == ECS_VERSION
    assert doc["event"]["id"] == event.id
    assert datetime.fromisoformat(doc["@timestamp"]) == event.time


def test_the_checker_can_fail() -> None:
    """A control: the reference check rejects what ECS does not define."""
    good = to_ecs(make_event(type="finding.new"))
    assert ecs_errors(good) == []
    broken = [
        {**good, "siemrelay_score": 1},                                        # not an ECS field
        {**good, "event": {**good["event"], "kind": "finding"}},               # not an allowed kind
        {**good, "event": {**good["event"], "type": ["creation"]}},            # not expected for vulnerability
        {**good, "event": {**good["event"], "severity": "high"}},              # long, not keyword
        {**good, "source": {"ip": "not-an-ip"}},                               # ip type
        {**good, "source": {"port": [1, 2]}},                                  # not an array field
    ]
    for doc in broken:
        assert ecs_errors(doc), doc


def test_network_identity_and_device_context_land_in_ecs_fields() -> None:
    event = make_event(
        type="alert", severity="high", title="GPL ATTACK_RESPONSE id check returned root",
        network={"src_ip": "203.0.113.9", "src_port": 51234, "dst_ip": "192.0.2.10", "dst_port": 80,
                 "protocol": "tcp", "direction": "inbound"},
        actor={"user": "root", "domain": "EXAMPLE"}, action={"name": "alerted", "original": "alert"},
        outcome={"name": "failure", "original": "blocked"}, process={"name": "sshd", "pid": 4242},
        file={"path": "/tmp/x", "hash": "d41d8cd98f00b204e9800998ecf8427e"},
        device={"vendor": "Suricata", "product": "IDS", "version": "7.0", "hostname": "ids-1"},
        signature={"id": "2100498", "name": "GPL ATTACK_RESPONSE id check returned root"},
        finding={"category": "attempted-admin"})
    doc = to_ecs(event)
    assert ecs_errors(doc) == []
    assert doc["event"]["kind"] == "alert"
    assert doc["event"]["category"] == ["intrusion_detection"]
    assert doc["event"]["type"] == ["info"]
    assert doc["event"]["outcome"] == "failure"
    assert doc["event"]["action"] == "alert"
    assert doc["source"] == {"ip": "203.0.113.9", "address": "203.0.113.9", "port": 51234}
    assert doc["destination"] == {"ip": "192.0.2.10", "address": "192.0.2.10", "port": 80}
    assert doc["network"] == {"transport": "tcp", "direction": "inbound"}
    assert doc["user"] == {"name": "root", "domain": "EXAMPLE"}
    assert doc["observer"] == {"vendor": "Suricata", "product": "IDS", "version": "7.0", "hostname": "ids-1"}
    assert doc["rule"] == {"id": "2100498", "name": "GPL ATTACK_RESPONSE id check returned root", "category": "attempted-admin"}
    assert doc["process"] == {"name": "sshd", "pid": 4242}
    assert doc["file"] == {"path": "/tmp/x", "hash": {"md5": "d41d8cd98f00b204e9800998ecf8427e"}}
    assert doc["related"]["ip"] == ["192.0.2.10", "203.0.113.9"]


FORTIGATE_DENY = b"<13>Jan 15 14:30:00 fw02 CEF:0|Fortinet|FortiGate|7.2|0000000013|traffic denied|3|src=10.1.1.1 spt=51515 dst=10.2.2.2 dpt=443 proto=6 act=deny"


@pytest.mark.parametrize("act, verdict", [("deny", "denied"), ("accept", "allowed"), ("drop", "denied")])
def test_a_firewall_verdict_is_a_network_connection_not_an_intrusion_alert(act: str, verdict: str) -> None:
    """FortiGate's ``act=deny`` (OCSF Network Activity, Refuse) through the decoder: ECS's
    "firewall blocking a network connection", with the deny in event.type, not the outcome."""
    auto = build_decoder({"type": "auto"})
    [event] = auto.decode(make_record(FORTIGATE_DENY.replace(b"act=deny", b"act=" + act.encode()), auto))
    doc = to_ecs(event)
    assert ecs_errors(doc) == []
    assert (doc["event"]["kind"], doc["event"]["category"], doc["event"]["type"]) == ("event", ["network"], ["connection", verdict])
    assert (doc["event"]["outcome"], doc["event"]["action"]) == ("success", act)
    assert doc["rule"]["id"] == "0000000013" and doc["observer"]["product"] == "FortiGate"


def test_a_verdict_keeps_the_events_own_outcome_and_an_edr_block_stays_an_alert() -> None:
    deny = to_ecs(make_event(type="alert", network={"dst_ip": "192.0.2.1"}, action={"name": "blocked", "original": "block"},
                             outcome={"name": "failure", "original": "failed"}))
    assert (deny["event"]["category"], deny["event"]["type"], deny["event"]["outcome"]) == (["network"], ["connection", "denied"], "failure")
    edr = to_ecs(make_event(type="alert", signature={"id": "ransom-1"}, action={"name": "quarantined", "original": "quarantine"}))
    assert (edr["event"]["kind"], edr["event"]["category"], edr["event"]["type"]) == ("alert", ["intrusion_detection"], ["denied"])
    assert ecs_errors(deny) == [] and ecs_errors(edr) == []


def test_ecs_and_ocsf_agree_on_which_fixtures_are_network_activity() -> None:
    from agent.sdk.ocsf import ocsf_class_of

    for event in FIXTURE_EVENTS:
        doc = to_ecs(event)
        if ocsf_class_of(event) == 4001 and event.action:
            assert doc["event"]["category"] == ["network"], event.raw
        if doc["event"].get("category") == ["intrusion_detection"]:
            assert ocsf_class_of(event) == 2004, event.raw


def test_a_vulnerability_finding_fills_vulnerability_fields() -> None:
    doc = to_ecs(make_event(type="finding.new", severity="critical", description="SQL injection in /login",
                            finding={"cve": "CVE-2024-1234", "cvss": 9.8, "category": "sqli", "url": "https://app.example/login"},
                            scan={"id": "scan-7"}))
    assert ecs_errors(doc) == []
    assert doc["vulnerability"]["id"] == "CVE-2024-1234"
    assert doc["vulnerability"]["score"] == {"base": 9.8, "version": "3.1"}
    assert doc["vulnerability"]["severity"] == "Critical"
    assert doc["vulnerability"]["category"] == ["sqli"]
    assert doc["vulnerability"]["report_id"] == "scan-7"
    assert doc["url"]["full"] == "https://app.example/login"
    assert (doc["event"]["kind"], doc["event"]["category"], doc["event"]["type"]) == ("alert", ["vulnerability"], ["info"])


def test_render_json_gives_ecs_bytes_for_a_spooled_event() -> None:
    item = spooled([make_event(type="scan.failed")])[0]
    doc = orjson.loads(render_json(item, "ecs"))
    assert doc["event"]["outcome"] == "failure" and ecs_errors(doc) == []


_text = st.text(max_size=20)
_groups = st.fixed_dictionaries({}, optional={
    "network": st.fixed_dictionaries({}, optional={"src_ip": st.one_of(st.ip_addresses().map(str), _text),
                                                   "src_port": st.one_of(st.integers(-5, 70000), _text),
                                                   "dst_ip": st.ip_addresses().map(str), "protocol": _text,
                                                   "direction": st.sampled_from(["inbound", "sideways"])}),
    "actor": st.fixed_dictionaries({}, optional={"user": _text, "domain": _text}),
    "action": st.fixed_dictionaries({}, optional={"name": st.sampled_from(["allowed", "denied", "x"]), "original": _text}),
    "outcome": st.fixed_dictionaries({}, optional={"name": st.sampled_from(["success", "failure", "maybe"])}),
    "process": st.fixed_dictionaries({}, optional={"name": _text, "pid": st.one_of(st.integers(-1, 2**70), _text)}),
    "file": st.fixed_dictionaries({}, optional={"path": _text, "hash": st.one_of(_text, st.just("sha256:" + "a" * 64))}),
    "signature": st.fixed_dictionaries({}, optional={"id": _text, "name": _text}),
    "asset": st.fixed_dictionaries({}, optional={"host": _text, "ip": _text}),
})


@settings(max_examples=150, deadline=None)
@given(groups=_groups, etype=st.sampled_from(["finding.new", "scan.completed", "alert", "auth.login", "asset.added",
                                               "audit.api_call", "config.profile_changed", "log", "monitor.alert"]))
def test_any_event_renders_to_valid_ecs(groups: dict[str, Any], etype: str) -> None:
    doc = to_ecs(make_event(type=etype, **{k: v for k, v in groups.items() if v}))
    assert ecs_errors(doc) == []
    orjson.dumps(doc)
