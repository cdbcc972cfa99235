"""A reload that changes a listening source never refuses or resets a sender.

Senders post in a loop (HTTP with and without keep-alive, syslog over TCP) while the
agent is reloaded three times with a configuration that changes both sources. Every
HTTP answer must be a 2xx, no connection may be refused or reset, and every event
that was acknowledged (HTTP 2xx; a syslog connection the agent read to its end and
closed) must reach the file sink exactly once.
"""

from __future__ import annotations

import collections
import json
import signal
import socket
import textwrap
import threading
from pathlib import Path
from typing import Callable

import pytest
import requests

from tests.conftest import pick_port, wait_for, wait_for_port

RELOADS = 3


ADMIN = "reload-listeners-admin-token"


def _config(tmp_path: Path, http_port: int, syslog_port: int, version: int, admin_port: int = 0) -> str:
    # each version changes both sources (a different body limit): the reload restarts them;
    # with an admin port, the admin API too (a new read-only token)
    admin = (f'admin: {{enabled: true, address: "127.0.0.1:{admin_port}", token: "{ADMIN}", '
             f'read_token: "read-token-{version}"}}') if admin_port else "admin: {enabled: false}"
    return textwrap.dedent(f"""\
        agent:
          state_dir: {tmp_path}/state
          {admin}
        sources:
          web:
            type: http
            address: "127.0.0.1:{http_port}"
            max_body_bytes: {100_000 + version}
            paths: {{/events: {{decoder: json}}}}
          logs:
            type: syslog
            transport: tcp
            framing: lf
            decoder: json
            address: "127.0.0.1:{syslog_port}"
            max_message_bytes: {10_000 + version}
        sinks:
          archive: {{type: file, path: {tmp_path}/archive.jsonl, batch: {{max_wait_s: 0}}}}
        routes:
          - {{name: all, to: [archive]}}
        """)


