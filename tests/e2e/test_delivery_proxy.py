"""Every HTTP sink takes ``agent.proxy`` by default: the existing ``webhook`` and
``splunk_hec`` sinks through Debian's tinyproxy, a sink's own ``proxy: {}`` going
direct, and the proxy's own refusal opening the circuit with a clear reason."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Any

import orjson
import pytest
import requests

from tests.conftest import pick_port, require_tool, run_cli, wait_for, wait_for_port
from tests.peers.hec_receiver import HecReceiver
from tests.peers.http_capture import HttpCapture
from tests.peers.tinyproxy import Tinyproxy

pytestmark = pytest.mark.e2e

PASSWORD = "tp-Secret-2468013579"


def config(tmp_path: Path, port: int, proxy: Tinyproxy, hook: str, direct: str, hec: str, password: str) -> Path:
    text = f"""
agent:
  state_dir: {tmp_path}/state
  shutdown_timeout_s: 3
  spool: {{sync: normal}}
  proxy: {{url: "{proxy.url}"{f', username: relay, password: "{password}"' if password else ""}}}
sources:
  web: {{type: http, address: "127.0.0.1:{port}"}}
sinks:
  hook:
    type: webhook
    url: "{hook}"
    format: ndjson
    batch: {{max_wait_s: 0.05}}
    retry: {{jitter: none, initial_backoff_s: 0.2, max_backoff_s: 1, timeout_s: 2}}
    circuit_breaker: {{failure_threshold: 50, cooldown_s: 600}}
  direct:
    type: webhook
    url: "{direct}"
    format: ndjson
    batch: {{max_wait_s: 0.05}}
    proxy: {{}}
  hec:
    type: splunk_hec
    url: "{hec}"
    token: good-token
    healthcheck_on_start: false
    batch: {{max_wait_s: 0.05}}
routes:
  - name: default
    to: [hook, direct, hec]
"""
    path = tmp_path / "siemrelay.yaml"
    path.write_text(text)
    return path


def post(port: int, n: int) -> None:
    events = [{"id": f"ev-{i}", "time": "2025-01-15T14:30:00Z", "source": "test", "type": "finding.new",
               "severity": "high", "title": f"finding {i}"} for i in range(n)]
    assert requests.post(f"http://127.0.0.1:{port}/events", data=orjson.dumps(events), timeout=10).status_code == 200


def run(tmp_path: Path, agent_process: Any, password: str, peers: ExitStack) -> tuple[Any, ...]:
    require_tool("tinyproxy", "tinyproxy")
    hook, direct = peers.enter_context(HttpCapture()), peers.enter_context(HttpCapture())
    hec = peers.enter_context(HecReceiver(pick_port(), tokens={"good-token": {"ack": False}}))
    proxy = peers.enter_context(Tinyproxy(tmp_path / "proxy", "relay", PASSWORD))
    port = pick_port()
    cfg = config(tmp_path, port, proxy, hook.url, direct.url, hec.url, password)
    proc = agent_process(cfg)
    wait_for_port(port)
    return cfg, port, proc, hook, direct, hec, proxy


def test_agent_proxy_is_every_http_sinks_default(tmp_path: Path, agent_process: Any) -> None:
    with ExitStack() as peers:
        cfg, port, proc, hook, direct, hec, proxy = run(tmp_path, agent_process, PASSWORD, peers)
        post(port, 3)
        wait_for(lambda: len(hook.delivered()) >= 3 and len(direct.delivered()) >= 3 and len(hec.indexed) >= 3, 20,
                 what="all three sinks")
        seen = proxy.connections()
    assert any(line.startswith(f"POST {hook.url}") for line in seen), seen
    assert any(line.startswith(f"POST {hec.url}/services/collector/event") for line in seen), seen
    assert not any(direct.url in line for line in seen), seen  # proxy: {} sends directly
    assert PASSWORD not in proc.log


def test_proxy_demanding_credentials_opens_the_circuit(tmp_path: Path, agent_process: Any) -> None:
    """Without credentials the proxy answers 407 (a wrong password on a CONNECT tunnel is
    covered by the sentinel tests; a wrong one on plain HTTP by the next test)."""
    with ExitStack() as peers:
        cfg, port, proc, hook, direct, hec, proxy = run(tmp_path, agent_process, "", peers)
        post(port, 2)
        wait_for(lambda: proc.log.count("circuit opened") >= 2, 20, what="both proxied sinks to open their circuit")
        wait_for(lambda: len(direct.delivered()) >= 2, 20, what="the direct sink")
        res = run_cli("sinks", "list", "-c", str(cfg), "--json")
    rows = {r["name"]: r for r in orjson.loads(res.stdout)}
    assert hook.requests == [] and hec.indexed == []
    for name in ("hook", "hec"):
        assert rows[name]["queued"] == 2 and rows[name]["dead_letters"] == 0
        assert "proxy" in rows[name]["last_error"] and "proxy.password" in rows[name]["last_error"]
        assert "407" in rows[name]["last_error"]


def test_a_wrong_proxy_password_is_the_proxys_401_not_the_destinations(tmp_path: Path, agent_process: Any) -> None:
    """tinyproxy answers a wrong password on plain HTTP with its own ``401`` and a
    ``WWW-Authenticate`` challenge, as a destination refusing its credentials would: the
    webhook sink would dead-letter the events. It is the proxy's refusal: the circuit opens,
    the events stay queued, and the reason names the proxy."""
    with ExitStack() as peers:
        cfg, port, proc, hook, direct, hec, proxy = run(tmp_path, agent_process, "not-the-password", peers)
        post(port, 2)
        wait_for(lambda: proc.log.count("circuit opened") >= 2, 20, what="both proxied sinks to open their circuit")
        wait_for(lambda: len(direct.delivered()) >= 2, 20, what="the direct sink")
        res = run_cli("sinks", "list", "-c", str(cfg), "--json")
    rows = {r["name"]: r for r in orjson.loads(res.stdout)}
    assert hook.requests == [] and hec.indexed == []
    for name in ("hook", "hec"):
        assert rows[name]["queued"] == 2 and rows[name]["dead_letters"] == 0, rows[name]
        assert "proxy answered 401" in rows[name]["last_error"] and "tinyproxy" in rows[name]["last_error"]
        assert "proxy.password" in rows[name]["last_error"]
    assert "not-the-password" not in proc.log
