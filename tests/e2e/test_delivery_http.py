"""Delivery against a scripted HTTP receiver: the agent as a subprocess, the real
``webhook`` sink, loopback only. Asserts exactly what arrived, in what order, and what
went to dead letters; drives ``siemrelay dlq``, ``deliveries`` and ``sinks enable``."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
import requests

from tests.conftest import pick_port, run_cli, wait_for, wait_for_port
from tests.peers.http_capture import HttpCapture

pytestmark = pytest.mark.e2e


def write_config(tmp_path: Path, port: int, url: str, retry: str = "", circuit: str = "", extra_sink: str = "") -> Path:
    text = f"""
agent:
  state_dir: {tmp_path}/state
  shutdown_timeout_s: 3
  spool: {{sync: normal}}
sources:
  web:
    type: http
    address: "127.0.0.1:{port}"
sinks:
  hook:
    type: webhook
    url: "{url}"
    format: ndjson
    batch: {{max_events: 50, max_wait_s: 0.05}}
    retry: {{jitter: none, initial_backoff_s: 0.2, multiplier: 2, max_backoff_s: 1, timeout_s: 1{retry}}}
    circuit_breaker: {{failure_threshold: 50, cooldown_s: 1{circuit}}}
{extra_sink}
routes:
  - name: default
    to: [hook{", archive" if extra_sink else ""}]
