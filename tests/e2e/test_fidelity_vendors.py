"""End to end: the Escape, ZeroPath and pentest-platform webhooks, POSTed to the HTTP source
with their decoders, reach the sinks with their context groups: the native JSON carries
them, the OCSF rendering validates against the OCSF 1.4.0 schema, and ArcSight's CEF
(read back by liblognorm) names Escape as the device and its security test as the
signature while keeping the finding's own keys."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import ROOT, wait_for, wait_for_port
from tests.peers.lognorm import parse_cef_lines
from tests.peers.ocsf_schema import ocsf_errors

pytestmark = pytest.mark.e2e

VENDORS = ROOT / "tests" / "fixtures" / "vendors"
POSTS = [("/escape", VENDORS / "escape" / "export.json"), ("/zeropath", VENDORS / "zeropath" / "audit-log-event.json"),
         ("/zeropath", VENDORS / "zeropath" / "scan-failed.json"), ("/pentest", VENDORS / "pentest" / "engagement-signed.json")]


def _lines(path: Path) -> list[str]:
    return [x for x in path.read_text().splitlines() if x.strip()] if path.exists() else []


def test_vendor_webhooks_keep_their_context_in_every_format(write_config: Any, agent_process: Any, free_port: Any,
                                                            tmp_path: Path) -> None:
    port = free_port()
    config = write_config(f"""
        agent: {{state_dir: {tmp_path}/state}}
        sources:
          web:
            type: http
            address: "127.0.0.1:{port}"
            paths: {{/escape: {{decoder: escape}}, /zeropath: {{decoder: zeropath}}, /pentest: {{decoder: pentest}}}}
        sinks:
          native: {{type: file, path: {tmp_path}/native.jsonl, fsync: false}}
          lake: {{type: file, path: {tmp_path}/ocsf.jsonl, fsync: false, schema: ocsf}}
          arcsight: {{type: cef, transport: file, path: {tmp_path}/arcsight.cef, header: none}}
        routes:
          - {{name: default, to: [native, lake, arcsight]}}
        """)
    agent_process(config)
    wait_for_port(port)
    for path, body in POSTS:
        assert requests.post(f"http://127.0.0.1:{port}{path}", data=body.read_bytes(), timeout=10).status_code == 200
    expected = 1 + 4 + 1 + 1 + 1 + 1 + 3  # the export's resources, then one event per other webhook
    def at_least(name: str) -> list[str] | None:
        got = _lines(tmp_path / name)
        return got if len(got) >= expected else None

    native = [json.loads(x) for x in wait_for(lambda: at_least("native.jsonl"), timeout=20, what="every native event")]
    ocsf = [json.loads(x) for x in wait_for(lambda: at_least("ocsf.jsonl"), timeout=20, what="every OCSF event")]
    cef = wait_for(lambda: at_least("arcsight.cef"), timeout=20, what="every CEF line")
    issue = next(e for e in native if e["type"] == "finding.new")
    assert issue["signature"] == {"id": "test-456", "name": "SQL Injection"}
    assert issue["device"] == {"vendor": "Escape", "product": "Escape"}
    assert next(e for e in native if e["vendor_type"] == "AUDIT_LOG_EVENT")["actor"] == {"user": "alice@acme.example"}
    assert next(e for e in native if e["vendor_type"] == "SCAN_FAILED")["outcome"]["name"] == "failure"
    assert next(e for e in native if e["vendor_type"] == "engagement_signed")["actor"] == {"user": "jane.doe@acme.example"}
    host = next(e for e in native if (e.get("asset") or {}).get("class") == "HOST")
    assert host["network"] == {"dst_ip": "192.0.2.1", "dst_port": 443, "protocol": "https"}
    assert [ocsf_errors(d) for d in ocsf] == [[] for _ in ocsf]
    finding = next(d for d in ocsf if d["class_uid"] == 2002)
    assert finding["metadata"]["product"]["vendor_name"] == "Escape"
    [parsed] = [p for p in parse_cef_lines(cef, tmp_path) if p["cef"]["SignatureID"] == "test-456"]
    assert (parsed["cef"]["DeviceVendor"], parsed["cef"]["Name"]) == ("Escape", "SQL Injection")
    ext = parsed["cef"]["Extensions"]
    assert ext["cs1Label"] == "Finding ID" and ext["cs1"] == "550e8400-e29b-41d4-a716-446655440000"
    assert ext["cn1"] == "80" and ext["request"] == "https://api.example.com/users"
