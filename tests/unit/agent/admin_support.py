"""Test support for the admin API: an in-process agent and a scripted HTTP receiver.

The agent runs in the test's process (a real Supervisor: spool, workers, sources,
admin server on loopback port 0), so API tests are fast and need no subprocess;
``stop()`` always shuts everything down.
"""

from __future__ import annotations

import textwrap
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

from agent.config.validate import validate_config
from agent.config.loader import load_config
from agent.logging import Redactor
from agent.plugins import load_plugins
from agent.engine.supervisor import Supervisor

ADMIN = "admin-token-0123456789"
READ = "read-token-0123456789"
HMAC_SECRET = "hmac-secret-value-42"
QUERY_SECRET = "query-secret-value-42"


class Receiver:
    """An HTTP peer that answers with ``status`` (changeable) and records request bodies."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.error_body = b"no"  # what a failing answer says (tests put hostile text here)
        self.bodies: list[bytes] = []
        recv = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                code = recv.status
                if code < 300:
                    recv.bodies.append(body)
                reply = recv.error_body if code >= 300 else b"ok"
                self.send_response(code)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def agent_yaml(tmp_path: Path, receiver_port: int, admin: str = "") -> str:
    admin = admin or f'{{enabled: true, address: "127.0.0.1:0", token: "{ADMIN}", read_token: "{READ}"}}'
    return textwrap.dedent(f"""\
        agent:
          state_dir: {tmp_path}/state
          admin: {admin}
        sources:
          hooks: {{type: http, address: "127.0.0.1:0", paths: {{/events: {{decoder: json}}}}}}
        sinks:
          archive: {{type: file, path: {tmp_path}/out.jsonl}}
          remote:
            type: webhook
            url: "http://127.0.0.1:{receiver_port}/hook?token={QUERY_SECRET}"
            hmac: {{secret: "{HMAC_SECRET}"}}
            batch: {{max_wait_s: 0}}
            retry: {{initial_backoff_s: 0.05, max_backoff_s: 0.05, jitter: none}}
            circuit_breaker: {{failure_threshold: 1, cooldown_s: 300}}
        routes:
          - {{name: default, to: [archive, remote]}}
        """)


class LiveAgent:
    """A started in-process agent with its admin API; use as a context manager."""

    def __init__(self, config: Path) -> None:
        self.redactor = Redactor()
        plugins = load_plugins(entry_points=False)
        loaded = load_config(config)
        self.redactor.add(loaded.secrets)
        cfg = validate_config(loaded, plugins)
        self.redactor.add(cfg.secrets)
        self.sup = Supervisor(cfg, plugins, self.redactor)
        self.sup.start()
        assert self.sup.admin is not None
        self.url = self.sup.admin.url

    @property
    def source_url(self) -> str:
        return f"http://127.0.0.1:{self.sup.sources['hooks'].bound_port}/events"

    def post_event(self, **fields: Any) -> None:
        r = requests.post(self.source_url, json=fields, timeout=10)
        assert r.status_code == 200, r.text

    def get(self, path: str, token: str | None = ADMIN, **kw: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.get(self.url + path, headers=headers, timeout=10, **kw)

    def post(self, path: str, token: str | None = ADMIN, **kw: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.post(self.url + path, headers=headers, timeout=10, **kw)

    def stop(self) -> None:
        self.sup.shutdown()

    def __enter__(self) -> "LiveAgent":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
