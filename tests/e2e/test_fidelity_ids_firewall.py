"""End to end: the Suricata alert and the FortiGate deny of issue #16, tailed from a file by
the ``cef`` decoder, reach ArcSight's CEF, QRadar's LEEF, OCSF and ECS sinks with the
fields SIEM content keys on. Each format is read back by an independent parser: CEF by
liblognorm, LEEF by the parser written from IBM's documentation, OCSF by the OCSF 1.4.0
JSON schema, ECS against ECS's own field reference."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import wait_for
from tests.peers.leef import QRADAR_KEYS, parse_leef
from tests.peers.lognorm import parse_cef_lines
from tests.peers.ocsf_schema import ocsf_errors
from tests.unit.agent.sdk.test_ecs import ecs_errors

pytestmark = pytest.mark.e2e

SURICATA = ("CEF:0|Suricata|IDS|7.0|2100498|GPL ATTACK_RESPONSE id check returned root|7|src=203.0.113.9 "
            "dst=192.0.2.10 dpt=80 proto=TCP cat=attempted-admin")
FORTIGATE = ("CEF:0|Fortinet|FortiGate|7.2|0000000013|traffic denied|3|src=10.1.1.1 spt=51515 dst=10.2.2.2 dpt=443 "
             "proto=6 act=deny")


def _lines(path: Path) -> list[str]:
    return [x for x in path.read_text().splitlines() if x.strip()] if path.exists() else []


def test_suricata_and_fortigate_keep_their_fields_in_every_format(write_config: Any, agent_process: Any,
                                                                  tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    config = write_config(f"""
        agent: {{state_dir: {tmp_path}/state}}
        sources:
          ids: {{type: file, paths: ["{tmp_path}/in/*.cef"], read_from: beginning, decoder: cef}}
        sinks:
          arcsight: {{type: cef, transport: file, path: {tmp_path}/out.cef, header: none}}
          qradar: {{type: cef, transport: file, path: {tmp_path}/out.leef, header: none, format: leef}}
          lake: {{type: file, path: {tmp_path}/ocsf.jsonl, fsync: false, schema: ocsf}}
          elastic: {{type: file, path: {tmp_path}/ecs.jsonl, fsync: false, schema: ecs}}
        routes:
          - {{name: default, to: [arcsight, qradar, lake, elastic]}}
        """)
    (tmp_path / "in" / "alerts.cef").write_text(SURICATA + "\n" + FORTIGATE + "\n")
    agent_process(config)
    out = {name: wait_for(lambda n=name: len(got := _lines(tmp_path / n)) >= 2 and got, timeout=20, what=name)
           for name in ("out.cef", "out.leef", "ocsf.jsonl", "ecs.jsonl")}

    cef = {p["cef"]["DeviceVendor"]: p["cef"] for p in parse_cef_lines(out["out.cef"], tmp_path)}
    assert [cef["Suricata"][k] for k in ("DeviceProduct", "DeviceVersion", "SignatureID", "Severity")] == ["IDS", "7.0", "2100498", "7"]
    assert cef["Suricata"]["Extensions"] == {"src": "203.0.113.9", "dst": "192.0.2.10", "dpt": "80", "proto": "TCP",
                                             "cat": "attempted-admin"}
    assert cef["Fortinet"]["Extensions"]["act"] == "deny" and cef["Fortinet"]["SignatureID"] == "0000000013"

    leef = {h["vendor"]: (h, a) for h, a in (parse_leef(line) for line in out["out.leef"])}
    header, attrs = leef["Suricata"]
    assert (header["product"], header["product_version"], header["event_id"]) == ("IDS", "7.0", "2100498")
    assert {k: attrs[k] for k in ("src", "dst", "dstPort", "cat", "sev")} == {
        "src": "203.0.113.9", "dst": "192.0.2.10", "dstPort": "80", "cat": "attempted-admin", "sev": "7"}
    assert attrs["proto"].lower() == "tcp"
    _, fw = leef["Fortinet"]
    assert (fw["src"], fw["srcPort"], fw["dst"], fw["dstPort"], fw["action"]) == ("10.1.1.1", "51515", "10.2.2.2", "443", "deny")
    assert {k for k in attrs if k not in QRADAR_KEYS} <= {"name", "action", "outcome", "devHost", "externalId", "asset",
                                                          "source", "score", "description"}

    ocsf = {d["metadata"]["product"]["vendor_name"]: d for d in map(json.loads, out["ocsf.jsonl"])}
    assert [ocsf_errors(d) for d in ocsf.values()] == [[], []]
    ids, fwo = ocsf["Suricata"], ocsf["Fortinet"]
    assert (ids["class_uid"], ids["finding_info"]["uid"], ids["finding_info"]["types"]) == (2004, "2100498", ["attempted-admin"])
    assert ids["evidences"] == [{"src_endpoint": {"ip": "203.0.113.9"}, "dst_endpoint": {"ip": "192.0.2.10", "port": 80}}]
    assert (fwo["class_uid"], fwo["activity_id"], fwo["metadata"]["product"]["name"]) == (4001, 5, "FortiGate")
    assert fwo["src_endpoint"] == {"ip": "10.1.1.1", "port": 51515} and fwo["dst_endpoint"] == {"ip": "10.2.2.2", "port": 443}

    ecs = {d["observer"]["vendor"]: d for d in map(json.loads, out["ecs.jsonl"])}
    assert [ecs_errors(d) for d in ecs.values()] == [[], []]
    alert, deny = ecs["Suricata"], ecs["Fortinet"]
    assert (alert["event"]["kind"], alert["rule"]["id"], alert["source"]["ip"], alert["destination"]["port"]) == (
        "alert", "2100498", "203.0.113.9", 80)
    assert (deny["event"]["kind"], deny["event"]["category"], deny["event"]["type"], deny["event"]["outcome"]) == (
        "event", ["network"], ["connection", "denied"], "success")  # ECS's "firewall blocking a connection"
    assert deny["event"]["action"] == "deny"
    assert (deny["source"]["ip"], deny["source"]["port"], deny["destination"]["port"]) == ("10.1.1.1", 51515, 443)
