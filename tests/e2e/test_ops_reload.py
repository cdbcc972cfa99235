"""SIGHUP reloads the whole configuration: sources and sinks added, removed, changed; nothing spooled is lost.

Also the systemd protocol around it: READY=1, WATCHDOG=1, RELOADING=1 and STOPPING=1
arrive on $NOTIFY_SOCKET at the right moments.
"""

from __future__ import annotations

import signal
import socket
import textwrap
import time
from pathlib import Path

import orjson
import pytest
import requests

from tests.conftest import pick_port, received_ids, wait_for, wait_for_port
from tests.unit.agent.admin_support import Receiver

TOKEN = "reload-admin-token-1234"


def _ids(path: Path) -> list[str]:
    return received_ids(path)


def _received(r: Receiver) -> list[str]:
    return [e["id"] for body in r.bodies for e in orjson.loads(body)]


def _yaml(*parts: str) -> str:
    return textwrap.dedent("".join(p.rstrip(" ") for p in parts))


def _post(port: int, eid: str) -> None:
    r = requests.post(f"http://127.0.0.1:{port}/events", json={"id": eid, "title": eid}, timeout=10)
    assert r.status_code == 200, r.text


@pytest.mark.e2e
def test_sighup_adds_removes_and_changes_sources_and_sinks(tmp_path: Path, agent_process):  # type: ignore[no-untyped-def]
    down, up = Receiver(503), Receiver(200)
    port_a, port_b, admin_port = pick_port(), pick_port(), pick_port()
    head = f"""\
        agent:
          state_dir: {tmp_path}/state
          admin: {{enabled: true, address: "127.0.0.1:{admin_port}", token: "{TOKEN}"}}
        """
    remote = """\
          remote:
            type: webhook
            url: "http://127.0.0.1:{port}/hook"
            batch: {{max_wait_s: 0}}
            retry: {{initial_backoff_s: 0.05, max_backoff_s: 0.1, jitter: none}}
            circuit_breaker: {{failure_threshold: 1, cooldown_s: 0.2}}
        """
    v1 = _yaml(head, f"""\
        sources:
          a: {{type: http, address: "127.0.0.1:{port_a}", paths: {{/events: {{decoder: json}}}}}}
        sinks:
          archive: {{type: file, path: {tmp_path}/archive.jsonl}}
        """, remote.format(port=down.port), """\
        routes:
          - {name: default, to: [archive, remote]}
        """)
    v2 = _yaml(head, f"""\
        sources:
          a: {{type: http, address: "127.0.0.1:{port_a}", paths: {{/events: {{decoder: json}}}}}}
          b: {{type: http, address: "127.0.0.1:{port_b}", paths: {{/events: {{decoder: json}}}}}}
        sinks:
          archive: {{type: file, path: {tmp_path}/archive.jsonl}}
          second: {{type: file, path: {tmp_path}/second.jsonl}}
        """, remote.format(port=up.port), """\
        routes:
          - {name: default, to: [archive, remote, second]}
        """)
    v3 = _yaml(head, f"""\
        sources:
          b: {{type: http, address: "127.0.0.1:{port_b}", paths: {{/events: {{decoder: json}}}}}}
        sinks:
          archive: {{type: file, path: {tmp_path}/archive.jsonl}}
        """, remote.format(port=up.port), """\
        routes:
          - {name: default, to: [archive, remote]}
        """)
    config = tmp_path / "siemrelay.yaml"
    config.write_text(v1)
    notify_path = str(tmp_path / "notify.sock")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(notify_path)
    notify.settimeout(20)
    messages: list[str] = []

    def expect(prefix: str) -> str:
        while True:
            msg = notify.recv(4096).decode()
            messages.append(msg)
            if msg.startswith(prefix):
                return msg

    try:
        agent = agent_process(config, env={"NOTIFY_SOCKET": notify_path, "WATCHDOG_USEC": "400000"})
        assert "READY=1" in expect("READY=1")
        expect("WATCHDOG=1")
        wait_for_port(port_a)
        _post(port_a, "e1")
        _post(port_a, "e2")
        wait_for(lambda: _ids(tmp_path / "archive.jsonl") == ["e1", "e2"], what="archive to get e1, e2")
        auth = {"Authorization": f"Bearer {TOKEN}"}
        sinks = lambda: {s["name"]: s for s in requests.get(f"http://127.0.0.1:{admin_port}/api/v1/sinks",  # noqa: E731
                                                            headers=auth, timeout=10).json()["sinks"]}
        wait_for(lambda: sinks()["remote"]["queue_depth"] == 2, what="e1, e2 queued for the failing remote")

        # v2: remote now points at a healthy peer, sink `second` and source `b` appear
        config.write_text(v2)
        before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        agent.send_signal(signal.SIGHUP)
        reloading = expect("RELOADING=1")
        usec = int(reloading.split("MONOTONIC_USEC=")[1].split("\n")[0])
        assert usec >= before
        expect("READY=1")
        wait_for(lambda: "reload done: sources +1 -0 ~0, sinks +1 -0 ~1" in agent.log, what="reload done")
        wait_for(lambda: sorted(_received(up)) == ["e1", "e2"], what="queued events delivered by the changed sink")
        wait_for_port(port_b)
        _post(port_b, "e3")
        # three sinks, three workers: each delivers on its own clock, so wait for all of them
        wait_for(lambda: "e3" in _ids(tmp_path / "second.jsonl") and "e3" in _received(up)
                 and "e3" in _ids(tmp_path / "archive.jsonl"), what="e3 through the new source")
        assert _ids(tmp_path / "archive.jsonl") == ["e1", "e2", "e3"]
        assert _received(down) == []

        # an invalid file is refused; the running configuration keeps working
        config.write_text(v3.replace("type: file", "type: fiel", 1))
        agent.send_signal(signal.SIGHUP)
        expect("RELOADING=1")
        assert "the last reload failed" in expect("READY=1")
        assert "reload refused" in agent.log and "did you mean 'file'" in agent.log
        _post(port_a, "e4")
        wait_for(lambda: "e4" in _ids(tmp_path / "second.jsonl"), what="old configuration still running")

        # v3: source `a` and sink `second` go away
        config.write_text(v3)
        agent.send_signal(signal.SIGHUP)
        expect("RELOADING=1")
        expect("READY=1")
        wait_for(lambda: "reload done: sources +0 -1 ~0, sinks +0 -1 ~0" in agent.log, what="second reload")
        with pytest.raises(requests.ConnectionError):
            requests.post(f"http://127.0.0.1:{port_a}/events", json={"id": "x"}, timeout=5)
        _post(port_b, "e5")
        wait_for(lambda: "e5" in _received(up) and "e5" in _ids(tmp_path / "archive.jsonl"), what="e5 after v3")
        assert set(sinks()) == {"archive", "remote"}
        assert _ids(tmp_path / "archive.jsonl") == ["e1", "e2", "e3", "e4", "e5"]
        assert sorted(_received(up)) == ["e1", "e2", "e3", "e4", "e5"]

        agent.send_signal(signal.SIGTERM)
        expect("STOPPING=1")
        assert agent.wait() == 0
        assert any(m == "WATCHDOG=1" for m in messages)
    finally:
        notify.close()
        down.close()
        up.close()
