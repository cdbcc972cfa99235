"""LEEF 1.0 and 2.0 out: QRadar's predefined keys where the event has the value, parsed back
with a parser written from IBM's LEEF documentation (tests/peers/leef.py)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from agent.testing import make_event
from plugins.out_cef.encoder import CefFormat, encode_leef
from tests.peers.leef import QRADAR_KEYS, java_time, parse_leef

FMT = CefFormat("siemrelay", "siemrelay", "0.1")
CUSTOM = {"name", "action", "outcome", "devHost", "externalId", "findingId", "repository", "asset", "source",
          "vendorUrl", "score", "cvss", "dstHostName", "description"}
SURICATA = dict(type="alert", title="GPL ATTACK_RESPONSE id check returned root", severity="high",
                network={"src_ip": "203.0.113.9", "dst_ip": "192.0.2.10", "dst_port": 80, "protocol": "tcp"},
                device={"vendor": "Suricata", "product": "IDS", "version": "7.0"},
                signature={"id": "2100498", "name": "GPL ATTACK_RESPONSE id check returned root"},
                finding={"category": "attempted-admin"})


def test_suricata_alert_in_leef_2_uses_qradar_keys() -> None:
    header, attrs = parse_leef(encode_leef(FMT, make_event(**SURICATA).to_dict()))
    assert header == {"version": "2.0", "vendor": "Suricata", "product": "IDS", "product_version": "7.0",
                      "event_id": "2100498"}
    assert {k: attrs[k] for k in ("src", "dst", "dstPort", "proto", "cat", "sev")} == {
        "src": "203.0.113.9", "dst": "192.0.2.10", "dstPort": "80", "proto": "tcp", "cat": "attempted-admin", "sev": "8"}
    assert java_time(attrs["devTime"], attrs["devTimeFormat"]).year == 2025
    assert set(attrs) <= QRADAR_KEYS | CUSTOM


def test_sshd_failure_in_leef_1_has_user_and_identity_source() -> None:
    event = make_event(type="auth.failed", title="Failed SSH login", actor={"user": "root"},
                       network={"src_ip": "198.51.100.23", "src_port": 40022}, outcome={"name": "failure"})
    header, attrs = parse_leef(encode_leef(FMT, event.to_dict(), version="1.0"))
    assert header["version"] == "1.0" and header["event_id"] == "auth.failed"
    assert (attrs["usrName"], attrs["identSrc"], attrs["srcPort"], attrs["outcome"]) == ("root", "198.51.100.23", "40022", "failure")


def test_predefined_keys_win_over_custom_names() -> None:
    _, attrs = parse_leef(encode_leef(FMT, make_event(finding={"url": "https://app/x"}).to_dict()))
    assert attrs["url"] == "https://app/x" and "title" not in attrs and "vendorType" not in attrs


_value = st.text(max_size=40)


@settings(max_examples=150, deadline=None)
@given(title=_value, user=_value, category=_value, version=st.sampled_from(["1.0", "2.0"]))
def test_any_event_parses_as_leef_with_known_keys(title: str, user: str, category: str, version: str) -> None:
    event = make_event(title=title, actor={"user": user}, finding={"category": category}, network={"src_ip": "10.0.0.1"})
    header, attrs = parse_leef(encode_leef(FMT, event.to_dict(), version=version))
    assert header["version"] == version
    assert 1 <= int(attrs["sev"]) <= 10
    assert set(attrs) <= QRADAR_KEYS | CUSTOM
    if user.strip() and "\t" not in user and "\n" not in user and "\r" not in user and user.isprintable():
        assert attrs["usrName"] == user


def test_configured_leef_keys_replace_the_default_mapping() -> None:
    fmt = CefFormat("a", "b", "1", leef_keys={"usrName": "actor.user", "srcPreNAT": "network.src_ip",
                                              "cat": "action.original", "resource": "asset.name"},
                    leef_custom_keys={"findingId": "finding.id", "repo": "repository.name"})
    event = make_event(title="t", actor={"user": "bob"}, network={"src_ip": "10.1.1.1", "dst_ip": "10.2.2.2"},
                       action={"original": "deny"}, asset={"name": "web"}, finding={"id": "f-1"},
                       repository={"name": "api"})
    _, attrs = parse_leef(encode_leef(fmt, event.to_dict()))
    assert [k for k in attrs] == ["sev", "cat", "devTime", "devTimeFormat", "usrName", "srcPreNAT", "resource",
                                  "findingId", "repo"]
    assert (attrs["cat"], attrs["usrName"], attrs["srcPreNAT"], attrs["resource"]) == ("deny", "bob", "10.1.1.1", "web")
    assert (attrs["findingId"], attrs["repo"]) == ("f-1", "api") and "dst" not in attrs


def test_an_empty_custom_map_writes_only_predefined_keys() -> None:
    fmt = CefFormat("a", "b", "1", leef_custom_keys={})
    _, attrs = parse_leef(encode_leef(fmt, make_event(**SURICATA).to_dict()))
    assert set(attrs) <= QRADAR_KEYS and {"src", "dst", "dstPort", "proto", "cat", "sev"} <= set(attrs)


def test_validate_refuses_leef_keys_outside_qradars_set() -> None:
    from plugins.out_cef.config import check_config

    base = {"transport": "file", "path": "/dev/null", "address": None, "format": "leef"}
    assert check_config({**base, "leef_keys": {"src": "network.src_ip", "usrName": "actor.user"},
                         "leef_custom_keys": {"findingId": "finding.id"}}) == []
    errors = check_config({**base, "leef_keys": {"usrname": "actor.user", "sev": "score", "title": "title"},
                           "leef_custom_keys": {"src": "network.src_ip", "bad key": "x", "a=b": "y"}})
    assert any("leef_keys.usrname" in e and "'usrName'" in e for e in errors)
    assert any("leef_keys.sev" in e and "written by the sink" in e for e in errors)
    assert any("leef_keys.title" in e and "leef_custom_keys" in e for e in errors)
    assert any("leef_custom_keys.src" in e and "leef_keys" in e for e in errors)
    assert sum("leef_custom_keys.bad key" in e or "leef_custom_keys.a=b" in e for e in errors) == 2
