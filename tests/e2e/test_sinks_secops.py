"""``secops`` end to end: the agent as a subprocess (http source → spool → worker → sink)
against a strict Google receiver (JWT bearer token endpoint verified with google-auth,
Chronicle ``logs.import``), also through Debian's tinyproxy."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import orjson
import pytest
import requests

from tests.conftest import pick_port, require_tool, run_cli, wait_for, wait_for_port
from tests.peers.chronicle import Chronicle, ServiceAccountKey
from tests.peers.tinyproxy import Tinyproxy

pytestmark = pytest.mark.e2e

PROXY_PASSWORD = "px-Google-1122334455"


@pytest.fixture(scope="module")
def account() -> ServiceAccountKey:
    return ServiceAccountKey.generate()


def start(tmp_path: Path, agent_process: Any, g: Chronicle, key: ServiceAccountKey, extra: str = "",
          agent_extra: str = "") -> tuple[Path, int, Any]:
    port = pick_port()
    key_file = key.write(tmp_path / "sa.json", g.token_uri)
    cfg = tmp_path / "siemrelay.yaml"
    cfg.write_text(f"""
agent:
  state_dir: {tmp_path}/state
  shutdown_timeout_s: 3
  spool: {{sync: normal}}
{agent_extra}
sources:
  web: {{type: http, address: "127.0.0.1:{port}"}}
sinks:
  chronicle:
    type: secops
    endpoint: "{g.url}"
    region: us
    project: my-secops-project
    instance: inst-1
    log_type: SIEMRELAY_JSON
    namespace: corp
    labels: {{env: prod}}
    credentials_file: "{key_file}"
    batch: {{max_events: 50, max_wait_s: 0.05}}
    retry: {{jitter: none, initial_backoff_s: 0.2, multiplier: 2, max_backoff_s: 1, timeout_s: 2}}
    circuit_breaker: {{failure_threshold: 50, cooldown_s: 600}}
{extra}
routes:
  - name: default
    to: [chronicle]
