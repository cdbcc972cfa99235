"""`siemrelay sinks`, `send-test`, `tap` and `top` against a running agent, over its admin API.

No token is configured: the agent generates one into its state directory and the
commands find it there through the same configuration file, as on a real host.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import requests

from tests.conftest import ROOT, pick_port, run_cli, wait_for, wait_for_port


def _config(tmp_path: Path, admin_port: int, hook_port: int) -> Path:
    path = tmp_path / "siemrelay.yaml"
    path.write_text(textwrap.dedent(f"""\
        agent:
          state_dir: {tmp_path}/state
          admin: {{enabled: true, address: "127.0.0.1:{admin_port}"}}
        sources:
          hooks: {{type: http, address: "127.0.0.1:{hook_port}", paths: {{/events: {{decoder: json}}}}}}
          other: {{type: http, address: "127.0.0.1:{pick_port()}", paths: {{/events: {{decoder: json}}}}}}
        sinks:
          archive: {{type: file, path: {tmp_path}/out.jsonl}}
          spare: {{type: file, path: {tmp_path}/spare.jsonl}}
        routes:
          - {{name: spare-only, when: {{title: spare}}, to: [spare]}}
          - {{name: default, to: [archive]}}
        """))
    return path


@pytest.mark.e2e
def test_ops_commands_against_a_running_agent(tmp_path: Path, agent_process):  # type: ignore[no-untyped-def]
    admin_port, hook_port = pick_port(), pick_port()
    config = _config(tmp_path, admin_port, hook_port)
    agent = agent_process(config)
    wait_for_port(admin_port)
    wait_for_port(hook_port)
    token_file = tmp_path / "state" / "admin.token"
    assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
    token = token_file.read_text().strip()
    assert token not in agent.log

    res = run_cli("sinks", "-c", str(config))
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].split()[:3] == ["SINK", "TYPE", "STATE"]
    assert [line.split()[:3] for line in lines[1:]] == [["archive", "file", "ok"], ["spare", "file", "ok"]]

    res = run_cli("send-test", "archive", "-c", str(config))
    assert res.returncode == 0 and res.stdout.startswith("√ sink archive: ok"), res.stdout + res.stderr
    test_id = json.loads((tmp_path / "out.jsonl").read_text().splitlines()[-1])["id"]
    assert test_id in res.stdout

    # tap only what goes to `spare`: start it, then send one event for each sink
    tap = subprocess.Popen([sys.executable, "-m", "agent", "tap", "-c", str(config), "--sink", "spare", "--limit", "1"],
                           cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    try:
        auth = {"Authorization": f"Bearer {token}"}
        wait_for(lambda: 'siemrelay_tap_watchers 1.0' in requests.get(f"http://127.0.0.1:{admin_port}/metrics",
                                                                       headers=auth, timeout=10).text, what="tap attached")
        for eid, title in (("to-archive", "plain"), ("to-spare", "spare")):
            assert requests.post(f"http://127.0.0.1:{hook_port}/events", json={"id": eid, "title": title}, timeout=10).ok
        out, err = tap.communicate(timeout=30)
    finally:
        if tap.poll() is None:
            tap.kill()
            tap.wait()
    assert tap.returncode == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    assert [e["id"] for e in events] == ["to-spare"] and events[0]["origin"]["input"] == "hooks"

    def top() -> dict[str, list[str]] | None:
        res = run_cli("top", "--once", "-c", str(config))
        assert res.returncode == 0, res.stderr
        rows = {line.split()[0]: line.split() for line in res.stdout.splitlines() if line.strip()}
        return rows if rows["archive"][6] == "1" and rows["spare"][6] == "1" else None  # SENT column

    rows = wait_for(top, what="both events delivered, as `top` shows")
    assert rows["hooks"][1] == "http" and rows["hooks"][3] == "2"  # two events in from `hooks`
    assert rows["other"][3] == "0"
    assert rows["archive"][2] == "ok" and rows["spare"][2] == "ok"
    assert rows["archive"][4] == "0"  # queue depth

    wrong = run_cli("sinks", "-c", str(config), "--token", "not-the-token")
    assert wrong.returncode == 2 and "refused the token" in wrong.stderr
    missing = run_cli("send-test", "nope", "-c", str(config))
    assert missing.returncode == 2 and "no sink named 'nope'" in missing.stderr
    assert agent.stop() == 0

    gone = run_cli("send-test", "archive", "-c", str(config))
    assert gone.returncode == 1 and "cannot reach the admin API" in gone.stderr


@pytest.mark.e2e
def test_admin_address_in_use_is_a_clear_startup_error(tmp_path: Path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        config = _config(tmp_path, busy.getsockname()[1], pick_port())
        res = run_cli("run", "-c", str(config), cwd=tmp_path, timeout=60)
    assert res.returncode == 2
    assert "admin API cannot listen on 127.0.0.1:" in res.stderr and "in use" in res.stderr
