"""Fault matrix of the ``nats`` sink, through the real delivery worker, against a real
``nats-server -js``: server down then up (refused), no stream stores the subject yet
(JetStream "no responders", retried) then created, and an event larger than the
stream's ``max_msg_size`` (JetStream 400, err_code 10054: only that event is
dead-lettered, and history shows both codes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from agent.testing import make_event
from tests.conftest import pick_port
from tests.peers.nats import NatsServer, js_run
from tests.peers.pipeline import HookClock, Pipeline

pytestmark = pytest.mark.e2e

TIMES = 3


def config(url: str, extra: str = "") -> str:
    return f"""
agent: {{state_dir: "{{state_dir}}"}}
sinks:
  out:
    type: nats
    url: "{url}"
    subject: siem.events
    stream: EVENTS
    connect_timeout_s: 0.5
{extra}
    batch: {{max_events: 4, max_wait_s: 0}}
    retry: {{jitter: none, initial_backoff_s: 1, multiplier: 2, max_backoff_s: 4, timeout_s: 5}}
    circuit_breaker: {{failure_threshold: 2, cooldown_s: 5}}
routes:
  - {{name: all, to: [out]}}
"""


def stored_titles(url: str) -> list[str]:
    async def read(js: Any, nc: Any) -> list[str]:
        info = await js.stream_info("EVENTS")
        out = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await js.get_msg("EVENTS", seq)
            out.append(orjson.loads(msg.data)["title"])
        return out
    return list(js_run(url, read))


def events(n: int) -> list[Any]:
    return [make_event(title=f"seam-{i:03d}", id=f"ev-{i:03d}") for i in range(n)]


def test_server_down_then_up(tmp_path: Path) -> None:
    port = pick_port()
    clock = HookClock()
    late: list[NatsServer] = []

    def bring_up() -> None:
        if len(clock.sleeps) == TIMES and not late:
            late.append(NatsServer(tmp_path / "late", port=port).start())
    clock.hook = bring_up
    sent = events(6)
    try:
        with Pipeline(tmp_path, config(f"nats://127.0.0.1:{port}", "    create_stream: {}"), clock=clock) as p:
            p.submit(sent)
            worker = p.run()
            assert p.dead_letters() == []
            assert worker.circuit.opened_count >= 1 and worker.circuit.state == "closed"
        assert stored_titles(late[0].url) == [e.title for e in sent]
    finally:
        for s in late:
            s.stop()


def test_no_stream_yet_is_retried_until_it_exists(tmp_path: Path) -> None:
    clock = HookClock()
    with NatsServer(tmp_path / "js") as server:
        def create_stream() -> None:
            if len(clock.sleeps) == TIMES:
                async def add(js: Any, nc: Any) -> None:
                    await js.add_stream(name="EVENTS", subjects=["siem.events"])
                js_run(server.url, add)
        clock.hook = create_stream
        sent = events(6)
        with Pipeline(tmp_path, config(server.url), clock=clock) as p:
            p.submit(sent)
            worker = p.run()
            assert p.dead_letters() == []
            assert worker.circuit.opened_count >= 1 and worker.circuit.state == "closed"
        assert stored_titles(server.url) == [e.title for e in sent]


def test_an_event_too_large_is_the_only_dead_letter_and_history_shows_both_codes(tmp_path: Path) -> None:
    with NatsServer(tmp_path / "js") as server:
        sent = events(6)
        sent[2] = make_event(title="seam-big", id="ev-big", description="x" * 5000)
        with Pipeline(tmp_path, config(server.url, "    create_stream: {max_msg_bytes: 2048}")) as p:
            p.submit(sent)
            worker = p.run()
            assert [d.event_id for d in p.dead_letters()] == ["ev-big"]
            refused = [h for h in p.history() if h["status"] == "reject"]
            assert refused and refused[0]["code"] == 400 and "10054" in refused[0]["error"]
            assert worker.circuit.opened_count == 0
        assert stored_titles(server.url) == [e.title for i, e in enumerate(sent) if i != 2]
