"""A loopback HTTP server that records requests and answers with scripted statuses."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Captured:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class HttpCapture:
    """``with HttpCapture(port) as srv:`` … ``srv.script.append((429, {"Retry-After": "3"}, b"slow down"))``."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.requests: list[Captured] = []
        self.script: list[tuple[int, dict[str, str], bytes]] = []
        srv = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                srv.requests.append(Captured("POST", self.path, dict(self.headers.items()), body))
                status, headers, answer = srv.script.pop(0) if srv.script else (200, {}, b"ok")
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.url = f"http://{host}:{port}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})

    def __enter__(self) -> "HttpCapture":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)
