"""End to end: a CEF line that arrives inside syslog over TCP fills exactly the fields the
``cef`` decoder fills for the same line.

The same FortiGate deny line reaches one running agent twice: from util-linux ``logger``
as an RFC 5424 message over TCP to a ``syslog`` source (syslog decoder), and as a bare
line in a file followed by a ``file`` source with ``decoder: cef``. Both decode through
the SDK's one CEF mapping, so the file sink holds two events that agree on every field
the mapping fills (network, actor, process, file, device, signature, action, outcome,
severity, time, id); only ``source`` (the syslog decoder names the device vendor) and the
syslog header kept in ``raw`` differ.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import json_lines, wait_for, wait_for_port

pytestmark = pytest.mark.e2e

LINE = ("CEF:0|Fortinet|FortiGate|7.2.4|13|Deny traffic|7|src=203.0.113.9 spt=51515 dst=192.0.2.10 dpt=443 "
        "proto=TCP act=deny outcome=failure suser=alice sntdom=CORP dvchost=fw1.example sproc=sshd spid=42 "
        "fname=payload.exe fileHash=9f86d081 cat=attempted-admin rt=1736951400000 externalId=ev-1 msg=blocked by policy")

#: what the CEF mapping fills; both paths must agree on each
SAME = ("id", "time", "type", "vendor_type", "severity", "severity_id", "score", "title", "description", "asset", "finding",
        "network", "actor", "process", "file", "device", "signature", "action", "outcome")


def sink_events(path: Path) -> list[dict[str, Any]]:
    return json_lines(path)


def test_cef_inside_syslog_over_tcp_fills_the_fields_the_cef_decoder_fills(write_config: Any, agent_process: Any,
                                                                          free_port: Any, tmp_path: Path) -> None:
    (tmp_path / "cef.log").write_text(LINE + "\n")
    tcp = free_port()
    agent_process(write_config(f"""
        agent: {{state_dir: {tmp_path}/state, spool: {{sync: normal}}, dedup: {{window_s: 0}}}}
        sources:
          sl_tcp: {{type: syslog, address: "127.0.0.1:{tcp}", transport: tcp}}
          cef_file: {{type: file, paths: ["{tmp_path}/cef.log"], read_from: beginning, decoder: cef}}
        sinks:
          out: {{type: file, path: {tmp_path}/out.jsonl, fsync: false}}
        routes:
          - {{name: default, to: [out]}}
        """))
    wait_for_port(tcp)
    subprocess.run(["logger", "--tcp", "--rfc5424", "--octet-count", "-n", "127.0.0.1", "-P", str(tcp), "-t", "fortigate",
                    LINE], check=True, timeout=10)
    out = tmp_path / "out.jsonl"
    events = wait_for(lambda: (lambda evs: evs if len(evs) == 2 else None)(sink_events(out)), timeout=20,
                      what="the line through syslog and through the cef decoder")
    by_input = {e["origin"]["input"]: e for e in events}
    via_syslog, via_cef = by_input["sl_tcp"], by_input["cef_file"]
    assert {k: via_syslog.get(k) for k in SAME} == {k: via_cef.get(k) for k in SAME}
    # and the fields are the line's, not empty on both sides
    assert via_cef["network"] == {"src_ip": "203.0.113.9", "src_port": 51515, "dst_ip": "192.0.2.10", "dst_port": 443,
                                  "protocol": "tcp"}
    assert via_cef["actor"] == {"user": "alice", "domain": "CORP"}
    assert via_cef["device"] == {"vendor": "Fortinet", "product": "FortiGate", "version": "7.2.4", "hostname": "fw1.example"}
    assert via_cef["signature"] == {"id": "13", "name": "Deny traffic"}
    assert via_cef["action"]["name"] == "denied" and via_cef["outcome"]["name"] == "failure"
    assert (via_cef["severity"], via_cef["score"], via_cef["id"]) == ("high", 70, "Fortinet:FortiGate:ev-1")
    assert via_syslog["source"] == "fortinet" and via_syslog["raw"]["extensions"] == via_cef["raw"]["extensions"]
