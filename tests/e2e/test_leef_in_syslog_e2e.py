"""End to end: a QRadar LEEF 2.0 line inside RFC 5424 syslog over TCP, sent by util-linux
``logger`` to a running agent's ``syslog`` source, fills the network, actor, device and
signature fields, and a LEEF relay (the ``cef`` sink with ``format: leef``) writes back
QRadar's predefined keys with the values they arrived with.

The relayed line is read by the parser written from IBM's LEEF documentation
(tests/peers/leef.py), not by siemrelay's own, and its ``devTime`` with the
``devTimeFormat`` it declares.
"""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import wait_for, wait_for_port
from tests.peers.leef import QRADAR_KEYS, java_time, parse_leef

pytestmark = pytest.mark.e2e

#: IBM's caret-delimited LEEF 2.0 form, with QRadar's predefined keys and a declared time format.
ATTRS = {"src": "203.0.113.9", "dst": "192.0.2.10", "srcPort": "51515", "dstPort": "443", "proto": "tcp",
         "usrName": "alice", "domain": "CORP", "sev": "7", "cat": "Firewall Deny", "identSrc": "203.0.113.9",
         "devTime": "2025-01-15 15:30:00.250 +0100", "devTimeFormat": "yyyy-MM-dd HH:mm:ss.SSS Z"}
LINE = "LEEF:2.0|Palo Alto Networks|PAN-OS|10.1.3|TRAFFIC-DENY|^|" + "^".join(f"{k}={v}" for k, v in ATTRS.items())
WHEN = datetime(2025, 1, 15, 14, 30, 0, 250000, tzinfo=timezone.utc)


def _lines(path: Path) -> list[str]:
    return [x for x in path.read_text().splitlines() if x.strip()] if path.exists() else []


def test_leef_inside_syslog_fills_the_model_and_relays_qradar_keys(write_config: Any, agent_process: Any,
                                                                    free_port: Any, tmp_path: Path) -> None:
    tcp = free_port()
    agent_process(write_config(f"""
        agent: {{state_dir: {tmp_path}/state, spool: {{sync: normal}}, dedup: {{window_s: 0}}}}
        sources:
          sl_tcp: {{type: syslog, address: "127.0.0.1:{tcp}", transport: tcp}}
        sinks:
          out: {{type: file, path: {tmp_path}/out.jsonl, fsync: false}}
          qradar: {{type: cef, transport: file, path: {tmp_path}/out.leef, header: none, format: leef}}
        routes:
          - {{name: default, to: [out, qradar]}}
        """))
    wait_for_port(tcp)
    subprocess.run(["logger", "--tcp", "--rfc5424", "--octet-count", "-n", "127.0.0.1", "-P", str(tcp), "-t", "panos",
                    LINE], check=True, timeout=10)
    [event] = [json.loads(x) for x in wait_for(lambda: _lines(tmp_path / "out.jsonl"), timeout=20, what="the event")]
    assert event["network"] == {"src_ip": "203.0.113.9", "src_port": 51515, "dst_ip": "192.0.2.10", "dst_port": 443,
                                "protocol": "tcp"}
    assert event["actor"] == {"user": "alice", "domain": "CORP"}
    assert {k: event["device"][k] for k in ("vendor", "product", "version")} == {
        "vendor": "Palo Alto Networks", "product": "PAN-OS", "version": "10.1.3"}
    assert event["device"]["hostname"]  # the syslog header's host
    assert event["signature"] == {"id": "TRAFFIC-DENY"} and event["finding"] == {"category": "Firewall Deny"}
    assert (event["severity"], event["score"], event["source"], event["type"]) == ("high", 70, "palo_alto_networks", "alert")
    assert datetime.fromisoformat(event["time"]) == WHEN

    [relayed] = wait_for(lambda: _lines(tmp_path / "out.leef"), timeout=20, what="the LEEF relay")
    header, attrs = parse_leef(relayed)
    assert (header["vendor"], header["product"], header["product_version"], header["event_id"]) == (
        "Palo Alto Networks", "PAN-OS", "10.1.3", "TRAFFIC-DENY")
    kept = {k: v for k, v in ATTRS.items() if not k.startswith("devTime")}
    assert {k: attrs.get(k) for k in kept} == kept
    assert java_time(attrs["devTime"], attrs["devTimeFormat"]).replace(tzinfo=timezone.utc) == WHEN
    assert set(ATTRS) <= QRADAR_KEYS  # every key checked is one QRadar files without a custom property
