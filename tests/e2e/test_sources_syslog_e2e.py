"""End to end: a real syslog-ng relays to the agent over TCP (octet counting) and TLS;
logger and openssl s_client talk to the agent directly. Everything lands in the file sink."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import json_lines, wait_for, wait_for_port
from tests.peers.syslog_ng import SyslogNg

pytestmark = pytest.mark.e2e


def sink_events(path: Path) -> list[dict[str, Any]]:
    return json_lines(path)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: Any) -> Path:
    d = tmp_path_factory.mktemp("pki")
    run = lambda *a: subprocess.run(["openssl", *a], check=True, capture_output=True, timeout=30)  # noqa: E731
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=e2e-ca", "-keyout", str(d / "ca.key"), "-out", str(d / "ca.pem"))
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", str(d / "server.key"), "-out", str(d / "server.csr"))
    (d / "ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("x509", "-req", "-in", str(d / "server.csr"), "-CA", str(d / "ca.pem"), "-CAkey", str(d / "ca.key"), "-CAcreateserial",
        "-days", "2", "-extfile", str(d / "ext"), "-out", str(d / "server.pem"))
    return d


def agent_config(write_config: Any, tmp_path: Path, tcp: int, tls_port: int, udp: int, pki: Path) -> Path:
    return write_config(f"""
        agent: {{state_dir: {tmp_path}/state, spool: {{sync: normal}}}}
        sources:
          sl_tcp: {{type: syslog, address: "127.0.0.1:{tcp}", transport: tcp}}
          sl_udp: {{type: syslog, address: "127.0.0.1:{udp}", transport: udp}}
          sl_tls:
            type: syslog
            address: "127.0.0.1:{tls_port}"
            transport: tls
            tls: {{cert_file: {pki}/server.pem, key_file: {pki}/server.key}}
        sinks:
          out: {{type: file, path: {tmp_path}/out.jsonl, fsync: false}}
        routes:
          - {{name: default, to: [out]}}
        """)


def test_syslog_ng_relays_over_tcp_and_tls_logger_and_s_client_direct(write_config: Any, agent_process: Any, free_port: Any,
                                                                      tmp_path: Path, pki: Path) -> None:
    tcp, tls_port, udp = free_port(), free_port(), free_port(socket.AF_INET, socket.SOCK_DGRAM)
    agent = agent_process(agent_config(write_config, tmp_path, tcp, tls_port, udp, pki))
    wait_for_port(tcp)
    wait_for_port(tls_port)
    relay_in = free_port()
    body = f"""
source s_in {{ network(ip(127.0.0.1) port({relay_in}) transport("tcp") flags(syslog-protocol)); }};
destination d_tcp {{ syslog("127.0.0.1" port({tcp}) transport("tcp")); }};
destination d_tls {{ syslog("127.0.0.1" port({tls_port}) transport("tls") tls(ca-file("{pki}/ca.pem") peer-verify(required-trusted))); }};
log {{ source(s_in); destination(d_tcp); destination(d_tls); }};
"""
    with SyslogNg(body, tmp_path / "sng", wait_ports=[("127.0.0.1", relay_in)]):
        for i in range(20):
            subprocess.run(["logger", "--tcp", "--rfc5424", "-n", "127.0.0.1", "-P", str(relay_in), "-t", "relayed",
                            "--sd-id", "ev@32473", "--sd-param", f'n="{i}"', f"relayed message {i}"], check=True, timeout=10)
        out = tmp_path / "out.jsonl"
        wait_for(lambda: sum(1 for e in sink_events(out) if e["title"].startswith("relayed message")) == 40, timeout=30,
                 what="20 messages via TCP and 20 via TLS")
    events = [e for e in sink_events(out) if e["title"].startswith("relayed message")]
    by_input: dict[str, set[str]] = {}
    for e in events:
        by_input.setdefault(e["origin"]["input"], set()).add(e["title"])
        assert e["raw"]["format"] == "rfc5424" and e["raw"]["app_name"] == "relayed"
        assert e["raw"]["structured_data"]["ev@32473"]["n"] == e["title"].split()[-1]
    assert by_input == {"sl_tcp": {f"relayed message {i}" for i in range(20)}, "sl_tls": {f"relayed message {i}" for i in range(20)}}

    subprocess.run(["logger", "--udp", "--rfc3164", "-n", "127.0.0.1", "-P", str(udp), "-t", "bsd", "direct udp"], check=True, timeout=10)
    subprocess.run(["logger", "--tcp", "--octet-count", "-n", "127.0.0.1", "-P", str(tcp), "CEF:0|Acme|IDS|2.1|42|Port scan|9|src=10.1.1.1 dst=10.2.2.2"],
                   check=True, timeout=10)
    s_client = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{tls_port}", "-CAfile", str(pki / "ca.pem"),
                               "-verify_return_error", "-quiet", "-no_ign_eof"], input=b"<13>1 - host app - - - via s_client\n",
                              capture_output=True, timeout=20)
    assert s_client.returncode == 0, s_client.stderr
    subprocess.run(["logger", "--udp", "-n", "127.0.0.1", "-P", str(udp), "--rfc5424", "--", "unparseable: <99999>"], check=True, timeout=10)
    with socket.create_connection(("127.0.0.1", tcp)) as s:
        s.sendall(b"this is not syslog\n")
    wait_for(lambda: {"direct udp", "Port scan", "via s_client", "this is not syslog"} <= {e["title"] for e in sink_events(out)},
             timeout=20, what="the direct messages")
    by_title = {e["title"]: e for e in sink_events(out)}
    assert by_title["Port scan"]["source"] == "acme" and by_title["Port scan"]["severity"] == "critical"
    assert by_title["direct udp"]["raw"]["format"] == "rfc3164" and by_title["direct udp"]["origin"]["transport"] == "udp"
    assert by_title["via s_client"]["origin"]["input"] == "sl_tls"
    assert by_title["this is not syslog"]["origin"]["flags"] == ["parse_error"]
    assert agent.stop() == 0