""")
    proc = agent_process(cfg)
    wait_for_port(port)
    return cfg, port, proc


def native(i: int, **fields: Any) -> dict[str, Any]:
    return {"id": f"ev-{i}", "time": f"2025-01-15T14:30:{i:02d}Z", "received_at": "2025-01-15T14:31:00Z",
            "source": "test", "type": "finding.new", "severity": "high", "title": f"finding {i}", **fields}


def post(port: int, events: list[dict[str, Any]]) -> None:
    assert requests.post(f"http://127.0.0.1:{port}/events", data=orjson.dumps(events), timeout=10).status_code == 200


def ids(g: Chronicle) -> list[str]:
    return [json.loads(log["data"])["id"] for log in g.logs]


def test_logs_arrive_with_times_namespace_and_labels(tmp_path: Path, agent_process: Any, account: ServiceAccountKey) -> None:
    with Chronicle(pick_port(), (account,)) as g:
        cfg, port, proc = start(tmp_path, agent_process, g, account)
        post(port, [native(i) for i in range(4)])
        wait_for(lambda: len(g.logs) >= 4, 20, what="4 logs")
    assert ids(g) == ["ev-0", "ev-1", "ev-2", "ev-3"]
    assert [log["logEntryTime"] for log in g.logs] == [f"2025-01-15T14:30:0{i}Z" for i in range(4)]
    assert all(log["environmentNamespace"] == "corp" and log["labels"] == {"env": {"value": "prod"}} for log in g.logs)
    assert len(g.token_calls()) == 1 and g.imports()[0].path.endswith("/logTypes/SIEMRELAY_JSON/logs:import")
    assert account.private_pem.splitlines()[1] not in proc.log


def test_retry_dead_letter_and_token_refresh(tmp_path: Path, agent_process: Any, account: ServiceAccountKey) -> None:
    def reject(log: dict[str, Any]) -> str | None:
        return "log entry exceeds the size limit" if b"POISON" in log["data"] else None

    with Chronicle(pick_port(), (account,), reject_log=reject) as g:
        g.fail_next(429, {"Retry-After": "1"})
        g.fail_next(503)
        cfg, port, _ = start(tmp_path, agent_process, g, account)
        events = [native(i) for i in range(5)]
        events[2]["title"] = "POISON"
        post(port, events)
        wait_for(lambda: len(g.logs) >= 4, 20, what="the good logs")
        g.revoke_tokens()
        post(port, [native(9)])
        wait_for(lambda: len(g.logs) >= 5, 20, what="the log after the token was revoked")
        dead = wait_for(lambda: orjson.loads(run_cli("dlq", "-c", str(cfg), "list", "--json").stdout), 10, what="a dead letter")
    assert ids(g) == ["ev-0", "ev-1", "ev-3", "ev-4", "ev-9"]
    statuses = [r.status for r in g.imports()]
    assert statuses[:2] == [429, 503] and 401 in statuses and len(g.token_calls()) == 2
    assert [d["event_id"] for d in dead] == ["ev-2"] and "INVALID_ARGUMENT" in dead[0]["reason"]


def test_unknown_key_opens_the_circuit_and_keeps_events(tmp_path: Path, agent_process: Any, account: ServiceAccountKey) -> None:
    stranger = ServiceAccountKey.generate()  # a deleted or rotated key: Google answers invalid_grant
    with Chronicle(pick_port(), (account,)) as g:
        cfg, port, proc = start(tmp_path, agent_process, g, stranger)
        post(port, [native(1)])
        wait_for(lambda: "circuit opened" in proc.log, 20, what="the circuit to open")
        row = orjson.loads(run_cli("sinks", "-c", str(cfg), "list", "--json").stdout)[0]
    assert g.imports() == [] and row["queued"] == 1 and row["dead_letters"] == 0
    assert "invalid_grant" in row["last_error"]


def test_through_an_authenticating_proxy(tmp_path: Path, agent_process: Any, account: ServiceAccountKey) -> None:
    require_tool("tinyproxy", "tinyproxy")
    with Chronicle(pick_port(), (account,)) as g, Tinyproxy(tmp_path / "proxy", "relay", PROXY_PASSWORD) as proxy:
        agent_extra = f'  proxy: {{url: "{proxy.url}", username: relay, password: "{PROXY_PASSWORD}"}}'
        cfg, port, proc = start(tmp_path, agent_process, g, account, agent_extra=agent_extra)
        post(port, [native(1), native(2)])
        wait_for(lambda: len(g.logs) >= 2, 20, what="logs through the proxy")
        seen = proxy.connections()
    assert any(line.startswith(f"POST {g.token_uri}") for line in seen), seen
    assert any(line.startswith(f"POST {g.url}/v1alpha/") for line in seen), seen
    assert PROXY_PASSWORD not in proc.log and base64.b64encode(PROXY_PASSWORD.encode()).decode() not in proc.log


def test_an_overloaded_token_endpoint_is_retried_by_the_worker_not_by_google_auth(
        tmp_path: Path, agent_process: Any, account: ServiceAccountKey) -> None:
    """google-auth would retry a 503 itself, sleeping in the sink; the worker's retry policy owns it."""
    with Chronicle(pick_port(), (account,)) as g:
        g.fail_token_next(503, {"Retry-After": "0"})
        cfg, port, proc = start(tmp_path, agent_process, g, account)
        post(port, [native(1)])
        wait_for(lambda: len(g.logs) >= 1, 20, what="the log after the token endpoint recovered")
        row = orjson.loads(run_cli("sinks", "-c", str(cfg), "list", "--json").stdout)[0]
    assert [r.status for r in g.token_calls()] == [503, 200]
    assert row["dead_letters"] == 0 and "circuit opened" not in proc.log
    assert "retry" in proc.log.lower() and "temporarily_unavailable" in proc.log


