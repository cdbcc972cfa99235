"""The agent as users run it: a subprocess, real sockets on loopback, SIGKILL and SIGTERM."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import orjson
import pytest
import requests

from tests.conftest import ROOT, pick_port, run_cli, wait_for, wait_for_port

pytestmark = pytest.mark.e2e


def _config(tmp_path: Path, port: int, **extra: str) -> Path:
    text = f"""
agent:
  state_dir: {tmp_path}/state
  shutdown_timeout_s: 5
sources:
  web:
    type: http
    address: "127.0.0.1:{port}"
    paths:
      /events: {{decoder: json}}
  files:
    type: file
    paths: ["{tmp_path}/in/*.jsonl"]
sinks:
  archive:
    type: file
    path: {tmp_path}/out/events.jsonl
routes:
  - name: default
    to: [archive]
"""
    path = tmp_path / "siemrelay.yaml"
    path.write_text(text)
    (tmp_path / "in").mkdir(exist_ok=True)
    return path


def _ids_in(path: Path) -> list[str]:
    ids = []
    for p in sorted(path.parent.glob(path.name + "*")):
        for line in p.read_bytes().splitlines():
            if line.strip():
                ids.append(orjson.loads(line)["id"])
    return ids


def test_sigkill_mid_stream_loses_no_acknowledged_event(tmp_path, agent_process):
    port = pick_port()
    cfg = _config(tmp_path, port)
    agent = agent_process(cfg)
    wait_for_port(port)
    acked: list[str] = []
    stop = threading.Event()

    def sender(worker: int) -> None:
        session = requests.Session()
        n = 0
        while not stop.is_set():
            n += 1
            eid = f"w{worker}-{n}"
            try:
                r = session.post(f"http://127.0.0.1:{port}/events", json={"id": eid, "title": "t", "severity": "high"}, timeout=5)
            except requests.RequestException:
                time.sleep(0.02)
                continue
            if r.status_code == 200:
                acked.append(eid)

    threads = [threading.Thread(target=sender, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    try:
        wait_for(lambda: len(acked) >= 400, timeout=60, what="400 acknowledged events")
        agent.kill()  # SIGKILL in the middle of the stream
        killed_at = len(acked)
        time.sleep(0.3)
        agent2 = agent_process(cfg)
        wait_for_port(port, timeout=20)
        wait_for(lambda: len(acked) >= killed_at + 200, timeout=60, what="more events after the restart")
    finally:
        stop.set()
        for t in threads:
            t.join()
    out = tmp_path / "out" / "events.jsonl"
    wait_for(lambda: set(acked) <= set(_ids_in(out)), timeout=30, what="every acknowledged event in the file sink")
    assert agent2.stop() == 0
    missing = set(acked) - set(_ids_in(out))
    assert not missing
    assert len(acked) >= killed_at + 200


def test_sigterm_drains_and_exits_zero_within_ten_seconds(tmp_path, agent_process):
    port = pick_port()
    cfg = _config(tmp_path, port)
    agent = agent_process(cfg)
    wait_for_port(port)
    lines = b"".join(orjson.dumps({"id": f"line-{i}", "title": "from file"}) + b"\n" for i in range(500))
    (tmp_path / "in" / "a.jsonl").write_bytes(lines)
    batch = [{"id": f"arr-{i}", "title": "x"} for i in range(50)]
    r = requests.post(f"http://127.0.0.1:{port}/events", json=batch, timeout=5)
    assert r.status_code == 200 and r.json()["accepted"] == 50
    out = tmp_path / "out" / "events.jsonl"
    wait_for(lambda: len(_ids_in(out)) >= 550 if out.exists() else False, timeout=30, what="550 events written")
    started = time.monotonic()
    assert agent.stop(signal.SIGTERM) == 0
    assert time.monotonic() - started < 10
    assert '"stopped"' in agent.log
    ids = _ids_in(out)
    assert {f"line-{i}" for i in range(500)} | {f"arr-{i}" for i in range(50)} <= set(ids)


def test_tail_restart_neither_skips_nor_rereads(tmp_path, agent_process):
    port = pick_port()
    cfg = _config(tmp_path, port)
    src = tmp_path / "in" / "b.jsonl"
    src.write_bytes(b"".join(orjson.dumps({"id": f"first-{i}"}) + b"\n" for i in range(100)))
    agent = agent_process(cfg)
    out = tmp_path / "out" / "events.jsonl"
    wait_for(lambda: out.exists() and len(_ids_in(out)) >= 100, timeout=30, what="first 100 lines")
    assert agent.stop() == 0
    with src.open("ab") as f:
        f.write(b"".join(orjson.dumps({"id": f"second-{i}"}) + b"\n" for i in range(100)))
    agent = agent_process(cfg)
    wait_for(lambda: len(_ids_in(out)) >= 200, timeout=30, what="the next 100 lines")
    assert agent.stop() == 0
    ids = _ids_in(out)
    assert sorted(ids) == sorted([f"first-{i}" for i in range(100)] + [f"second-{i}" for i in range(100)])


def test_http_refusals(tmp_path, agent_process):
    port = pick_port()
    agent_process(_config(tmp_path, port))
    wait_for_port(port)
    base = f"http://127.0.0.1:{port}"
    r = requests.post(f"{base}/events", data=b'{"id": 1,,}', timeout=5)
    assert r.status_code == 400 and "column" in r.json()["error"]
    assert requests.post(f"{base}/nowhere", json={}, timeout=5).status_code == 404
    assert requests.get(f"{base}/events", timeout=5).status_code == 405
    # the malformed body is kept as a dead letter, not dropped
    out = run_cli("dlq", "list", "-c", str(tmp_path / "siemrelay.yaml"), cwd=tmp_path)
    assert "malformed JSON" in out.stdout, out.stderr


@pytest.mark.parametrize("body,needle", [
    ("agent: [oops\n", "invalid YAML"),
    ("agent:\n  state_dri: x\n", "did you mean 'state_dir'"),
    ("sinks:\n  a: {type: file, path: /tmp/x, keep: many}\n", "expected an integer, found string 'many'"),
    ("sinks:\n  a: {type: file, path: \"${SIEMRELAY_TEST_UNSET_VAR}\"}\n", "SIEMRELAY_TEST_UNSET_VAR is not set"),
    ("sinks:\n  a: {type: stdout}\nroutes:\n  - {name: r, to: [b]}\n", "sink 'b', which is not defined"),
    ("agent:\n  state_dir: /etc/hostname/state\n", "not a directory"),
])
def test_config_errors_exit_2_with_one_paragraph_and_no_traceback(tmp_path, body, needle):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(body)
    for command in ("validate", "run"):
        res = run_cli(command, "-c", str(cfg), cwd=tmp_path, timeout=30)
        assert res.returncode == 2, (command, res.stdout, res.stderr)
        assert needle in res.stderr
        assert "Traceback" not in res.stderr
        assert f"{cfg}:" in res.stderr or "state directory" in res.stderr


def test_port_in_use_is_a_clear_start_up_error(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        res = run_cli("run", "-c", str(_config(tmp_path, port)), cwd=tmp_path, timeout=30)
    assert res.returncode == 2
    assert "source 'web' (http) cannot start" in res.stderr and "in use" in res.stderr
    assert "Traceback" not in res.stderr


def test_corrupt_spool_is_refused_then_kept_aside(tmp_path, agent_process):
    port = pick_port()
    cfg = _config(tmp_path, port)
    (tmp_path / "state").mkdir()
    spool = tmp_path / "state" / "spool.db"
    spool.write_bytes(b"this is not a sqlite database at all" * 100)
    res = run_cli("run", "-c", str(cfg), cwd=tmp_path, timeout=30)
    assert res.returncode == 2
    assert "cannot be read" in res.stderr and "--reset-spool" in res.stderr
    assert spool.read_bytes().startswith(b"this is not a sqlite")  # untouched
    agent = agent_process(cfg, args=("--reset-spool",))
    wait_for_port(port)
    aside = list((tmp_path / "state").glob("spool.db.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes().startswith(b"this is not a sqlite")
    assert agent.stop() == 0


def test_embedded_default_config_runs_without_external_services(tmp_path, agent_process):
    # the shipped file as it is, but on free ports: 8080 and 8081 may be taken on the machine
    # that runs the suite, and a test must not depend on that
    shipped = (ROOT / "conf" / "siemrelay.yaml").read_text()
    assert shipped.count('"127.0.0.1:8080"') == 1 and shipped.count('"127.0.0.1:8081"') == 1
    port, admin_port = pick_port(), pick_port()
    (tmp_path / "siemrelay.yaml").write_text(shipped.replace('"127.0.0.1:8080"', f'"127.0.0.1:{port}"')
                                             .replace('"127.0.0.1:8081"', f'"127.0.0.1:{admin_port}"'))
    assert run_cli("validate", "-c", "siemrelay.yaml", cwd=tmp_path).returncode == 0
    agent = agent_process(tmp_path / "siemrelay.yaml")
    wait_for_port(port)
    wait_for_port(admin_port)
    seed = ROOT / "tests" / "fixtures" / "tour-finding.json"
    r = requests.post(f"http://127.0.0.1:{port}/events", data=seed.read_bytes(), timeout=5)
    assert r.status_code == 200
    out = tmp_path / "var" / "out" / "events.jsonl"
    wait_for(lambda: out.exists() and out.stat().st_size > 0, what="the event in ./var/out/events.jsonl")
    assert agent.stop() == 0
    ev = orjson.loads(out.read_bytes().splitlines()[0])
    assert ev["raw"] == orjson.loads(seed.read_bytes())


def _stuck_sink_config(tmp_path: Path, port: int, peer_port: int, shutdown_timeout_s: float) -> Path:
    """A webhook sink whose peer accepts the connection and never answers."""
    path = tmp_path / "stuck.yaml"
    path.write_text(f"""
