"""The http source's answers against the real agent and a real syslog peer (syslog-ng).

The source hands each batch of requests to ``submit_async`` from its event loop and
answers from the commit's callback; these tests hold it to the delivery promise from
outside: every 2xx'd event reaches syslog-ng exactly once (concurrent keep-alive
clients, single events and NDJSON bodies); a full spool answers 503 with Retry-After
and loses nothing once the peer is back; a kill -9 under load loses no 2xx'd event.
"""

from __future__ import annotations

import collections
import json
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest
import requests

from tests.conftest import received_ids, AgentProcess, pick_port, wait_for, wait_for_port
from tests.peers.syslog_ng import SyslogNg, msg_collector

pytestmark = pytest.mark.e2e


def _config(tmp_path: Path, http_port: int, syslog_port: int, spool: str = "") -> Path:
    path = tmp_path / "siemrelay.yaml"
    path.write_text(f"""
agent:
  state_dir: {tmp_path}/state
  shutdown_timeout_s: 5
  spool: {{sync: full{spool}}}
sources:
  web:
    type: http
    address: "127.0.0.1:{http_port}"
    submit_timeout_s: 0.2
    paths:
      /events: {{decoder: json}}
sinks:
  peer:
    type: syslog
    address: "127.0.0.1:{syslog_port}"
    transport: tcp
    framing: octet
    retry: {{jitter: none, initial_backoff_s: 0.1, max_backoff_s: 0.5}}
routes:
  - name: default
    to: [peer]
""")
    return path


class Senders:
    """Keep-alive clients posting events with unique ids until stopped; records what was 2xx'd."""

    def __init__(self, port: int, clients: int, per_body: int = 1, prefix: str = "c", pad: int = 0) -> None:
        """:param pad: characters of description per event (NDJSON bodies of 100 events padded to 700
        make 70 KB bodies, large enough to be prepared in the agent's child)."""
        self.port = port
        self.pad = "p" * pad
        self.prefix = prefix
        self.per_body = per_body
        self.sent: list[str] = []
        self.acked: list[str] = []
        self.statuses: collections.Counter[int] = collections.Counter()
        self.retry_after: list[str] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(clients)]

    def __enter__(self) -> "Senders":
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(30)

    def _run(self, worker: int) -> None:
        session = requests.Session()
        n = 0
        while not self.stop.is_set():
            ids = [f"{self.prefix}{worker}-{n + i}" for i in range(self.per_body)]
            n += self.per_body
            self.sent.extend(ids)
            if self.per_body == 1:
                data, ctype = json.dumps({"id": ids[0], "title": "t", "severity": "high"}), "application/json"
            else:
                data = "".join(json.dumps({"id": i, "title": "t", "severity": "low", "description": self.pad}) + "\n"
                               for i in ids)
                ctype = "application/x-ndjson"
            try:
                r = session.post(f"http://127.0.0.1:{self.port}/events", data=data, headers={"Content-Type": ctype},
                                 timeout=15)
            except requests.RequestException:
                session = requests.Session()
                time.sleep(0.02)
                continue
            self.statuses[r.status_code] += 1
            if r.status_code == 200:
                self.acked.extend(ids)
            elif r.status_code == 503:
                self.retry_after.append(r.headers.get("Retry-After", ""))
                time.sleep(0.05)


@pytest.fixture
def peer(tmp_path: Path) -> Iterator[tuple[SyslogNg, int, Path]]:
    port = pick_port()
    work = tmp_path / "syslog-ng"
    sng = msg_collector(work, port, work / "received.jsonl")
    yield sng, port, work
    sng.stop()


def test_concurrent_clients_every_2xx_event_reaches_syslog_ng_exactly_once(tmp_path: Path, agent_process, peer) -> None:
    sng, syslog_port, work = peer
    sng.start()
    http_port = pick_port()
    agent = agent_process(_config(tmp_path, http_port, syslog_port))
    wait_for_port(http_port, timeout=30)
    with Senders(http_port, 12) as singles, Senders(http_port, 4, per_body=25, prefix="b") as bodies:
        wait_for(lambda: len(singles.acked) >= 1500 and len(bodies.acked) >= 1500, timeout=90,
                 what="events 2xx'd by both kinds of clients")
    acked = singles.acked + bodies.acked
    assert singles.statuses.keys() == {200} and bodies.statuses.keys() == {200}
    wait_for(lambda: len(received_ids(work / "received.jsonl")) >= len(acked), timeout=60, what="every 2xx'd event at syslog-ng")
    assert agent.stop() == 0
    got = collections.Counter(received_ids(work / "received.jsonl"))
    assert set(got) == set(acked)  # nothing lost, nothing forged
    assert max(got.values()) == 1  # nothing sent twice without a crash


