"""End to end: an sshd "Failed password" line at auth.crit, sent over TCP syslog with
``logger`` (util-linux), reaches the file sinks as an ECS authentication failure (and OCSF Authentication, CEF, LEEF) with
the user and address, and not as a critical-severity event: a syslog level is not a
security severity unless the user asks for it."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import json_lines, wait_for, wait_for_port
from tests.peers.leef import QRADAR_KEYS, parse_leef
from tests.peers.lognorm import parse_cef_lines
from tests.peers.ocsf_schema import ocsf_errors

pytestmark = pytest.mark.e2e

LINE = "Failed password for root from 198.51.100.23 port 40022 ssh2"


def _events(path: Path) -> list[dict[str, Any]]:
    return json_lines(path)


def test_sshd_failure_lands_as_an_ecs_authentication_failure(write_config: Any, agent_process: Any, free_port: Any,
                                                             tmp_path: Path) -> None:
    port = free_port()
    config = write_config(f"""
        agent: {{state_dir: {tmp_path}/state}}
        sources:
          sl: {{type: syslog, address: "127.0.0.1:{port}", transport: tcp}}
        sinks:
          elastic: {{type: file, path: {tmp_path}/ecs.jsonl, fsync: false, schema: ecs}}
          native: {{type: file, path: {tmp_path}/native.jsonl, fsync: false}}
          lake: {{type: file, path: {tmp_path}/ocsf.jsonl, fsync: false, schema: ocsf}}
          qradar: {{type: cef, transport: file, path: {tmp_path}/qradar.leef, header: none, format: leef}}
          arcsight: {{type: cef, transport: file, path: {tmp_path}/arcsight.cef, header: none}}
        routes:
          - {{name: default, to: [elastic, native, qradar, arcsight, lake]}}
        """)
    agent_process(config)
    wait_for_port(port)
    subprocess.run(["logger", "--tcp", "--octet-count", "-n", "127.0.0.1", "-P", str(port), "--rfc3164", "-p", "auth.crit",
                    "-t", "sshd", "--id=1234", LINE], check=True, timeout=10)
    [doc] = wait_for(lambda: _events(tmp_path / "ecs.jsonl"), timeout=20, what="the ECS event")
    [native] = wait_for(lambda: _events(tmp_path / "native.jsonl"), timeout=20, what="the native event")
    assert (native["type"], native["severity"], native["score"]) == ("auth.failed", "unknown", 0)
    assert native["raw"]["severity"] == "crit" and native["raw"]["facility"] == "auth"
    assert doc["event"]["category"] == ["authentication"] and doc["event"]["outcome"] == "failure"
    assert doc["user"]["name"] == "root"
    assert doc["source"]["ip"] == "198.51.100.23" and doc["source"]["port"] == 40022
    assert doc["process"] == {"name": "sshd", "pid": 1234}
    assert doc["event"]["severity"] == 0
    leef = wait_for(lambda: (tmp_path / "qradar.leef").exists() and (tmp_path / "qradar.leef").read_text().strip(), timeout=20)
    header, attrs = parse_leef(leef)
    assert header["event_id"] == "auth.failed"
    assert (attrs["usrName"], attrs["src"], attrs["srcPort"], attrs["identSrc"]) == ("root", "198.51.100.23", "40022", "198.51.100.23")
    assert set(attrs) <= QRADAR_KEYS | {"name", "outcome", "devHost", "dstHostName", "externalId", "source", "score", "description"}
    cef_line = wait_for(lambda: (tmp_path / "arcsight.cef").exists() and (tmp_path / "arcsight.cef").read_text().strip(), timeout=20)
    [parsed] = parse_cef_lines([cef_line], tmp_path)
    ext = parsed["cef"]["Extensions"]
    assert (ext["suser"], ext["src"], ext["spt"], ext["outcome"], ext["sproc"]) == ("root", "198.51.100.23", "40022", LINE, "sshd")
    assert parsed["cef"]["Severity"] == "0"
    [ocsf] = wait_for(lambda: _events(tmp_path / "ocsf.jsonl"), timeout=20, what="the OCSF event")
    assert ocsf_errors(ocsf) == []
    assert (ocsf["class_uid"], ocsf["activity_id"], ocsf["status_id"], ocsf["severity_id"]) == (3002, 1, 2, 0)
    assert ocsf["user"] == {"name": "root"} and ocsf["src_endpoint"] == {"ip": "198.51.100.23", "port": 40022}
