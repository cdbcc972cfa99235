"""Durability of delivery: SIGKILL during delivery under load, backpressure at the spool
quota, flat memory while a sink is down, and a corrupt spool file."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import orjson
import pytest
import requests

from tests.conftest import json_lines, pick_port, run_cli, wait_for, wait_for_port
from tests.peers.http_capture import HttpCapture

pytestmark = pytest.mark.e2e


def write_config(tmp_path: Path, port: int, url: str, spool: str = "", batch: str = "max_events: 200, max_wait_s: 0.05") -> Path:
    text = f"""
agent:
  state_dir: {tmp_path}/state
  shutdown_timeout_s: 3
  spool: {{sync: normal{spool}}}
sources:
  web:
    type: http
    address: "127.0.0.1:{port}"
    response_timeout_s: 0.5
sinks:
  hook:
    type: webhook
    url: "{url}"
    format: ndjson
    batch: {{{batch}}}
    retry: {{jitter: none, initial_backoff_s: 0.1, max_backoff_s: 0.5, timeout_s: 2}}
    circuit_breaker: {{failure_threshold: 3, cooldown_s: 0.5}}
  archive:
    type: file
    path: {tmp_path}/out/events.jsonl
    fsync: false
routes:
  - name: default
    to: [hook, archive]
"""
    path = tmp_path / "siemrelay.yaml"
    path.write_text(text)
    return path


def native(i: int, pad: int = 0) -> dict:
    return {"id": f"ev-{i}", "time": "2025-01-15T14:30:00Z", "source": "test", "type": "finding.new",
            "severity": "high", "title": f"finding {i}", "description": "x" * pad}


def file_ids(tmp_path: Path) -> set[str]:
    return {record["id"] for record in json_lines(tmp_path / "out" / "events.jsonl", rotated=True)}


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_sigkill_during_delivery_then_restart_delivers_everything(tmp_path, agent_process):
    with HttpCapture() as rx:
        port = pick_port()
        cfg = write_config(tmp_path, port, rx.url)
        agent = agent_process(cfg)
        wait_for_port(port)
        acked: list[str] = []
        stop = threading.Event()

        def sender() -> None:
            session = requests.Session()
            n = 0
            while not stop.is_set():
                batch = [native(n + i) for i in range(50)]
                try:
                    r = session.post(f"http://127.0.0.1:{port}/events", data=orjson.dumps(batch), timeout=5,
                                     headers={"Content-Type": "application/json"})
                except requests.RequestException:
                    break
                if r.status_code == 200:
                    acked.extend(e["id"] for e in batch)
                n += 50

        t = threading.Thread(target=sender)
        t.start()
        wait_for(lambda: len(rx.delivered()) > 2000, 30, what="delivery under load")
        agent.send_signal(signal.SIGKILL)  # mid-delivery, sources still posting
        agent.wait(10)
        stop.set()
        t.join(10)
        assert len(acked) > 2000
        agent_process(cfg)  # restart on the same spool
        wait_for(lambda: set(acked) <= {e["id"] for e in rx.delivered()}, 60, what="every acknowledged event at the receiver")
        wait_for(lambda: set(acked) <= file_ids(tmp_path), 30, what="every acknowledged event in the file sink")


def test_backpressure_at_the_quota_and_recovery(tmp_path, agent_process):
    with HttpCapture(default=503) as rx:
        port = pick_port()
        cfg = write_config(tmp_path, port, rx.url, spool=", max_bytes: 300000, resume_ratio: 0.5")
        agent_process(cfg)
        wait_for_port(port)
        accepted: list[str] = []
        refused = None
        for n in range(0, 4000, 20):
            r = requests.post(f"http://127.0.0.1:{port}/events", data=orjson.dumps([native(n + i, 900) for i in range(20)]),
                              headers={"Content-Type": "application/json"}, timeout=10)
            if r.status_code == 503:
                refused = r
                break
            assert r.status_code == 200
            accepted.extend(f"ev-{n + i}" for i in range(20))
        assert refused is not None, "the source never pushed back"
        assert int(refused.headers["Retry-After"]) >= 1 and 100 <= len(accepted) <= 400  # ~2 KiB per stored event
        rows = orjson.loads(run_cli("sinks", "-c", str(cfg), "list", "--json").stdout)
        assert {r["name"]: r["queued"] for r in rows}["hook"] == len(accepted)  # spooled, not dropped
        rx.set_script([], default=200)  # the sink recovers
        wait_for(lambda: requests.post(f"http://127.0.0.1:{port}/events", data=orjson.dumps([native(99999)]),
                                       headers={"Content-Type": "application/json"}, timeout=10).status_code == 200,
                 30, interval=0.2, what="the source to resume below the low water mark")
        wait_for(lambda: set(accepted) | {"ev-99999"} <= {e["id"] for e in rx.delivered()}, 30, what="everything delivered")


def test_a_sink_down_for_long_does_not_grow_memory(tmp_path, agent_process):
    port = pick_port()
    dead_port = pick_port()  # nothing listens there: connection refused, the circuit opens
    cfg = write_config(tmp_path, port, f"http://127.0.0.1:{dead_port}/", batch="max_events: 500, max_wait_s: 0.05")
    agent = agent_process(cfg)
    wait_for_port(port)
    session = requests.Session()
    samples: list[int] = []
    body_n = 0
    for round_ in range(30):
        for _ in range(5):
            batch = [native(body_n + i, 600) for i in range(200)]
            body_n += 200
            r = session.post(f"http://127.0.0.1:{port}/events", data=orjson.dumps(batch),
                             headers={"Content-Type": "application/json"}, timeout=10)
            assert r.status_code == 200
        samples.append(rss_kib(agent.proc.pid))
    # 30,000 events (~25 MB of JSON) spooled for the down sink; delivered to the file sink
    wait_for(lambda: len(file_ids(tmp_path)) == body_n, 30, what="the healthy sink to keep up")
    rows = {r["name"]: r for r in orjson.loads(run_cli("sinks", "-c", str(cfg), "list", "--json").stdout)}
    assert rows["hook"]["queued"] == body_n and rows["archive"]["queued"] == 0
    settled = samples[5]
    growth_mib = (max(samples[5:]) - settled) / 1024
    assert growth_mib < 20, f"RSS grew {growth_mib:.1f} MiB while the sink was down: {samples}"


def test_corrupt_spool_is_refused_and_reset_keeps_it(tmp_path, agent_process):
    port = pick_port()
    cfg = write_config(tmp_path, port, "http://127.0.0.1:9/")
    state = tmp_path / "state"
    state.mkdir()
    junk = b"\x00garbage, not SQLite\n" * 100
    (state / "spool.db").write_bytes(junk)
    res = run_cli("run", "-c", str(cfg), timeout=30)
    assert res.returncode == 2 and "cannot be read" in res.stderr and "--reset-spool" in res.stderr
    assert (state / "spool.db").read_bytes() == junk
    agent = agent_process(cfg, args=("--reset-spool",))
    wait_for_port(port)
    aside = [p for p in state.iterdir() if p.name.startswith("spool.db.corrupt-") and not p.name.endswith(("-wal", "-shm"))]
    assert len(aside) == 1 and aside[0].read_bytes() == junk
    assert agent.stop() == 0
