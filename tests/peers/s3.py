"""A real S3 API on loopback for the ``s3`` and ``security_lake`` sinks: moto in server
mode (``python -m moto.server``, boto3's own test double run as an HTTP server), and a
fault-injecting pass-through in front of it.

``MotoS3`` starts moto on a free loopback port in its own process group and stops the
group (no process is left behind); ``stop()`` then ``start()`` is an outage on the same
port (moto keeps its state in memory: a restarted server has no buckets until
``create_bucket``). ``S3Faults`` forwards every request to moto unchanged and can:

- ``fail_next(n, status, code, retry_after)``: answer the next ``n`` object uploads with
  S3's error document (``<Error><Code>SlowDown</Code>...``, status 503) as S3 documents it;
- ``hold(forward=False|True)``: hold the next object upload: before moto sees it, or
  after moto stored it (the 200 never reaches the agent), until ``release()``; ``held``
  is set when it happens, so a test can kill the agent between roll and confirmation.
"""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import boto3
from botocore.config import Config

from tests.conftest import pick_port, wait_for_port
from tests.peers.process import stop_process_group

__all__ = ["MotoS3", "S3Faults", "ACCESS_KEY", "SECRET_KEY", "REGION"]

ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
REGION = "us-east-1"


class MotoS3:
    """``with MotoS3(tmp_path) as s3: s3.create_bucket("b"); s3.url; s3.objects("b")``."""

    def __init__(self, workdir: Path, env: dict[str, str] | None = None) -> None:
        """:param env: moto's settings, e.g. ``INITIAL_NO_AUTH_ACTION_COUNT=0`` to check credentials."""
        self.env = {**os.environ, **(env or {})}
        self.port = pick_port()
        self.log = Path(workdir) / f"moto-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> "MotoS3":
        out = open(self.log, "ab")
        try:
            self.proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                                         stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=self.env)
        finally:
            out.close()
        try:
            wait_for_port(self.port, timeout=timeout)
        except AssertionError:
            self.stop()
            raise RuntimeError(f"moto did not listen on {self.port}:\n{self.log.read_text(errors='replace')[-3000:]}")
        return self

    def stop(self) -> None:
        if self.proc is not None:
            stop_process_group(self.proc)
            self.proc = None

    def client(self) -> Any:
        return boto3.client("s3", region_name=REGION, endpoint_url=self.url, aws_access_key_id=ACCESS_KEY,
                            aws_secret_access_key=SECRET_KEY, config=Config(retries={"total_max_attempts": 2}))

    def create_bucket(self, name: str) -> None:
        self.client().create_bucket(Bucket=name)

    def objects(self, bucket: str) -> dict[str, bytes]:
        """Every object of ``bucket``: key → bytes."""
        client = self.client()
        keys = [o["Key"] for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
                for o in page.get("Contents", [])]
        return {key: client.get_object(Bucket=bucket, Key=key)["Body"].read() for key in keys}

    def head(self, bucket: str, key: str) -> dict[str, Any]:
        answer: dict[str, Any] = self.client().head_object(Bucket=bucket, Key=key)
        return answer

    def __enter__(self) -> "MotoS3":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def error_document(code: str, message: str) -> bytes:
    """S3's REST error response body."""
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{escape(code)}</Code><Message>{escape(message)}'
            f'</Message><RequestId>4442587FB7D0A2F9</RequestId><HostId>siemrelay-test</HostId></Error>').encode()


class S3Faults:
    """A pass-through to ``upstream`` (host, port) that injects S3 faults into object uploads."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.held = threading.Event()
        self._release = threading.Event()
        self._fail: list[tuple[int, str, str | None]] = []
        self._hold: bool | None = None  # None: no hold; False: before forwarding; True: after
        faults = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    data = bytearray()
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return bytes(data)
                        data += self.rfile.read(size)
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _answer(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
                self.send_response(status)
                for name, value in headers:
                    if name.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _handle(self) -> None:
                body = self._body()
                upload = self.command in ("PUT", "POST") and self.path.count("/") >= 2 and "uploads" not in self.path
                with faults.lock:
                    record = {"method": self.command, "path": self.path, "time": time.monotonic(), "bytes": len(body)}
                    faults.requests.append(record)
                    fail = faults._fail.pop(0) if upload and faults._fail else None
                    hold, faults._hold = (faults._hold, None) if upload and faults._hold is not None else (None, faults._hold)
                if fail is not None:
                    status, code, retry_after = fail
                    record["status"] = status
                    headers = [("Content-Type", "application/xml")] + ([("Retry-After", retry_after)] if retry_after else [])
                    self._answer(status, headers, error_document(code, "Please reduce your request rate."
                                                                 if code == "SlowDown" else "We encountered an internal error."))
                    return
                if hold is False:
                    faults.held.set()
                    faults._release.wait(60)
                    self.close_connection = True
                    return
                conn = http.client.HTTPConnection("127.0.0.1", faults.upstream_port, timeout=30)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() != "transfer-encoding"}
                    headers["Content-Length"] = str(len(body))
                    conn.request(self.command, self.path, body=body, headers=headers)
                    answer = conn.getresponse()
                    data = answer.read()
                    record["status"] = answer.status
                    if hold is True:
                        faults.held.set()
                        faults._release.wait(60)
                        self.close_connection = True
                        return
                    self._answer(answer.status, answer.getheaders(), data)
                finally:
                    conn.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(target=self.server.serve_forever, name="s3-faults", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail_next(self, n: int = 1, status: int = 503, code: str = "SlowDown", retry_after: str | None = None) -> None:
        with self.lock:
            self._fail += [(status, code, retry_after)] * n

    def hold(self, *, forward: bool) -> None:
        """Hold the next upload: before moto sees it (``forward=False``) or after moto stored it."""
        with self.lock:
            self.held.clear()
            self._release.clear()
            self._hold = forward

    def release(self) -> None:
        self._release.set()

    def uploads(self) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.requests if r["method"] in ("PUT", "POST")]

    def __enter__(self) -> "S3Faults":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()
