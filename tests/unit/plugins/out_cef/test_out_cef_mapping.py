"""The cef sink's mapping: header from the event's device and signature, configurable extensions,
custom strings, and extension keys checked against the CEF dictionary. Output is read back with
liblognorm's CEF parser, never with our own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.testing import make_event
from plugins.out_cef.config import check_config
from plugins.out_cef.encoder import CefFormat, encode_cef
from tests.peers.lognorm import parse_cef_lines

SSHD = dict(type="auth.failed", title="Failed password", severity="medium",
            network={"src_ip": "198.51.100.23", "src_port": 40022, "dst_port": 22, "protocol": "tcp"},
            actor={"user": "root"}, outcome={"name": "failure", "original": "failure"},
            process={"name": "sshd", "pid": 1234}, device={"hostname": "bastion-1"})


def _parse(line: str, tmp: Path) -> dict[str, Any]:
    [parsed] = parse_cef_lines([line], tmp)
    return dict(parsed["cef"])


def test_a_security_event_gets_the_security_default_mapping(tmp_path: Path) -> None:
    cef = _parse(encode_cef(CefFormat("siemrelay", "siemrelay", "0.1"), make_event(**SSHD).to_dict()), tmp_path)
    assert (cef["DeviceVendor"], cef["SignatureID"], cef["Name"]) == ("siemrelay", "auth.failed", "Failed password")
    ext = cef["Extensions"]
    assert {k: ext[k] for k in ("src", "spt", "dpt", "proto", "suser", "outcome", "sproc", "spid", "dvchost")} == {
        "src": "198.51.100.23", "spt": "40022", "dpt": "22", "proto": "tcp", "suser": "root", "outcome": "failure",
        "sproc": "sshd", "spid": "1234", "dvchost": "bastion-1"}


def test_header_comes_from_device_and_signature_unless_switched_off(tmp_path: Path) -> None:
    event = make_event(device={"vendor": "Suricata", "product": "IDS", "version": "7.0"},
                       signature={"id": "2100498", "name": "GPL ATTACK_RESPONSE"}, network={"dst_port": 80}).to_dict()
    cef = _parse(encode_cef(CefFormat("siemrelay", "siemrelay", "0.1"), event), tmp_path)
    assert [cef[k] for k in ("DeviceVendor", "DeviceProduct", "DeviceVersion", "SignatureID", "Name")] == [
        "Suricata", "IDS", "7.0", "2100498", "GPL ATTACK_RESPONSE"]
    own = _parse(encode_cef(CefFormat("siemrelay", "relay", "0.1", header_from_event=False), event), tmp_path)
    assert (own["DeviceVendor"], own["DeviceProduct"]) == ("siemrelay", "relay")


def test_configured_extensions_and_custom_strings(tmp_path: Path) -> None:
    fmt = CefFormat("a", "b", "1", extensions={"act": "action.original", "duser": "actor.user"},
                    custom_strings={"Repository": "repository.name"})
    event = make_event(action={"name": "denied", "original": "deny"}, actor={"user": "bob"},
                       repository={"name": "web"}).to_dict()
    ext = _parse(encode_cef(fmt, event), tmp_path)["Extensions"]
    assert {k: v for k, v in ext.items() if k != "rt"} == {"act": "deny", "duser": "bob", "cs1": "web",
                                                          "cs1Label": "Repository"}


def test_validate_refuses_extension_keys_outside_the_cef_dictionary() -> None:
    base = {"transport": "file", "path": "/dev/null", "address": None}
    assert check_config({**base, "extensions": {"src": "network.src_ip", "act": "action.original"}}) == []
    errors = check_config({**base, "extensions": {"srcc": "network.src_ip", "cs1": "x"}})
    assert any("extensions.srcc" in e and "'src'" in e for e in errors)
    assert any("extensions.cs1" in e and "custom_strings" in e for e in errors)


_value = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=30).filter(str.strip)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(user=_value, proc=_value, path=_value, act=_value)
def test_any_mapped_value_reads_back_unchanged(tmp_path: Path, user: str, proc: str, path: str, act: str) -> None:
    fmt = CefFormat("a", "b", "1", extensions={"suser": "actor.user", "sproc": "process.name", "filePath": "file.path",
                                               "act": "action.original"})
    event = make_event(actor={"user": user}, process={"name": proc}, file={"path": path},
                       action={"name": "other", "original": act}).to_dict()
    ext = _parse(encode_cef(fmt, event), tmp_path)["Extensions"]
    assert (ext["suser"], ext["sproc"], ext["filePath"], ext["act"]) == (user, proc, path, act)
