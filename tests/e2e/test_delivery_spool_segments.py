"""The segment spool through the running agent: a kill -9 between the commit of a
segment and the sink's acknowledgement loses nothing and keeps order, and a spool
written by the previous version (one row per event, schema 2) is opened and drained."""

from __future__ import annotations

import json
import shutil
import signal
from pathlib import Path
from typing import Any, Callable

import orjson
import pytest
import requests

from tests.conftest import pick_port, run_cli, wait_for, wait_for_port
from tests.peers.http_capture import HttpCapture

pytestmark = pytest.mark.e2e

DATA = Path(__file__).parent / "data"


def _file_ids(path: Path) -> list[str]:
    if not path.exists():
        return []
    out = []
    for line in path.read_bytes().splitlines():
        try:
            out.append(orjson.loads(line)["id"])
        except ValueError:
            pass  # a line being written
    return out


def _first_seen(ids: list[str]) -> list[str]:
    """``ids`` without repeats (at-least-once may re-send a batch after the kill), in first-seen order."""
    seen: set[str] = set()
    out = []
    for i in ids:
        if i not in seen:
            seen.add(i)
            out.append(i)
    return out


def _queued(cfg: Path) -> dict[str, int]:
    rows = json.loads(run_cli("sinks", "-c", str(cfg), "list", "--json").stdout)
    return {r["name"]: r["queued"] for r in rows}


def test_kill_9_between_segment_commit_and_sink_ack_loses_nothing_and_keeps_order(
        tmp_path: Path, write_config: Callable[[str], Path], agent_process: Any) -> None:
    n = 2500
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "fw.jsonl").write_text("".join(json.dumps({"id": f"s{i}", "title": f"line {i}"}) + "\n" for i in range(n)))
    # three batches of 150 accepted (the cursor stops inside a segment of 500 lines or more), then the peer fails
    with HttpCapture([200, 200, 200], default=503) as rx:
        cfg = write_config(f"""
            agent: {{state_dir: {tmp_path}/state, shutdown_timeout_s: 2, spool: {{sync: full}}}}
            sources:
              tail: {{type: file, paths: ["{logs}/*.jsonl"], decoder: json, batch_lines: 500}}
            sinks:
              hook:
                type: webhook
                url: "{rx.url}"
                format: ndjson
                batch: {{max_events: 150, max_wait_s: 0.05}}
                retry: {{jitter: none, initial_backoff_s: 0.1, max_backoff_s: 0.5}}
                circuit_breaker: {{failure_threshold: 3, cooldown_s: 0.5}}  # open: the batch waits, never dead-lettered
              archive: {{type: file, path: {tmp_path}/archive.jsonl, fsync: false}}
            routes:
              - {{name: default, to: [hook, archive]}}
            """)
        agent = agent_process(cfg)
        # every segment is committed (the archive has all of it) while the hook acknowledged 450 and is failing
        wait_for(lambda: len(set(_file_ids(tmp_path / "archive.jsonl"))) == n, 60, what="every line spooled and archived")
        wait_for(lambda: 503 in rx.statuses(), 30, what="the hook to be failing")
        agent.send_signal(signal.SIGKILL)
        agent.wait(10)
        assert [e["id"] for e in rx.delivered()] == [f"s{i}" for i in range(450)]  # once each, in order
        assert _queued(cfg)["hook"] >= n - 450  # what the hook had not acknowledged is still spooled
        rx.set_script([], default=200)  # the peer recovers
        agent2 = agent_process(cfg)
        wait_for(lambda: len(set(e["id"] for e in rx.delivered())) == n, 60, what="every line at the hook")
        assert _first_seen([e["id"] for e in rx.delivered()]) == [f"s{i}" for i in range(n)]  # in file order
        assert _first_seen(_file_ids(tmp_path / "archive.jsonl")) == [f"s{i}" for i in range(n)]
        wait_for(lambda: _queued(cfg) == {"hook": 0, "archive": 0}, 20, what="empty queues")
        assert agent2.stop() == 0


def test_a_spool_written_by_the_previous_version_is_opened_and_drained(
        tmp_path: Path, write_config: Callable[[str], Path], agent_process: Any) -> None:
    # tests/e2e/data/spool-v2.db: written by the one-row-per-event spool (schema 2): 120 events,
    # every third for one sink only; hook acknowledged up to 40 (retrying the batch at 41 after
    # 2 attempts), archive up to 90; one decode error in dead letters
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    shutil.copy(DATA / "spool-v2.db", state / "spool.db")
    port = pick_port()
    with HttpCapture() as rx:
        cfg = write_config(f"""
            agent: {{state_dir: {state}}}
            sources:
              web: {{type: http, address: "127.0.0.1:{port}"}}
            sinks:
              hook:
                type: webhook
                url: "{rx.url}"
                format: ndjson
                batch: {{max_events: 25, max_wait_s: 0.05}}
              archive: {{type: file, path: {tmp_path}/archive.jsonl, fsync: false}}
            routes:
              - {{name: default, to: [hook, archive]}}
            """)
        agent = agent_process(cfg)
        wait_for_port(port)

        def for_sink(i: int, hook: bool) -> bool:
            return bool(i % 3) or (i % 2 == 1) == hook

        want_hook = [f"v2-{i}" for i in range(41, 121) if for_sink(i, True)]
        want_archive = [f"v2-{i}" for i in range(91, 121) if for_sink(i, False)]
        wait_for(lambda: len(rx.delivered()) >= len(want_hook), 30, what="the old backlog at the hook")
        wait_for(lambda: len(_file_ids(tmp_path / "archive.jsonl")) >= len(want_archive), 30, what="the old backlog archived")
        assert [e["id"] for e in rx.delivered()] == want_hook
        assert _file_ids(tmp_path / "archive.jsonl") == want_archive
        assert rx.delivered()[0]["raw"] == {"n": 41}  # the stored bytes, whole
        wait_for(lambda: _queued(cfg) == {"hook": 0, "archive": 0}, 20, what="empty queues")
        # the new segment spool keeps taking events after the migration

        r = requests.post(f"http://127.0.0.1:{port}/events", json={"id": "after-1", "title": "new"}, timeout=10)
        assert r.status_code == 200
        wait_for(lambda: "after-1" in [e["id"] for e in rx.delivered()], 20, what="a new event after the migration")
        assert agent.stop() == 0
    listed = run_cli("dlq", "-c", str(cfg), "list", "--json")
    assert [d["reason"] for d in json.loads(listed.stdout)] == ["json: bad"]  # the old dead letter survived