"""
    path = tmp_path / "siemrelay.yaml"
    path.write_text(text)
    return path


def native(i: int, **fields) -> dict:
    return {"id": f"ev-{i}", "time": "2025-01-15T14:30:00Z", "received_at": "2025-01-15T14:30:00Z", "source": "test",
            "type": "finding.new", "severity": "high", "title": f"finding {i}", **fields}


def post(port: int, events: list[dict]) -> requests.Response:
    return requests.post(f"http://127.0.0.1:{port}/events", data=orjson.dumps(events),
                         headers={"Content-Type": "application/json"}, timeout=10)


def cli(cfg: Path, *args: str):
    return run_cli(*args, "-c", str(cfg)) if args[0] not in ("dlq", "deliveries", "sinks") else \
        run_cli(args[0], "-c", str(cfg), *args[1:])


def test_503_503_429_then_ok_delivers_once_in_order(tmp_path, agent_process):
    with HttpCapture([503, 503, (429, {"Retry-After": "1"}), 200]) as rx:
        port = pick_port()
        cfg = write_config(tmp_path, port, rx.url)
        agent_process(cfg)
        wait_for_port(port)
        assert post(port, [native(i) for i in range(5)]).status_code == 200
        wait_for(lambda: len(rx.delivered()) >= 5, 20, what="delivery after retries")
        assert rx.statuses()[:4] == [503, 503, 429, 200]
        assert [e["id"] for e in rx.delivered()] == [f"ev-{i}" for i in range(5)]
        times = [r.time for r in rx.requests]
        assert times[3] - times[2] >= 0.9  # the peer's Retry-After: 1 replaced the 0.8 s backoff
        res = cli(cfg, "deliveries", "hook", "--json")
        assert res.returncode == 0, res.stderr
        rows = orjson.loads(res.stdout)
        assert [(r["attempt"], r["code"], r["success"]) for r in reversed(rows)] == \
            [(1, 503, False), (2, 503, False), (3, 429, False), (4, 200, True)]
        assert rows[0]["event_ids"] == [f"ev-{i}" for i in range(5)] and rows[0]["batch_size"] == 5
        table = cli(cfg, "deliveries", "hook")
        assert "429" in table.stdout and "ATTEMPT" in table.stdout


def test_closed_connection_and_hang_are_retried(tmp_path, agent_process):
    with HttpCapture(["close", ("hang", 10), 200]) as rx:
        port = pick_port()
        cfg = write_config(tmp_path, port, rx.url)
        agent_process(cfg)
        wait_for_port(port)
        assert post(port, [native(1)]).status_code == 200
        wait_for(lambda: rx.delivered(), 20, what="delivery after close and hang")
        assert [e["id"] for e in rx.delivered()] == ["ev-1"] and len(rx.requests) == 3
        rows = orjson.loads(cli(cfg, "deliveries", "hook", "--json").stdout)
        errors = [r["error"] or "" for r in reversed(rows)]
        assert rows[-1]["code"] is None and rows[-2]["code"] is None
        assert any("timeout" in e.lower() or "timed out" in e.lower() for e in errors[:2]), errors


def test_poison_event_is_dead_lettered_and_replayed(tmp_path, agent_process):
    with HttpCapture(reject_if=lambda body: b"POISON" in body) as rx:
        port = pick_port()
        cfg = write_config(tmp_path, port, rx.url)
        agent_process(cfg)
        wait_for_port(port)
        events = [native(i) for i in range(8)]
        events[5]["title"] = "POISON"
        assert post(port, events).status_code == 200
        wait_for(lambda: len(rx.delivered()) >= 7, 20, what="the good events")
        assert [e["id"] for e in rx.delivered()] == [f"ev-{i}" for i in range(8) if i != 5]
        listing = wait_for(lambda: (r := cli(cfg, "dlq", "list", "--json")) and orjson.loads(r.stdout), 10, what="a dead letter")
        assert [(d["sink"], d["event_id"], d["attempts"]) for d in listing] == [("hook", "ev-5", 1)]
        assert listing[0]["reason"].startswith("rejected: HTTP 400") and listing[0]["first_attempt"]
        shown = cli(cfg, "dlq", "show", str(listing[0]["id"]))
        assert "POISON" in shown.stdout and "last error" in shown.stdout
        assert cli(cfg, "dlq", "replay").returncode == 2  # refuses to act on everything without --all
        rx.reject_if = None  # the receiver was fixed
        res = cli(cfg, "dlq", "replay", "--sink", "hook")
        assert res.returncode == 0 and "replayed 1" in res.stdout and "running agent" in res.stdout, res.stdout + res.stderr
        wait_for(lambda: len(rx.delivered()) == 8, 20, what="the replayed event")
        assert rx.delivered()[-1]["id"] == "ev-5"
        assert orjson.loads(cli(cfg, "dlq", "list", "--json").stdout) == []


def test_unhealthy_sink_keeps_spooling_and_enable_resumes_at_once(tmp_path, agent_process):
    with HttpCapture(default=503) as rx:
        port = pick_port()
        cfg = write_config(tmp_path, port, rx.url, retry=", max_attempts: 1", circuit="")
        cfg.write_text(cfg.read_text().replace("failure_threshold: 50, cooldown_s: 1", "failure_threshold: 2, cooldown_s: 600"))
        agent_process(cfg)
        wait_for_port(port)
        assert post(port, [native(1)]).status_code == 200
        assert post(port, [native(2)]).status_code == 200  # arrives while ev-1 is failing or the circuit is open

        def sink_row():
            rows = orjson.loads(cli(cfg, "sinks", "list", "--json").stdout)
            return rows[0] if rows and rows[0]["consecutive_failures"] >= 2 else None

        row = wait_for(sink_row, 15, what="the circuit to open")
        n_before = len(rx.requests)
        assert row["queued"] >= 1 and n_before == 2
        # the circuit is open for 600 s: nothing is tried, nothing is dead-lettered beyond the exhausted first try
        rx.set_script([], default=200)
        res = cli(cfg, "sinks", "enable", "hook")
        assert res.returncode == 0 and "re-enabled" in res.stdout, res.stdout + res.stderr
        wait_for(lambda: rx.delivered(), 15, what="delivery after enable")
        delivered = [e["id"] for e in rx.delivered()]
        dead = [d["event_id"] for d in orjson.loads(cli(cfg, "dlq", "list", "--json").stdout)]
        assert sorted(delivered + dead) == ["ev-1", "ev-2"] and "ev-2" in delivered
        assert orjson.loads(cli(cfg, "sinks", "list", "--json").stdout)[0]["consecutive_failures"] == 0