agent:
  state_dir: {tmp_path}/state
  shutdown_timeout_s: {shutdown_timeout_s}
sources:
  web: {{type: http, address: "127.0.0.1:{port}"}}
sinks:
  hook:
    type: webhook
    url: http://127.0.0.1:{peer_port}/in
    retry: {{timeout_s: 30}}
routes:
  - name: default
    to: [hook]
""")
    return path


def _silent_peer() -> tuple[object, list]:
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted: list = []

    def accept() -> None:
        try:
            while True:
                accepted.append(server.accept()[0])
        except OSError:
            pass

    threading.Thread(target=accept, daemon=True).start()
    return server, accepted


@pytest.mark.parametrize("second_signal", [False, True])
def test_stop_with_a_stuck_sink_exits_and_a_second_signal_forces_exit(tmp_path, agent_process, second_signal):
    server, accepted = _silent_peer()
    try:
        port = pick_port()
        # with a long drain the first signal alone would wait; the second one must cut it short
        cfg = _stuck_sink_config(tmp_path, port, server.getsockname()[1], 60 if second_signal else 1)
        agent = agent_process(cfg)
        wait_for_port(port)
        assert requests.post(f"http://127.0.0.1:{port}/events", json={"id": "in-flight"}, timeout=5).status_code == 200
        wait_for(lambda: accepted, timeout=10, what="the sink to connect to its silent peer")
        agent.send_signal(signal.SIGTERM)
        if second_signal:
            wait_for(lambda: "stopping: sources first" in agent.log, timeout=10, what="the drain to begin")
            agent.send_signal(signal.SIGINT)
            assert agent.wait(20) == 1
            assert "second signal: forcing exit" in agent.log
        else:
            assert agent.wait(20) == 0
            assert "did not finish in time; its in-flight batch stays in the spool" in agent.log
        assert "Traceback" not in agent.log
    finally:
        server.close()
        for conn in accepted:
            conn.close()