def test_large_ndjson_bodies_in_flight_together_reach_syslog_ng_once_in_each_senders_order(
        tmp_path: Path, agent_process, peer) -> None:
    """``workers: auto`` (the default) lets up to 4 large batches wait for their commit at once
    (decoded in the preparing child meanwhile): still every 2xx'd event arrives exactly once, and
    each sender's events in the order it sent them, beside small requests that go one batch at a time."""
    sng, syslog_port, work = peer
    sng.start()
    http_port = pick_port()
    agent = agent_process(_config(tmp_path, http_port, syslog_port))
    wait_for_port(http_port, timeout=30)
    with Senders(http_port, 6, per_body=100, prefix="L", pad=700) as large, Senders(http_port, 4) as singles:
        wait_for(lambda: len(large.acked) >= 6000 and len(singles.acked) >= 300, timeout=120,
                 what="events 2xx'd by both kinds of clients")
    acked = large.acked + singles.acked
    assert large.statuses.keys() == {200} and singles.statuses.keys() == {200}
    wait_for(lambda: len(received_ids(work / "received.jsonl")) >= len(acked), timeout=90,
             what="every 2xx'd event at syslog-ng")
    assert agent.stop() == 0
    order = received_ids(work / "received.jsonl")
    got = collections.Counter(order)
    assert set(got) == set(acked) and max(got.values()) == 1
    per_sender: dict[str, list[int]] = collections.defaultdict(list)
    for eid in order:
        sender, _, n = eid.rpartition("-")
        per_sender[sender].append(int(n))
    assert len(per_sender) == 10 and all(ns == sorted(ns) for ns in per_sender.values())


def test_full_spool_answers_503_with_retry_after_and_loses_nothing(tmp_path: Path, agent_process, peer) -> None:
    sng, syslog_port, work = peer  # the peer is down: the spool fills up
    http_port = pick_port()
    agent_process(_config(tmp_path, http_port, syslog_port, spool=", max_bytes: 300000, resume_ratio: 0.5"))
    wait_for_port(http_port, timeout=30)
    with Senders(http_port, 8) as senders:
        wait_for(lambda: senders.statuses[503] >= 20, timeout=60, what="the source pushing back with 503")
        refused_at = len(senders.acked)
        sng.start()  # the peer comes back: the spool drains and the source takes events again
        wait_for(lambda: len(senders.acked) >= refused_at + 300, timeout=60, what="2xx again once the spool drained")
    assert set(senders.retry_after) == {"5"}  # retry_after_s's default, on every 503
    assert 100 <= refused_at  # events were taken until the quota
    wait_for(lambda: set(senders.acked) <= set(received_ids(work / "received.jsonl")), timeout=60, what="every 2xx'd event at syslog-ng")
    got = collections.Counter(received_ids(work / "received.jsonl"))
    assert set(got) == set(senders.acked) and max(got.values()) == 1  # a 503'd event was not taken


@pytest.mark.parametrize("per_body, pad", [(1, 0), (100, 700)], ids=["single-events", "large-ndjson"])
def test_kill_9_under_load_loses_no_2xx_event(tmp_path: Path, agent_process, peer, per_body: int, pad: int) -> None:
    # large-ndjson: 70 KB bodies, so up to 4 batches wait for their commit at once (workers: auto)
    sng, syslog_port, work = peer
    sng.start()
    http_port = pick_port()
    cfg = _config(tmp_path, http_port, syslog_port)
    agent: AgentProcess = agent_process(cfg)
    wait_for_port(http_port, timeout=30)
    enough = 800 * max(1, per_body // 10)
    with Senders(http_port, 8, per_body=per_body, pad=pad) as senders:
        wait_for(lambda: len(senders.acked) >= enough, timeout=60, what=f"{enough} events 2xx'd")
        agent.kill()  # SIGKILL with batches in flight
        killed_at = len(senders.acked)
        agent = agent_process(cfg)
        wait_for_port(http_port, timeout=30)
        wait_for(lambda: len(senders.acked) >= killed_at + enough // 2, timeout=60, what="more events after the restart")
    wait_for(lambda: set(senders.acked) <= set(received_ids(work / "received.jsonl")), timeout=60, what="every 2xx'd event at syslog-ng")
    assert agent.stop() == 0
    assert set(received_ids(work / "received.jsonl")) <= set(senders.sent)  # nothing forged (a batch in flight at the kill may come twice)