class Outcomes:
    """What the senders saw: ids acknowledged, and every failure with its id and cause."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.acked: list[str] = []
        self.failures: list[str] = []

    def ok(self, ids: list[str]) -> None:
        with self.lock:
            self.acked.extend(ids)

    def failed(self, what: str) -> None:
        with self.lock:
            self.failures.append(what)

    def summary(self) -> str:
        """How many failed, by sender and cause (the figure the docs quote), out of how many acknowledged."""
        kinds = collections.Counter(f"{f.split('-', 1)[0].rstrip('0123456789')}: {f.split(': ', 2)[1]}" for f in self.failures)
        return f"{len(self.failures)} failed, {len(self.acked)} events acknowledged: {dict(kinds)}"


def _http_sender(port: int, name: str, keep_alive: bool, done: threading.Event, out: Outcomes) -> None:
    session = requests.Session() if keep_alive else None
    n = 0
    while not done.is_set():
        eid = f"{name}-{n}"
        n += 1
        try:
            if session is not None:
                r = session.post(f"http://127.0.0.1:{port}/events", json={"id": eid, "title": eid}, timeout=10)
            else:
                r = requests.post(f"http://127.0.0.1:{port}/events", json={"id": eid, "title": eid}, timeout=10,
                                  headers={"Connection": "close"})
        except requests.RequestException as exc:
            out.failed(f"{eid}: {type(exc).__name__}: {exc}")
            continue
        if 200 <= r.status_code < 300:
            out.ok([eid])
        else:
            out.failed(f"{eid}: HTTP {r.status_code} {r.text[:100]}")


def _syslog_sender(port: int, name: str, done: threading.Event, out: Outcomes) -> None:
    n = 0
    while not done.is_set():
        ids = [f"{name}-{n}-{i}" for i in range(5)]
        n += 1
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(b"".join(json.dumps({"id": i, "title": i}).encode() + b"\n" for i in ids))
                sock.shutdown(socket.SHUT_WR)
                # the agent closes its side only after it read (and submitted) everything up to our FIN
                while sock.recv(1024):
                    pass
        except OSError as exc:
            out.failed(f"{ids[0]}: {type(exc).__name__}: {exc}")
            continue
        out.ok(ids)


def _archived(path: Path) -> collections.Counter[str]:
    if not path.exists():
        return collections.Counter()
    text = path.read_text()
    complete = text[:text.rfind("\n") + 1]  # the last line may still be half written
    return collections.Counter(json.loads(line)["id"] for line in complete.splitlines() if line.strip())


@pytest.mark.e2e
def test_reloads_that_change_listening_sources_refuse_and_reset_nothing(tmp_path: Path,
                                                                         agent_process: Callable[..., object]) -> None:
    http_port, syslog_port = pick_port(), pick_port()
    cfg = tmp_path / "siemrelay.yaml"
    cfg.write_text(_config(tmp_path, http_port, syslog_port, 0))
    agent = agent_process(cfg)
    wait_for_port(http_port, timeout=30)
    wait_for_port(syslog_port, timeout=30)
    done, out = threading.Event(), Outcomes()
    senders = [threading.Thread(target=_http_sender, args=(http_port, f"keep{k}", True, done, out)) for k in range(2)]
    senders += [threading.Thread(target=_http_sender, args=(http_port, f"fresh{k}", False, done, out)) for k in range(2)]
    senders += [threading.Thread(target=_syslog_sender, args=(syslog_port, f"syslog{k}", done, out)) for k in range(2)]
    for t in senders:
        t.start()
    try:
        wait_for(lambda: len(out.acked) > 50, 30, what="the senders to get going")
        for version in range(1, RELOADS + 1):
            before = len(out.acked)
            cfg.write_text(_config(tmp_path, http_port, syslog_port, version))
            agent.send_signal(signal.SIGHUP)  # type: ignore[attr-defined]
            wait_for(lambda: agent.log.count("reload done") >= version, 30,  # type: ignore[attr-defined]
                     what=f"reload {version} to finish")
            wait_for(lambda: len(out.acked) > before + 50, 30, what="the senders to go on after the reload")
    finally:
        done.set()
        for t in senders:
            t.join(30)
    assert out.failures == [], out.summary()
    assert agent.log.count("reload done") == RELOADS  # type: ignore[attr-defined]
    assert "sources +0 -0 ~2" in agent.log  # type: ignore[attr-defined]  # both sources were restarted
    archive = tmp_path / "archive.jsonl"
    acked = set(out.acked)
    wait_for(lambda: acked <= set(_archived(archive)), 30, what="every acknowledged event in the archive")
    counts = _archived(archive)
    assert sorted(i for i in acked if counts[i] != 1) == []


def _admin_poller(port: int, keep_alive: bool, done: threading.Event, out: Outcomes) -> None:
    session = requests.Session() if keep_alive else None
    headers = {"Authorization": f"Bearer {ADMIN}"} if keep_alive else {"Authorization": f"Bearer {ADMIN}", "Connection": "close"}
    n = 0
    while not done.is_set():
        n += 1
        try:
            r = (session or requests).get(f"http://127.0.0.1:{port}/api/v1/sinks", headers=headers, timeout=10)
        except requests.RequestException as exc:
            out.failed(f"admin-{n}: {type(exc).__name__}: {exc}")
            continue
        if r.status_code == 200:
            out.ok([f"admin-{keep_alive}-{n}"])
        else:
            out.failed(f"admin-{n}: HTTP {r.status_code} {r.text[:100]}")


@pytest.mark.e2e
def test_reloads_that_change_the_admin_api_refuse_no_client_and_retire_the_old_tokens(
        tmp_path: Path, agent_process: Callable[..., object]) -> None:
    http_port, syslog_port, admin_port = pick_port(), pick_port(), pick_port()
    cfg = tmp_path / "siemrelay.yaml"
    cfg.write_text(_config(tmp_path, http_port, syslog_port, 0, admin_port))
    agent = agent_process(cfg)
    wait_for_port(admin_port, timeout=30)
    stale = requests.Session()  # a client holding a keep-alive connection with the first read-only token
    assert stale.get(f"http://127.0.0.1:{admin_port}/api/v1/sinks", headers={"Authorization": "Bearer read-token-0"},
                     timeout=10).status_code == 200
    done, out = threading.Event(), Outcomes()
    pollers = [threading.Thread(target=_admin_poller, args=(admin_port, keep, done, out)) for keep in (True, False)]
    for t in pollers:
        t.start()
    try:
        for version in range(1, RELOADS + 1):
            before = len(out.acked)
            cfg.write_text(_config(tmp_path, http_port, syslog_port, version, admin_port))
            agent.send_signal(signal.SIGHUP)  # type: ignore[attr-defined]
            wait_for(lambda: agent.log.count("reload done") >= version, 30,  # type: ignore[attr-defined]
                     what=f"reload {version} to finish")
            wait_for(lambda: len(out.acked) > before + 20, 30, what="the pollers to go on after the reload")
    finally:
        done.set()
        for t in pollers:
            t.join(30)
    assert out.failures == [], out.summary()
    assert agent.log.count("admin API on") == RELOADS + 1  # type: ignore[attr-defined]  # restarted by each reload
    # the old server is gone with its connections: the replaced token is refused, the current one works
    refused = stale.get(f"http://127.0.0.1:{admin_port}/api/v1/sinks", headers={"Authorization": "Bearer read-token-0"},
                        timeout=10)
    assert refused.status_code == 401
    assert stale.get(f"http://127.0.0.1:{admin_port}/api/v1/sinks", timeout=10,
                     headers={"Authorization": f"Bearer read-token-{RELOADS}"}).status_code == 200


def _otlp_config(tmp_path: Path, port: int, version: int) -> str:
    # each version rotates the second bearer token: the reload restarts the source
    return textwrap.dedent(f"""\
        agent:
          state_dir: {tmp_path}/state
        sources:
          otel: {{type: otlp, address: "127.0.0.1:{port}", bearer: [stable-token, rotating-{version}]}}
        sinks:
          archive: {{type: file, path: {tmp_path}/archive.jsonl, batch: {{max_wait_s: 0}}}}
        routes:
          - {{name: all, to: [archive]}}
        """)


def _otlp_body(text: str) -> dict[str, object]:
    return {"resourceLogs": [{"scopeLogs": [{"logRecords": [{"body": {"stringValue": text}}]}]}]}


def _otlp_sender(port: int, keep_alive: bool, done: threading.Event, out: Outcomes) -> None:
    session = requests.Session() if keep_alive else None
    headers = {"Authorization": "Bearer stable-token"}
    if not keep_alive:
        headers["Connection"] = "close"
    n = 0
    while not done.is_set():
        n += 1
        text = f"otlp-{keep_alive}-{n}"
        try:
            r = (session or requests).post(f"http://127.0.0.1:{port}/v1/logs", json=_otlp_body(text), headers=headers,
                                           timeout=10)
        except requests.RequestException as exc:
            out.failed(f"{text}: {type(exc).__name__}: {exc}")
            continue
        if r.status_code == 200:
            out.ok([text])
        else:
            out.failed(f"{text}: HTTP {r.status_code} {r.text[:100]}")


@pytest.mark.e2e
def test_reloads_that_change_the_otlp_source_refuse_nothing_and_retire_the_old_token(
        tmp_path: Path, agent_process: Callable[..., object]) -> None:
    port = pick_port()
    cfg = tmp_path / "siemrelay.yaml"
    cfg.write_text(_otlp_config(tmp_path, port, 0))
    agent = agent_process(cfg)
    wait_for_port(port, timeout=30)
    url = f"http://127.0.0.1:{port}/v1/logs"
    stale = requests.Session()  # an exporter holding a keep-alive connection with the token the reloads rotate away
    assert stale.post(url, json=_otlp_body("first"), headers={"Authorization": "Bearer rotating-0"},
                      timeout=10).status_code == 200
    done, out = threading.Event(), Outcomes()
    senders = [threading.Thread(target=_otlp_sender, args=(port, keep, done, out)) for keep in (True, False)]
    for t in senders:
        t.start()
    try:
        for version in range(1, RELOADS + 1):
            before = len(out.acked)
            cfg.write_text(_otlp_config(tmp_path, port, version))
            agent.send_signal(signal.SIGHUP)  # type: ignore[attr-defined]
            wait_for(lambda: agent.log.count("reload done") >= version, 30,  # type: ignore[attr-defined]
                     what=f"reload {version} to finish")
            wait_for(lambda: len(out.acked) > before + 20, 30, what="the senders to go on after the reload")
    finally:
        done.set()
        for t in senders:
            t.join(30)
    assert out.failures == [], out.summary()
    assert "sources +0 -0 ~1" in agent.log  # type: ignore[attr-defined]
    # the stopped instance closed its connections: the rotated-away token is refused on the same session
    assert stale.post(url, json=_otlp_body("late"), headers={"Authorization": "Bearer rotating-0"},
                      timeout=10).status_code == 401
    assert stale.post(url, json=_otlp_body("late"), headers={"Authorization": f"Bearer rotating-{RELOADS}"},
                      timeout=10).status_code == 200
    archive = tmp_path / "archive.jsonl"
    wait_for(lambda: archive.exists() and len(archive.read_text().splitlines()) >= len(out.acked) + 2, 30,
             what="every acknowledged record in the archive")
