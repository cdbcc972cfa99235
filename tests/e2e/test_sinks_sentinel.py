"""``sentinel`` end to end: the agent as a subprocess (http source → spool → worker →
sink) against a strict Azure receiver (Entra ID token endpoint, IMDS, Logs Ingestion
API), also through a real egress proxy (Debian's tinyproxy)."""

from __future__ import annotations

import gzip
import json
import ssl
from pathlib import Path
from typing import Any

import orjson
import pytest
import requests

from tests.conftest import pick_port, require_tool, run_cli, wait_for, wait_for_port
from tests.peers.azure_monitor import AzureApp, AzureMonitor
from tests.peers.certs import make_certs
from tests.peers.tinyproxy import Tinyproxy

pytestmark = pytest.mark.e2e

SECRET = "s3cret-Client-Value-0123456789"
PROXY_PASSWORD = "px-Pass-9876543210"


def write_config(tmp_path: Path, port: int, az: AzureMonitor, extra: str = "", secret: str = SECRET,
                 agent_extra: str = "") -> Path:
    text = f"""
agent:
  state_dir: {tmp_path}/state
  shutdown_timeout_s: 3
  spool: {{sync: normal}}
{agent_extra}
sources:
  web:
    type: http
    address: "127.0.0.1:{port}"
sinks:
  soc:
    type: sentinel
    endpoint: "{az.url}"
    authority: "{az.url}"
    dcr_immutable_id: "{az.dcr}"
    stream: Custom-SiemrelayEvents
    tenant_id: tenant-1
    client_id: app-1
    client_secret: "{secret}"
    batch: {{max_events: 50, max_wait_s: 0.05}}
    retry: {{jitter: none, initial_backoff_s: 0.2, multiplier: 2, max_backoff_s: 1, timeout_s: 2}}
    circuit_breaker: {{failure_threshold: 50, cooldown_s: 600}}
{extra}
routes:
  - name: default
    to: [soc]
"""
    path = tmp_path / "siemrelay.yaml"
    path.write_text(text)
    return path


def native(i: int, **fields: Any) -> dict[str, Any]:
    return {"id": f"ev-{i}", "time": f"2025-01-15T14:30:{i % 60:02d}Z", "received_at": "2025-01-15T14:31:00Z",
            "source": "test", "type": "finding.new", "severity": "high", "title": f"finding {i}", **fields}


def post(port: int, events: list[dict[str, Any]]) -> None:
    response = requests.post(f"http://127.0.0.1:{port}/events", data=orjson.dumps(events),
                             headers={"Content-Type": "application/json"}, timeout=10)
    assert response.status_code == 200, response.text


def cli(cfg: Path, command: str, *args: str) -> Any:
    res = run_cli(command, "-c", str(cfg), *args)
    assert res.returncode == 0, res.stdout + res.stderr
    return res


def start(tmp_path: Path, agent_process: Any, az: AzureMonitor, **kw: Any) -> tuple[Path, int, Any]:
    port = pick_port()
    cfg = write_config(tmp_path, port, az, **kw)
    proc = agent_process(cfg)
    wait_for_port(port)
    return cfg, port, proc


def azure(**kw: Any) -> AzureMonitor:
    kw.setdefault("apps", (AzureApp("app-1", SECRET),))
    return AzureMonitor(pick_port(), **kw)


def test_rows_arrive_gzip_with_time_generated_and_one_token(tmp_path: Path, agent_process: Any) -> None:
    with azure() as az:
        cfg, port, proc = start(tmp_path, agent_process, az)
        post(port, [native(i) for i in range(5)])
        wait_for(lambda: len(az.rows) >= 5, 20, what="5 rows")
        post(port, [native(5)])
        wait_for(lambda: len(az.rows) >= 6, 20, what="the 6th row")
    assert [r["id"] for r in az.rows] == [f"ev-{i}" for i in range(6)]
    assert [r["TimeGenerated"] for r in az.rows] == [f"2025-01-15T14:30:{i:02d}Z" for i in range(6)]
    call = az.ingest_calls()[0]
    assert call.headers["content-encoding"] == "gzip" and call.headers["authorization"].startswith("Bearer ")
    assert call.query == {"api-version": ["2023-01-01"]} and call.status == 204
    assert json.loads(gzip.decompress(call.body))[0]["title"] == "finding 0"
    assert len(az.token_calls()) == 1  # cached across batches
    rows = orjson.loads(cli(cfg, "deliveries", "soc", "--json").stdout)
    assert all(r["success"] and r["code"] == 204 for r in rows)
    assert SECRET not in proc.log


