"""The admin API answers while sinks deliver as fast as they can, from the moment it listens.

Every commit of a source makes a spool segment that two file sinks pass within
milliseconds, and the spool deletes it then. ``/api/v1/sinks`` reads each queue's
backlog meanwhile; it once read it in two statements a delete could fall between and
answered 500 (11 to 16 of 600 requests here). The deterministic version of this
race is tests/unit/agent/admin/test_admin_spool_snapshot.py.
"""

from __future__ import annotations

import collections
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import pick_port, wait_for_port

TOKEN = "admin-while-delivering-token"
ANSWERS = 300


@pytest.mark.e2e
def test_sinks_view_never_fails_while_segments_are_delivered_and_deleted(tmp_path: Path, agent_process: Any) -> None:
    http_port, admin_port = pick_port(), pick_port()
    config = tmp_path / "siemrelay.yaml"
    config.write_text(textwrap.dedent(f"""\
        agent:
          state_dir: {tmp_path}/state
          admin: {{enabled: true, address: "127.0.0.1:{admin_port}", token: "{TOKEN}"}}
        sources:
          web: {{type: http, address: "127.0.0.1:{http_port}", paths: {{/events: {{decoder: json}}}}}}
        sinks:
          a: {{type: file, path: {tmp_path}/a.jsonl, batch: {{max_wait_s: 0}}}}
          b: {{type: file, path: {tmp_path}/b.jsonl, batch: {{max_wait_s: 0}}}}
        routes:
          - {{name: all, to: [a, b]}}
        """))
    agent_process(config)
    wait_for_port(admin_port, timeout=30)  # polled from the first moment it listens
    wait_for_port(http_port, timeout=30)
    done = threading.Event()
    answers: collections.Counter[int] = collections.Counter()
    problems: list[str] = []

    def post(k: int) -> None:
        session, n = requests.Session(), 0
        while not done.is_set():
            n += 1
            r = session.post(f"http://127.0.0.1:{http_port}/events", json={"id": f"{k}-{n}", "title": "t"}, timeout=10)
            assert r.status_code == 200, r.text

    posters = [threading.Thread(target=post, args=(k,), daemon=True) for k in range(3)]
    for t in posters:
        t.start()
    session = requests.Session()
    try:
        while sum(answers.values()) < ANSWERS:
            r = session.get(f"http://127.0.0.1:{admin_port}/api/v1/sinks", headers={"Authorization": f"Bearer {TOKEN}"},
                            timeout=10)
            answers[r.status_code] += 1
            if r.status_code != 200:
                problems.append(r.text[:200])
    finally:
        done.set()
        for t in posters:
            t.join(15)
    assert problems == [], dict(answers)