def test_a_wrong_proxy_password_names_the_proxy_not_google(tmp_path: Path, agent_process: Any,
                                                           account: ServiceAccountKey) -> None:
    """tinyproxy's own 401 on the token request is the proxy's refusal, not Google refusing the key."""
    require_tool("tinyproxy", "tinyproxy")
    with Chronicle(pick_port(), (account,)) as g, Tinyproxy(tmp_path / "proxy", "relay", PROXY_PASSWORD) as proxy:
        agent_extra = f'  proxy: {{url: "{proxy.url}", username: relay, password: "wrong-{PROXY_PASSWORD}"}}'
        cfg, port, proc = start(tmp_path, agent_process, g, account, agent_extra=agent_extra)
        post(port, [native(1)])
        wait_for(lambda: "circuit opened" in proc.log, 20, what="the circuit to open")
        row = orjson.loads(run_cli("sinks", "-c", str(cfg), "list", "--json").stdout)[0]
    assert g.requests == [] and row["queued"] == 1 and row["dead_letters"] == 0
    assert "proxy answered 401" in row["last_error"] and "proxy.password" in row["last_error"]
    assert "Google" not in row["last_error"] and PROXY_PASSWORD not in proc.log


LEGACY = "    api: legacy_unstructured"


def test_legacy_unstructured_api_carries_customer_times_namespace_and_labels(
        tmp_path: Path, agent_process: Any, account: ServiceAccountKey) -> None:
    with Chronicle(pick_port(), (account,)) as g:
        cfg, port, proc = start(tmp_path, agent_process, g, account, extra=LEGACY)
        post(port, [native(i) for i in range(3)])
        wait_for(lambda: len(g.logs) >= 3, 20, what="3 legacy entries")
    [batch] = g.legacy_batches
    assert (batch["customer_id"], batch["log_type"], batch["namespace"]) == ("inst-1", "SIEMRELAY_JSON", "corp")
    assert batch["labels"] == [{"key": "env", "value": "prod"}]
    assert [json.loads(e["log_text"])["id"] for e in batch["entries"]] == ["ev-0", "ev-1", "ev-2"]
    assert [e["ts_rfc3339"] for e in batch["entries"]] == [f"2025-01-15T14:30:0{i}Z" for i in range(3)]
    assert [r.path for r in g.imports()] == ["/v2/unstructuredlogentries:batchCreate"] and len(g.token_calls()) == 1


def test_legacy_api_retries_splits_and_dead_letters(tmp_path: Path, agent_process: Any, account: ServiceAccountKey) -> None:
    """429 retried, a batch over max_request_bytes split before sending, Google's 400 for one
    entry dead-lettered with its message, every other event delivered once."""
    def reject(log: dict[str, Any]) -> str | None:
        return "log_text: invalid log entry" if b"POISON" in log["data"] else None

    with Chronicle(pick_port(), (account,), reject_log=reject) as g:
        g.fail_next(429, {"Retry-After": "0"})
        cfg, port, _ = start(tmp_path, agent_process, g, account, extra=LEGACY + "\n    max_request_bytes: 10000")
        events = [native(i, description="x" * 3000) for i in range(8)]
        events[5]["title"] = "POISON"
        post(port, events)
        wait_for(lambda: len(g.logs) >= 7, 30, what="the good entries")
        dead = wait_for(lambda: orjson.loads(run_cli("dlq", "-c", str(cfg), "list", "--json").stdout), 10, what="a dead letter")
    assert sorted(ids(g)) == [f"ev-{i}" for i in range(8) if i != 5]
    assert g.imports()[0].status == 429 and all(len(r.body) <= 10000 for r in g.imports())
    assert [d["event_id"] for d in dead] == ["ev-5"] and "INVALID_ARGUMENT" in dead[0]["reason"]