def test_429_and_503_are_retried_after_retry_after(tmp_path: Path, agent_process: Any) -> None:
    with azure() as az:
        az.fail_next(429, "TooManyRequests", {"Retry-After": "1"})
        az.fail_next(503, "ServiceUnavailable")
        cfg, port, _ = start(tmp_path, agent_process, az)
        post(port, [native(i) for i in range(3)])
        wait_for(lambda: len(az.rows) >= 3, 20, what="delivery after 429 and 503")
    calls = az.ingest_calls()
    assert [c.status for c in calls] == [429, 503, 204]
    assert calls[1].time - calls[0].time >= 0.9  # Retry-After: 1 replaced the 0.2 s backoff
    assert [r["id"] for r in az.rows] == ["ev-0", "ev-1", "ev-2"]
    history = orjson.loads(cli(cfg, "deliveries", "soc", "--json").stdout)
    assert [(r["code"], r["success"]) for r in reversed(history)] == [(429, False), (503, False), (204, True)]
    assert "TooManyRequests" in history[-1]["error"]


def test_413_splits_the_batch_and_loses_nothing(tmp_path: Path, agent_process: Any) -> None:
    with azure(max_bytes=2500) as az:
        cfg, port, _ = start(tmp_path, agent_process, az, extra="    gzip: false")
        post(port, [native(i, description="x" * 300) for i in range(8)])
        wait_for(lambda: len(az.rows) >= 8, 30, what="all rows after splitting")
    assert sorted(r["id"] for r in az.rows) == [f"ev-{i}" for i in range(8)]
    assert [r["id"] for r in az.rows] == [f"ev-{i}" for i in range(8)]  # order kept
    assert 413 in [c.status for c in az.ingest_calls()]
    assert orjson.loads(cli(cfg, "dlq", "list", "--json").stdout) == []


def test_400_dead_letters_the_bad_row_with_the_api_message(tmp_path: Path, agent_process: Any) -> None:
    def reject(row: dict[str, Any]) -> str | None:
        return "value too long for column Title" if row.get("title") == "POISON" else None

    with azure(reject_row=reject) as az:
        cfg, port, _ = start(tmp_path, agent_process, az)
        events = [native(i) for i in range(6)]
        events[3]["title"] = "POISON"
        post(port, events)
        wait_for(lambda: len(az.rows) >= 5, 20, what="the good rows")
        dead = wait_for(lambda: orjson.loads(cli(cfg, "dlq", "list", "--json").stdout), 10, what="a dead letter")
    assert [r["id"] for r in az.rows] == ["ev-0", "ev-1", "ev-2", "ev-4", "ev-5"]
    assert [d["event_id"] for d in dead] == ["ev-3"]
    assert "InvalidPayload" in dead[0]["reason"] and "value too long" in dead[0]["reason"]


def test_revoked_token_is_refreshed_once_and_delivery_goes_on(tmp_path: Path, agent_process: Any) -> None:
    with azure() as az:
        cfg, port, _ = start(tmp_path, agent_process, az)
        post(port, [native(1)])
        wait_for(lambda: len(az.rows) >= 1, 20, what="the first row")
        az.revoke_tokens()
        post(port, [native(2)])
        wait_for(lambda: len(az.rows) >= 2, 20, what="the row after the token was revoked")
    assert [c.status for c in az.ingest_calls()] == [204, 401, 204]
    assert len(az.token_calls()) == 2
    history = orjson.loads(cli(cfg, "deliveries", "soc", "--json").stdout)
    assert all(r["success"] for r in history)  # the refresh is inside one delivery, not a failure


@pytest.mark.parametrize("case", ["bad_secret", "no_role"])
def test_refused_credentials_open_the_circuit_keep_events_and_never_leak(tmp_path: Path, agent_process: Any,
                                                                         case: str) -> None:
    apps = (AzureApp("app-1", SECRET, has_role=case != "no_role"),)
    wrong = "wrong-Secret-Value-55555"
    with azure(apps=apps) as az:
        cfg, port, proc = start(tmp_path, agent_process, az, secret=wrong if case == "bad_secret" else SECRET)
        post(port, [native(1), native(2)])
        wait_for(lambda: "circuit opened" in proc.log, 20, what="the circuit to open")
        calls = len(az.requests)
        sinks = orjson.loads(cli(cfg, "sinks", "list", "--json").stdout)
        history = cli(cfg, "deliveries", "soc", "--json").stdout
        assert len(az.requests) == calls  # the open circuit stops calls (cooldown 600 s)
    assert sinks[0]["queued"] == 2 and sinks[0]["dead_letters"] == 0
    if case == "bad_secret":
        assert "AADSTS7000215" in sinks[0]["last_error"] and az.ingest_calls() == []
    else:
        assert [c.status for c in az.ingest_calls()] == [403, 403] and len(az.token_calls()) == 2
        assert "Monitoring Metrics Publisher" in sinks[0]["last_error"]
    for text in (proc.log, history, json.dumps(sinks)):
        assert wrong not in text and SECRET not in text


