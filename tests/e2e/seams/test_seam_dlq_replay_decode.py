"""``siemrelay dlq replay`` of a decode dead letter says it cannot, and exits 1.

The audit posted a malformed body (a decode dead letter), ran ``siemrelay dlq replay``
on it and got "replayed 0" with exit 0, while nothing happened. Driven as a user: the
agent runs as a subprocess, the CLI as another; the CLI must refuse with a message
that says what to do, exit 1, and keep the dead letter. Sink dead letters in the same
command are still replayed.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import pick_port, run_cli, wait_for, wait_for_port

pytestmark = pytest.mark.e2e


def _dead(config: Path) -> list[dict[str, Any]]:
    import json

    res = run_cli("dlq", "list", "--json", "-c", str(config))
    assert res.returncode == 0, res.stderr
    return list(json.loads(res.stdout))


@pytest.mark.parametrize("how", [["ID"], ["--all"]])
def test_replaying_a_decode_dead_letter_is_refused_with_exit_1_and_kept(tmp_path: Path, agent_process: Any,
                                                                         how: list[str]) -> None:
    port = pick_port()
    config = tmp_path / "siemrelay.yaml"
    config.write_text(textwrap.dedent(f"""\
        agent:
          state_dir: {tmp_path}/state
        sources:
          hooks: {{type: http, address: "127.0.0.1:{port}", paths: {{/events: {{decoder: json}}}}}}
        sinks:
          archive: {{type: file, path: {tmp_path}/out.jsonl}}
        routes:
          - {{name: default, to: [archive]}}
        """))
    agent_process(config)
    wait_for_port(port, timeout=30)
    r = requests.post(f"http://127.0.0.1:{port}/events", data=b'{"id": "broken', timeout=10,
                      headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    rows = wait_for(lambda: _dead(config), 20, what="the decode dead letter")
    assert rows[0]["sink"] is None and rows[0]["input"] == "hooks"
    args = [str(rows[0]["id"]) if a == "ID" else a for a in how]
    res = run_cli("dlq", "replay", *args, "-c", str(config))
    assert res.returncode == 1, (res.stdout, res.stderr)
    assert "could not be decoded" in res.stderr and "siemrelay dlq show" in res.stderr
    assert [d["id"] for d in _dead(config)] == [rows[0]["id"]]


def test_the_admin_api_names_the_decode_dead_letters_it_kept(tmp_path: Path, agent_process: Any) -> None:
    port, admin_port = pick_port(), pick_port()
    token = "replay-admin-token-0123456789"
    config = tmp_path / "siemrelay.yaml"
    config.write_text(textwrap.dedent(f"""\
        agent:
          state_dir: {tmp_path}/state
          admin: {{enabled: true, address: "127.0.0.1:{admin_port}", token: "{token}"}}
        sources:
          hooks: {{type: http, address: "127.0.0.1:{port}", paths: {{/events: {{decoder: json}}}}}}
        sinks:
          archive: {{type: file, path: {tmp_path}/out.jsonl}}
        routes:
          - {{name: default, to: [archive]}}
        """))
    agent_process(config)
    wait_for_port(port, timeout=30)
    wait_for_port(admin_port, timeout=30)
    requests.post(f"http://127.0.0.1:{port}/events", data=b"[1,", timeout=10, headers={"Content-Type": "application/json"})
    rows = wait_for(lambda: _dead(config), 20, what="the decode dead letter")
    r = requests.post(f"http://127.0.0.1:{admin_port}/api/v1/dlq/replay", json={"ids": [rows[0]["id"]]}, timeout=10,
                      headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["replayed"] == 0
    assert [n["id"] for n in body["not_replayed"]] == [rows[0]["id"]]
    assert "could not be decoded" in body["not_replayed"][0]["reason"]
    assert [d["id"] for d in _dead(config)] == [rows[0]["id"]]
