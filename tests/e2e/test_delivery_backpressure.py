"""Backpressure end to end for the sources that cannot answer 503: a file tail and a
TCP syslog connection. The only sink is down, the spool reaches its quota, both
sources must stop reading (nothing dropped, nothing spooled beyond the quota), and
once the sink recovers every line and every message arrives."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import orjson
import pytest
import requests

from tests.conftest import pick_port, wait_for, wait_for_port
from tests.peers.http_capture import HttpCapture

pytestmark = pytest.mark.e2e

TOKEN = "bp-admin-token-0123456789"
QUOTA = 200_000
PAD = "p" * 900


def write_config(tmp_path: Path, syslog_port: int, admin_port: int, url: str) -> Path:
    text = f"""
agent:
  state_dir: {tmp_path}/state
  shutdown_timeout_s: 2
  spool: {{sync: normal, max_bytes: {QUOTA}, resume_ratio: 0.5}}
  admin: {{enabled: true, address: "127.0.0.1:{admin_port}", token: "{TOKEN}"}}
sources:
  logs:
    type: file
    paths: ["{tmp_path}/in/*.jsonl"]
    read_from: beginning
    decoder: json
    batch_lines: 50
  sys:
    type: syslog
    address: "127.0.0.1:{syslog_port}"
    transport: tcp
    decoder: syslog
    batch_max_messages: 50
sinks:
  hook:
    type: webhook
    url: "{url}"
    format: ndjson
    batch: {{max_events: 100, max_wait_s: 0.05}}
    retry: {{jitter: none, initial_backoff_s: 0.05, max_backoff_s: 0.2, timeout_s: 2}}
    circuit_breaker: {{failure_threshold: 1000, cooldown_s: 0.2}}
routes:
  - name: default
    to: [hook]
"""
    path = tmp_path / "siemrelay.yaml"
    path.write_text(text)
    return path


def status(admin_port: int) -> dict:
    r = requests.get(f"http://127.0.0.1:{admin_port}/api/v1/status", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def source(st: dict, name: str) -> dict:
    return next(s for s in st["sources"] if s["name"] == name)


def test_tail_and_tcp_syslog_stop_reading_at_the_quota_and_lose_nothing(tmp_path, agent_process):
    syslog_port, admin_port = pick_port(), pick_port()
    (tmp_path / "in").mkdir()
    with HttpCapture(default=503) as rx:  # the only sink is down
        cfg = write_config(tmp_path, syslog_port, admin_port, rx.url)
        agent = agent_process(cfg)
        wait_for_port(syslog_port)
        wait_for_port(admin_port)

        # ~3 MB of lines for a 200 kB quota: the tail must stop, with its checkpoint behind
        tail_ids = [f"tail-{i}" for i in range(3000)]
        with open(tmp_path / "in" / "a.jsonl", "wb") as fh:
            for i in tail_ids:
                fh.write(orjson.dumps({"id": i, "type": "finding.new", "title": i, "description": PAD}) + b"\n")
        wait_for(lambda: status(admin_port)["spool"]["full"], 30, interval=0.1, what="the spool to reach its quota")
        wait_for(lambda: source(status(admin_port), "logs")["refused_full"] > 0, 30, interval=0.1,
                 what="the tail to be pushed back")

        # a TCP syslog sender while the spool is full: its messages must wait, not vanish
        markers = [f"sysmsg-{i:04d}" for i in range(300)]
        conn = socket.create_connection(("127.0.0.1", syslog_port), timeout=30)
        sender_done = threading.Event()

        def send() -> None:
            try:
                for m in markers:
                    msg = f"<134>1 2025-01-15T14:30:00Z host app - - - {m} {PAD}".encode()
                    conn.sendall(str(len(msg)).encode() + b" " + msg)
            finally:
                sender_done.set()

        t = threading.Thread(target=send)
        t.start()
        wait_for(lambda: source(status(admin_port), "sys")["refused_full"] > 0, 30, interval=0.1,
                 what="the syslog connection to be pushed back")
        st = status(admin_port)
        # The quota is a high-water mark checked when a batch is queued for the spool: the
        # batches each source already had in flight when a commit crossed it are still
        # stored (the tail keeps max_inflight_batches, 4, the syslog connection
        # batches_in_flight, 2; 50 events of at most 2,500 stored bytes each), nothing more.
        # (One batch per source was the bound before sources pipelined their batches; CI
        # once saw 562,060 bytes, 2.9 batches over.)
        assert st["spool"]["full"] and st["spool"]["pending_bytes"] <= QUOTA + (4 + 2) * 50 * 2500
        sink = next(s for s in st["sinks"] if s["name"] == "hook")
        assert sink["queue_depth"] < len(tail_ids)  # the tail stopped part-way, it did not read everything into memory

        rx.set_script([], default=200)  # the sink recovers
        sender_done.wait(60)
        t.join(5)
        conn.close()
        wait_for(lambda: set(tail_ids) <= {e["id"] for e in rx.delivered()}, 60, interval=0.1,
                 what="every tailed line delivered")

        def syslog_seen() -> set[str]:
            seen = set()
            for e in rx.delivered():
                text = orjson.dumps(e).decode()
                seen.update(m for m in markers if m in text)
            return seen

        wait_for(lambda: syslog_seen() == set(markers), 60, interval=0.2, what="every syslog message delivered")
        assert source(status(admin_port), "logs")["refused_full"] > 0
        assert agent.stop() == 0