def test_managed_identity_through_imds(tmp_path: Path, agent_process: Any) -> None:
    with azure(managed_identity=True) as az:
        extra = f'    managed_identity: true\n    imds_endpoint: "{az.url}/metadata/identity/oauth2/token"'
        cfg = write_config(tmp_path, pick_port(), az, extra=extra)
        cfg.write_text(cfg.read_text().replace(f'    client_secret: "{SECRET}"\n', ""))
        port = int(cfg.read_text().split('address: "127.0.0.1:')[1].split('"')[0])
        agent_process(cfg)
        wait_for_port(port)
        post(port, [native(1)])
        wait_for(lambda: len(az.rows) >= 1, 20, what="a row with a managed-identity token")
    imds = [r for r in az.requests if r.path == "/metadata/identity/oauth2/token"]
    assert len(imds) == 1 and imds[0].headers["metadata"] == "true"


@pytest.mark.parametrize("tls", [False, True])
def test_through_an_authenticating_proxy(tmp_path: Path, agent_process: Any, tls: bool) -> None:
    require_tool("tinyproxy", "tinyproxy")
    context = None
    ca = ""
    if tls:
        certs = make_certs(tmp_path / "certs")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certs.server_cert, certs.server_key)
        ca = f'    tls: {{ca_file: "{certs.ca}"}}\n'
    with azure(ssl_context=context) as az, Tinyproxy(tmp_path / "proxy", "relay", PROXY_PASSWORD) as proxy:
        agent_extra = f'  proxy: {{url: "{proxy.url}", username: relay, password: "{PROXY_PASSWORD}"}}'
        cfg, port, proc = start(tmp_path, agent_process, az, extra=ca, agent_extra=agent_extra)
        post(port, [native(i) for i in range(3)])
        wait_for(lambda: len(az.rows) >= 3, 20, what="rows through the proxy")
        seen = proxy.connections()
    target = f"127.0.0.1:{az.port}"
    if tls:
        assert any(line.startswith(f"CONNECT {target}") for line in seen), seen
    else:
        assert any(f"POST http://{target}/tenant-1/oauth2/v2.0/token" in line for line in seen), seen
        assert any(f"POST http://{target}/dataCollectionRules/" in line for line in seen), seen
    assert PROXY_PASSWORD not in proc.log and SECRET not in proc.log


def test_proxy_refusing_our_credentials_opens_the_circuit(tmp_path: Path, agent_process: Any) -> None:
    require_tool("tinyproxy", "tinyproxy")
    with azure() as az, Tinyproxy(tmp_path / "proxy", "relay", PROXY_PASSWORD) as proxy:
        extra = f'    proxy: {{url: "{proxy.url}"}}'  # the sink's own block: no credentials
        cfg, port, proc = start(tmp_path, agent_process, az, extra=extra)
        post(port, [native(1)])
        wait_for(lambda: "circuit opened" in proc.log, 20, what="the circuit to open on 407")
        sinks = orjson.loads(cli(cfg, "sinks", "list", "--json").stdout)
    assert az.requests == []  # nothing reached Azure: the proxy is the only route
    assert "407" in sinks[0]["last_error"] and "proxy" in sinks[0]["last_error"]
    assert sinks[0]["queued"] == 1 and sinks[0]["dead_letters"] == 0


def test_send_test_delivers_one_row_and_reports_refusals(tmp_path: Path, agent_process: Any) -> None:
    admin = pick_port()
    admin_block = f'  admin: {{enabled: true, address: "127.0.0.1:{admin}"}}'
    with azure() as az:
        cfg, _, _ = start(tmp_path, agent_process, az, agent_extra=admin_block)
        wait_for_port(admin)
        res = run_cli("send-test", "soc", "-c", str(cfg))
        assert res.returncode == 0 and "sink soc: ok" in res.stdout, res.stdout + res.stderr
        token = (tmp_path / "state" / "admin.token").read_text().strip()
        answer = requests.get(f"http://127.0.0.1:{admin}/api/v1/sinks/soc",
                              headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert answer.status_code == 200 and SECRET not in answer.text
        assert answer.json()["config"]["client_secret"] == "***"
        assert len(az.rows) == 1 and az.rows[0]["TimeGenerated"]
        az.apps["app-1"].secret = "rotated-In-Azure-Only-77"  # the secret in our config no longer works
        az.revoke_tokens()
        res = run_cli("send-test", "soc", "-c", str(cfg))
    out = res.stdout + res.stderr
    assert res.returncode != 0 and "AADSTS7000215" in out, out
    assert SECRET not in out and "Traceback" not in out
