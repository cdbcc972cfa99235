"""Cross-site requests against the admin API of a running agent (subprocess, real HTTP).

The audit's finding: browsers resend cached Basic credentials on a foreign page's
form post, so a page the operator visits could replay every dead letter or re-enable
sinks. These tests drive the agent the way a browser and an attacker would: a dead
letter is made by a real peer refusing an event, then state-changing requests arrive
with the headers a browser sends (``Origin``, ``Sec-Fetch-Site``, form content types)
and Basic credentials. The refusal must leave the dead letter and the circuit as they
were; the operator's own ways in (JSON from the page's origin, the bearer token of the
CLI) keep working; GETs are unchanged. The last test has headless Chromium itself
submit a foreign page's form with credentials to the admin API.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import textwrap
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from tests.conftest import AgentProcess, pick_port, require_tool, run_cli, wait_for, wait_for_port
from tests.unit.agent.admin_support import Receiver

pytestmark = pytest.mark.e2e

ADMIN = "seam-admin-token-0123456789"
READ = "seam-read-token-0123456789"
BASIC = "Basic " + base64.b64encode(f"oncall:{ADMIN}".encode()).decode()
FORM = "application/x-www-form-urlencoded"


class Agent:
    """The agent subprocess plus what the tests need to reach it."""

    def __init__(self, proc: AgentProcess, admin_port: int, hook_port: int, receiver: Receiver, config: Path) -> None:
        self.proc = proc
        self.admin = f"http://127.0.0.1:{admin_port}"
        self.origin = self.admin
        self.hooks = f"http://127.0.0.1:{hook_port}/events"
        self.receiver = receiver
        self.config = config

    def dead_letters(self) -> list[dict[str, Any]]:
        r = requests.get(self.admin + "/api/v1/dlq", headers={"Authorization": f"Bearer {ADMIN}"}, timeout=10)
        assert r.status_code == 200, r.text
        return list(r.json()["dead_letters"])

    def circuit(self) -> str:
        r = requests.get(self.admin + "/api/v1/sinks/remote", headers={"Authorization": f"Bearer {ADMIN}"}, timeout=10)
        return str(r.json()["circuit"])


@pytest.fixture
def agent(tmp_path: Path, agent_process: Any) -> Iterator[Agent]:
    """An agent whose ``remote`` sink refused one event (a dead letter), then went down (its
    circuit is open, a second event queued); the peer is back but nothing is sent until
    an operator acts."""
    receiver = Receiver(400)  # a permanent refusal: the event is dead-lettered at once
    try:
        admin_port, hook_port = pick_port(), pick_port()
        config = tmp_path / "siemrelay.yaml"
        config.write_text(textwrap.dedent(f"""\
            agent:
              state_dir: {tmp_path}/state
              admin: {{enabled: true, address: "127.0.0.1:{admin_port}", token: "{ADMIN}", read_token: "{READ}"}}
            sources:
              hooks: {{type: http, address: "127.0.0.1:{hook_port}", paths: {{/events: {{decoder: json}}}}}}
            sinks:
              remote:
                type: webhook
                url: "http://127.0.0.1:{receiver.port}/hook"
                batch: {{max_wait_s: 0}}
                retry: {{max_attempts: 1, initial_backoff_s: 0.05, jitter: none}}
                circuit_breaker: {{failure_threshold: 1, cooldown_s: 600}}
            routes:
              - {{name: default, to: [remote]}}
            """))
        proc = agent_process(config)
        wait_for_port(admin_port, timeout=30)
        wait_for_port(hook_port, timeout=30)
        a = Agent(proc, admin_port, hook_port, receiver, config)
        r = requests.post(a.hooks, json={"id": "csrf-1", "title": "refused by the peer"}, timeout=10)
        assert r.status_code == 200, r.text
        wait_for(lambda: len(a.dead_letters()) == 1, 20, what="the refused event to be dead-lettered")
        receiver.status = 503  # then the peer is down: the next event opens the circuit and stays queued
        r = requests.post(a.hooks, json={"id": "csrf-2", "title": "queued while the peer is down"}, timeout=10)
        assert r.status_code == 200, r.text
        wait_for(lambda: a.circuit() == "open", 20, what="the circuit to open")
        receiver.status = 200  # the peer is fixed: a replay now would deliver
        yield a
    finally:
        receiver.close()


FOREIGN = [
    pytest.param({"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}, id="foreign-origin-and-fetch-site"),
    pytest.param({"Origin": "http://evil.example"}, id="foreign-origin-only"),
    pytest.param({"Sec-Fetch-Site": "cross-site"}, id="fetch-site-only"),
    pytest.param({"Origin": "null"}, id="opaque-origin"),
    pytest.param({"Sec-Fetch-Site": "same-site"}, id="same-site-other-port"),
]


@pytest.mark.parametrize("headers", FOREIGN)
def test_a_foreign_page_cannot_replay_dead_letters_or_reenable_a_sink(agent: Agent, headers: dict[str, str]) -> None:
    for path in ("/api/v1/dlq/replay", "/api/v1/sinks/remote/enable"):
        for ctype, body in ((FORM, b"ids=1"), ("text/plain", b"{}"), ("application/json", b"{}")):
            r = requests.post(agent.admin + path, data=body, timeout=10,
                              headers={"Authorization": BASIC, "Content-Type": ctype, **headers})
            assert r.status_code == 403, (path, ctype, r.status_code, r.text)
            assert "cross-site request refused" in r.json()["error"]
    assert len(agent.dead_letters()) == 1
    assert agent.circuit() == "open"
    assert agent.receiver.bodies == []
    assert "refused POST /api/v1/dlq/replay" in agent.proc.log


def test_a_form_without_origin_headers_is_refused_too(agent: Agent) -> None:
    """An old browser sends no Origin on a form post; its content type still gives it away."""
    for ctype in (FORM, "multipart/form-data; boundary=x", "text/plain", ""):
        headers = {"Authorization": BASIC, **({"Content-Type": ctype} if ctype else {})}
        r = requests.post(agent.admin + "/api/v1/dlq/replay", data=b"", headers=headers, timeout=10)
        assert r.status_code == 415, (ctype, r.text)
        assert "Content-Type: application/json" in r.json()["error"]
    assert len(agent.dead_letters()) == 1
    assert agent.receiver.bodies == []


def test_the_operator_can_still_act_from_the_page_origin_and_the_cli(agent: Agent) -> None:
    # what a script on the status page's own origin sends: Basic, JSON, same-origin headers
    r = requests.post(agent.admin + "/api/v1/sinks/remote/enable", json={}, timeout=10,
                      headers={"Authorization": BASIC, "Origin": agent.origin, "Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 200, r.text
    assert r.json()["circuit"] == "closed"
    r = requests.post(agent.admin + "/api/v1/dlq/replay", json={"sink": "remote"}, timeout=10,
                      headers={"Authorization": BASIC, "Origin": agent.origin})
    assert r.status_code == 200, r.text
    assert r.json() == {"replayed": 1}
    wait_for(lambda: b"csrf-1" in b"".join(agent.receiver.bodies), 20, what="the replayed event to be delivered")
    assert b"csrf-2" in b"".join(agent.receiver.bodies)
    # the CLI talks to the API with the bearer token and no content type
    res = run_cli("sinks", "enable", "remote", "-c", str(agent.config), "--token", ADMIN, timeout=60)
    assert res.returncode == 0, res.stderr
    assert "re-enabled" in res.stdout


def test_reads_stay_open_to_the_browser(agent: Agent) -> None:
    """GETs change nothing, so the status page still opens from a bookmark or a link."""
    r = requests.get(agent.admin + "/", headers={"Authorization": BASIC, "Sec-Fetch-Site": "cross-site",
                                                 "Origin": "http://evil.example"}, timeout=10)
    assert r.status_code == 200
    assert "siemrelay" in r.text


def test_the_read_token_still_gets_403_for_actions(agent: Agent) -> None:
    r = requests.post(agent.admin + "/api/v1/dlq/replay", json={}, headers={"Authorization": f"Bearer {READ}"}, timeout=10)
    assert r.status_code == 403
    assert "admin token" in r.json()["error"]


class _AttackerSite:
    """A foreign page (served on ``localhost``, a different site from ``127.0.0.1``) whose
    form posts itself to the admin API, with credentials the browser holds for it. The
    form has no fields: an empty body is "replay every dead letter"."""

    def __init__(self, action: str) -> None:
        page = textwrap.dedent(f"""\
            <!doctype html><html><body>
            <form id=f method=POST enctype=text/plain action="{action}"></form><script>document.getElementById("f").submit()</script></body></html>""").encode()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://localhost:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def test_headless_chromium_submitting_a_foreign_form_with_credentials_is_refused(agent: Agent, tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or require_tool("chromium", "chromium")
    port = agent.admin.rsplit(":", 1)[1]
    # the browser holds the operator's credentials for the admin origin (here: in the URL,
    # which Chromium turns into an Authorization: Basic header on the form's navigation)
    site = _AttackerSite(f"http://oncall:{ADMIN}@127.0.0.1:{port}/api/v1/dlq/replay")
    try:
        cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000",
               "--dump-dom", site.url]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
        assert res.returncode == 0, res.stderr[-2000:]
        # the browser really sent the form to the admin API, and the API refused it as cross-site
        assert "cross-site request refused" in res.stdout, res.stdout[-2000:]
        assert "refused POST /api/v1/dlq/replay" in agent.proc.log
    finally:
        site.close()
    assert len(agent.dead_letters()) == 1
    assert agent.receiver.bodies == []
