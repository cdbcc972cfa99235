"""End to end: process events reach an OCSF sink as Process Activity (1007), valid against
the OCSF 1.4.0 schema. A sudo line sent over TCP syslog with ``logger`` (util-linux), and
an EDR-style JSON process event POSTed to the HTTP source and decoded by the JSON
decoder's field map, both go through the spool and the worker to a ``file`` sink with
``schema: ocsf``."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import json_lines, require_tool, wait_for, wait_for_port
from tests.peers.ocsf_schema import ocsf_errors

pytestmark = pytest.mark.e2e

SUDO = "alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx"
REFUSED = "mallory : 3 incorrect password attempts ; TTY=pts/1 ; PWD=/tmp ; USER=root ; COMMAND=/bin/bash"
EDR = {"detection_id": "ps-77", "ts": "2025-01-15T14:32:00Z", "kind": "ProcessRollup", "host": {"name": "ws-7"},
       "user": "CORP\\bob", "proc": {"image": "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
                                     "pid": 4321, "ppid": 912, "cmdline": "powershell.exe -enc SQBFAFgA"}}


def _lines(path: Path) -> list[dict[str, Any]]:
    return json_lines(path)


def test_sudo_and_edr_process_events_are_ocsf_process_activity(write_config: Any, agent_process: Any, free_port: Any,
                                                               tmp_path: Path) -> None:
    require_tool("logger", "bsdutils")
    syslog_port, http_port = free_port(), free_port()
    config = write_config(f"""
        agent: {{state_dir: {tmp_path}/state}}
        decoders:
          edr:
            type: json
            source: edr
            fields: {{id: detection_id, time: ts, type: kind, device.hostname: host.name, actor.user: user,
                      process.path: proc.image, process.pid: proc.pid, process.parent_pid: proc.ppid,
                      process.command_line: proc.cmdline}}
            type_map: {{ProcessRollup: process.started}}
        sources:
          sl: {{type: syslog, address: "127.0.0.1:{syslog_port}", transport: tcp}}
          web: {{type: http, address: "127.0.0.1:{http_port}", paths: {{"/edr": {{decoder: edr}}}}}}
        sinks:
          lake: {{type: file, path: {tmp_path}/ocsf.jsonl, fsync: false, schema: ocsf}}
        routes:
          - {{name: default, to: [lake]}}
        """)
    agent_process(config)
    wait_for_port(syslog_port)
    wait_for_port(http_port)
    for line in (SUDO, REFUSED):
        subprocess.run(["logger", "--tcp", "--octet-count", "-n", "127.0.0.1", "-P", str(syslog_port), "--rfc3164",
                        "-p", "authpriv.notice", "-t", "sudo", "--id=4242", line], check=True, timeout=10)
    assert requests.post(f"http://127.0.0.1:{http_port}/edr", json=EDR, timeout=10).status_code == 200
    docs = wait_for(lambda: len(got := _lines(tmp_path / "ocsf.jsonl")) >= 3 and got, timeout=20, what="three OCSF events")
    assert [ocsf_errors(d) for d in docs] == [[], [], []]
    assert {d["class_uid"] for d in docs} == {1007} and {d["type_uid"] for d in docs} == {100701}
    by_user = {d["actor"]["user"]["name"]: d for d in docs}
    sudo, refused, edr = by_user["alice"], by_user["mallory"], by_user["CORP\\bob"]
    assert sudo["process"]["cmd_line"] == "/usr/bin/systemctl restart nginx" and sudo["process"]["user"] == {"name": "root"}
    assert sudo["status_id"] == 1 and refused["status_id"] == 2 and refused["process"]["cmd_line"] == "/bin/bash"
    assert edr["process"] == {"name": "powershell.exe", "pid": 4321, "cmd_line": "powershell.exe -enc SQBFAFgA",
                              "file": {"name": "powershell.exe", "path": EDR["proc"]["image"], "type_id": 1},  # type: ignore[index]
                              "parent_process": {"pid": 912}}
    assert edr["device"]["hostname"] == "ws-7" and edr["metadata"]["uid"] == "ps-77"
