"""Options of the nats sink (and the connection options the source shares)."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import cerberus
import pytest

from agent.config.schema import compose_sink_schema
from plugins.out_nats.config import CONFIG_SCHEMA, check_config
from agent.sdk.nats_options import connect_options, default_subjects, display_url, server_urls, stream_config
from plugins.out_nats.sink import NatsSink


def validated(**doc: Any) -> dict[str, Any]:
    v = cerberus.Validator(compose_sink_schema(CONFIG_SCHEMA, NatsSink.DEFAULTS), allow_unknown=False)
    assert v.validate({"type": "nats", **doc}), v.errors
    return dict(v.document)


def invalid(**doc: Any) -> dict[str, Any]:
    v = cerberus.Validator(compose_sink_schema(CONFIG_SCHEMA, NatsSink.DEFAULTS), allow_unknown=False)
    assert not v.validate({"type": "nats", **doc})
    return dict(v.errors)


def test_minimal_config_gets_defaults() -> None:
    cfg = validated(subject="siem.events")
    assert server_urls(cfg) == ["nats://127.0.0.1:4222"]
    assert cfg["msg_id"] is True and cfg["schema"] == "native" and cfg["create_stream"] is None
    assert cfg["batch"]["max_events"] == 500
    assert check_config(cfg) == []


def test_every_key_has_a_description_and_a_default_or_required() -> None:
    def walk(schema: dict[str, Any], path: str = "") -> None:
        for key, rules in schema.items():
            assert rules.get("meta", {}).get("description"), f"{path}{key} has no description"
            assert "default" in rules or rules.get("required"), f"{path}{key} has no default"
            if isinstance(rules.get("schema"), dict) and rules.get("type") == "dict":
                walk(rules["schema"], f"{path}{key}.")

    walk(CONFIG_SCHEMA)


@pytest.mark.parametrize("subject", ["siem.*", "siem.>", "has space", "a..b", ".a", "a."])
def test_subjects_with_wildcards_or_empty_tokens_are_refused(subject: str) -> None:
    assert "subject" in invalid(subject=subject)


@pytest.mark.parametrize("subject", ["siem.events", "siem.{{ source }}.{{ severity }}", "x.{{ asset.name }}-v1"])
def test_subjects_and_placeholders_are_accepted(subject: str) -> None:
    validated(subject=subject)


def test_servers_must_be_nats_or_tls_urls() -> None:
    assert "servers" in invalid(subject="a", servers=["http://x:4222"])
    cfg = validated(subject="a", url="nats://a:4222", servers=["nats://b:4222", "tls://c:4222"])
    assert server_urls(cfg) == ["nats://a:4222", "nats://b:4222", "tls://c:4222"]


def test_one_authentication_method_only(tmp_path: Path) -> None:
    seed = tmp_path / "user.nk"
    seed.write_text("SUAEXAMPLE")
    problems = check_config(validated(subject="a", token="t0ken-value", nkey_seed_file=str(seed)))
    assert any("one authentication method" in p for p in problems)
    assert any("password" in p for p in check_config(validated(subject="a", user="relay")))
    assert any("user" in p for p in check_config(validated(subject="a", password="hunter22")))


def test_unreadable_credential_files_are_reported(tmp_path: Path) -> None:
    problems = check_config(validated(subject="a", creds_file=str(tmp_path / "missing.creds")))
    assert problems == [f"creds_file: cannot read {tmp_path / 'missing.creds'}"]


def test_create_stream_needs_a_stream_name() -> None:
    problems = check_config(validated(subject="a", create_stream={"replicas": 3}))
    assert any("create_stream needs stream" in p for p in problems)


def test_reserved_headers_are_refused() -> None:
    assert any("reserved" in p for p in check_config(validated(subject="a", headers={"Nats-Msg-Id": "x"})))


def test_connect_options_map_each_credential_kind(tmp_path: Path) -> None:
    base = {"subject": "a", "url": "nats://h:4222"}
    opts = connect_options(validated(**base, token="s3cr3t-token"), "edge")
    assert opts["token"] == "s3cr3t-token" and opts["name"] == "siemrelay-edge"
    assert opts["max_reconnect_attempts"] == -1 and "tls" not in opts
    opts = connect_options(validated(**base, user="u", password="p4ssword"), "edge")
    assert (opts["user"], opts["password"]) == ("u", "p4ssword")
    opts = connect_options(validated(**base, nkey_seed_file="/x/seed.nk", client_name="edge-7"), "edge")
    assert opts["nkeys_seed"] == "/x/seed.nk" and opts["name"] == "edge-7"
    opts = connect_options(validated(**base, creds_file="/x/user.creds"), "edge")
    assert opts["user_credentials"] == "/x/user.creds"


def test_tls_urls_or_tls_enabled_build_a_verifying_context() -> None:
    opts = connect_options(validated(subject="a", url="tls://h:4222"), "edge")
    assert isinstance(opts["tls"], ssl.SSLContext) and opts["tls"].verify_mode == ssl.CERT_REQUIRED
    opts = connect_options(validated(subject="a", tls={"enabled": True, "verify": False, "server_name": "nats.internal"}), "e")
    assert opts["tls"].verify_mode == ssl.CERT_NONE and opts["tls_hostname"] == "nats.internal"


def test_display_url_hides_embedded_credentials() -> None:
    assert display_url("nats://relay:hunter22@nats-1:4222") == "nats://***@nats-1:4222"
    assert display_url("nats://nats-1:4222") == "nats://nats-1:4222"


def test_stream_config_from_create_stream() -> None:
    cfg = validated(subject="siem.{{ source }}.{{ severity }}", stream="EVENTS",
                    create_stream={"replicas": 3, "duplicate_window_s": 300, "retention": "workqueue", "max_age_s": 3600})
    sc = stream_config("EVENTS", cfg["create_stream"], cfg["subject"])
    assert sc.subjects == ["siem.*.*"] and default_subjects("siem.events") == ["siem.events"]
    assert (sc.num_replicas, sc.duplicate_window, sc.max_age) == (3, 300.0, 3600.0)
    assert sc.retention.value == "workqueue" and sc.storage.value == "file" and sc.discard.value == "old"
