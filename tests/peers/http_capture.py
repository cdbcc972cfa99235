"""A scripted HTTP receiver on loopback: answers each request from a script, records all.

Script steps, consumed one per request (then ``default`` forever):

- ``200``, ``503``, ``400`` ...: answer with that status.
- ``(429, {"Retry-After": "2"})``: a status with headers.
- ``(429, {"Retry-After": "2"}, b"slow down")``: a status with headers and a body.
- ``"close"``: read the request, then close the connection without answering.
- ``"reset"``: read half the request body, then reset the connection (TCP RST).
- ``("hang", seconds)``: read the request, answer nothing for ``seconds`` (the client's
  timeout should fire first), then close.

A ``reject_if`` predicate answers 400 to any request whose body it matches, which is
how a poison event is simulated; ``max_body_bytes`` answers 413 to larger bodies. Every request is recorded with its method, path,
headers, body, the status given (``None`` when none was) and its arrival time
(monotonic).
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterable

import orjson

__all__ = ["HttpCapture", "Captured"]

Step = Any


@dataclass
class Captured:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int | None = None
    time: float = 0.0

    def events(self) -> list[dict[str, Any]]:
        """The events of an NDJSON, JSON-array or JSON-object body."""
        text = self.body.strip()
        if not text:
            return []
        if text.startswith(b"["):
            return list(orjson.loads(text))
        return [orjson.loads(line) for line in text.splitlines() if line.strip()]


class HttpCapture:
    """``with HttpCapture([503, 503, 200]) as rx: ... rx.url ... rx.requests``.

    ``HttpCapture(port)`` (an int) listens on that port, otherwise on a free one;
    ``rx.script`` may be appended to while it runs.
    """

    def __init__(self, script: Iterable[Step] | int = (), default: Step = 200, host: str = "127.0.0.1",
                 reject_if: Callable[[bytes], bool] | None = None, port: int = 0,
                 max_body_bytes: int | None = None) -> None:
        if isinstance(script, int):
            script, port = (), script
        self.script: list[Step] = list(script)
        self.default = default
        self.reject_if = reject_if
        self.max_body_bytes = max_body_bytes  # larger bodies get 413 Payload Too Large
        self.requests: list[Captured] = []
        self.lock = threading.Lock()
        self._stopping = threading.Event()
        capture = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                with capture.lock:
                    reset = bool(capture.script) and capture.script[0] == "reset"
                    if reset:
                        capture.script.pop(0)
                        capture.requests.append(Captured(self.command, self.path, dict(self.headers.items()), b"", None,
                                                         time.monotonic()))
                if reset:
                    self.rfile.read(length // 2)
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.close_connection = True
                    self.connection.close()
                    return
                body = self.rfile.read(length) if length else b""
                with capture.lock:
                    step = capture.script.pop(0) if capture.script else capture.default
                    if capture.reject_if is not None and capture.reject_if(body):
                        step = 400
                    if capture.max_body_bytes is not None and len(body) > capture.max_body_bytes:
                        step = (413, {}, b"payload too large")
                    status, headers, answer = _status_of(step)
                    capture.requests.append(Captured(self.command, self.path, dict(self.headers.items()), body, status,
                                                     time.monotonic()))
                if step == "close":
                    self.close_connection = True
                    return
                if isinstance(step, tuple) and step[0] == "hang":
                    capture._stopping.wait(float(step[1]))
                    self.close_connection = True
                    return
                if answer is None:
                    answer = b'{"text":"Success","code":0}' if status and status < 300 else b'{"error":"scripted"}'
                self.send_response(status or 500)
                for k, v in headers.items():
                    self.send_header(k, v)
                if not any(k.lower() == "content-type" for k in headers):
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_PUT = do_POST

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="http-capture", daemon=True)

    def start(self) -> "HttpCapture":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)

    def __enter__(self) -> "HttpCapture":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def set_script(self, script: Iterable[Step], default: Step | None = None) -> None:
        with self.lock:
            self.script = list(script)
            if default is not None:
                self.default = default

    def delivered(self) -> list[dict[str, Any]]:
        """Events of every request answered 2xx, in arrival order."""
        with self.lock:
            done = [r for r in self.requests if r.status is not None and 200 <= r.status < 300]
        return [e for r in done for e in r.events()]

    def statuses(self) -> list[int | None]:
        with self.lock:
            return [r.status for r in self.requests]


def _status_of(step: Step) -> tuple[int | None, dict[str, str], bytes | None]:
    if step in ("close", "reset"):
        return None, {}, None
    if isinstance(step, tuple):
        if step[0] == "hang":
            return None, {}, None
        return int(step[0]), dict(step[1]), (step[2] if len(step) > 2 else None)
    return int(step), {}, None
