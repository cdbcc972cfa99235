"""A strict Elasticsearch ``_bulk`` receiver, written from the bulk API's documentation.

What it enforces, as Elasticsearch does: ``POST /_bulk``; ``Content-Type``
``application/x-ndjson`` or ``application/json`` (else 406); optional gzip
``Content-Encoding``; ``Authorization: ApiKey <key>`` (else 401 ``security_exception``);
NDJSON whose last line ends with a newline (else 400 ``illegal_argument_exception``);
``create`` actions with ``_index`` and a source line; a ``create`` of an existing
``_id`` is 409 ``version_conflict_engine_exception``; documents need ``@timestamp``
(data streams); a dynamic mapping per index: the first JSON type seen for a field
fixes it, a later document with another type is 400 ``mapper_parsing_exception``.
The answer is ``{"took", "errors", "items": [{"create": {..., "status"}}]}`` in
action order.

Faults: ``fail_next(status, n, retry_after)`` answers whole requests with a status;
``throttle(n)`` answers the next ``n`` items 429 ``es_rejected_execution_exception``.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["BulkReceiver"]


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "long"
    if isinstance(value, float):
        return "float"
    if isinstance(value, dict):
        return "object"
    return "keyword" if isinstance(value, str) else "other"


class BulkReceiver:
    """``with BulkReceiver("the-key") as es: ... es.url ... es.docs``."""

    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.docs: dict[tuple[str, str], dict[str, Any]] = {}
        self.mappings: dict[str, dict[str, str]] = {}
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self._fail: list[tuple[int, str | None]] = []
        self._throttle = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                self._send(200, {"name": "strict", "version": {"number": "8.15.0"}, "tagline": "You Know, for Search"})

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, answer, headers = receiver.handle(self.path, dict(self.headers.items()), body)
                self._send(status, answer, headers)

            def _send(self, status: int, answer: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> "BulkReceiver":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)

    def fail_next(self, status: int, n: int = 1, retry_after: str | None = None) -> None:
        with self.lock:
            self._fail += [(status, retry_after)] * n

    def throttle(self, n: int) -> None:
        with self.lock:
            self._throttle += n

    @staticmethod
    def _error(status: int, kind: str, reason: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        return status, {"error": {"type": kind, "reason": reason}, "status": status}, {}

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any, dict[str, str]]:
        lower = {k.lower(): v for k, v in headers.items()}
        with self.lock:
            self.requests.append({"path": path, "headers": lower, "time": time.monotonic()})
            if self._fail:
                status, retry_after = self._fail.pop(0)
                answer = self._error(status, "es_rejected_execution_exception" if status == 429 else "unavailable", "scripted")
                return status, answer[1], {"Retry-After": retry_after} if retry_after else {}
            if path.split("?")[0] != "/_bulk":
                return self._error(404, "resource_not_found_exception", f"no handler for {path}")
            if lower.get("authorization") != f"ApiKey {self.api_key}":
                return self._error(401, "security_exception", "unable to authenticate with provided credentials")
            ctype = lower.get("content-type", "").split(";")[0].strip()
            if ctype not in ("application/x-ndjson", "application/json"):
                return self._error(406, "illegal_argument_exception", f"Content-Type header [{ctype}] is not supported")
            if lower.get("content-encoding") == "gzip":
                body = gzip.decompress(body)
            if not body.endswith(b"\n"):
                return self._error(400, "illegal_argument_exception", "The bulk request must be terminated by a newline [\\n]")
            lines = body.split(b"\n")[:-1]
            if len(lines) % 2:
                return self._error(400, "illegal_argument_exception", "a create action is missing its source line")
            items = [self._create(json.loads(lines[i]), json.loads(lines[i + 1])) for i in range(0, len(lines), 2)]
        errors = any(not (200 <= it["create"]["status"] < 300) for it in items)
        return 200, {"took": 1, "errors": errors, "items": items}, {}

    def _create(self, action: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
        if list(action) != ["create"] or "_index" not in action["create"]:
            raise ValueError(f"only create actions with _index are sent, got {action}")
        index, ident = action["create"]["_index"], action["create"].get("_id", str(len(self.docs)))
        head = {"_index": index, "_id": ident}
        if self._throttle:
            self._throttle -= 1
            return {"create": {**head, "status": 429, "error": {"type": "es_rejected_execution_exception",
                                                                 "reason": "rejected execution of coordinating operation"}}}
        if (index, ident) in self.docs:
            return {"create": {**head, "status": 409, "error": {"type": "version_conflict_engine_exception",
                                                                 "reason": f"[{ident}]: version conflict, document already exists"}}}
        if "@timestamp" not in doc:
            return {"create": {**head, "status": 400, "error": {"type": "illegal_argument_exception",
                                                                 "reason": "data stream timestamp field [@timestamp] is missing"}}}
        mapping = self.mappings.setdefault(index, {})
        fields = list(self._fields("", doc))
        for name, kind in fields:
            known = mapping.get(name)
            if known is not None and known != kind and {known, kind} != {"long", "float"}:
                return {"create": {**head, "status": 400, "error": {
                    "type": "mapper_parsing_exception", "reason": f"failed to parse field [{name}] of type [{known}]"}}}
        for name, kind in fields:
            mapping.setdefault(name, kind)
        self.docs[(index, ident)] = doc
        return {"create": {**head, "_version": 1, "result": "created", "status": 201}}

    def _fields(self, prefix: str, doc: dict[str, Any]) -> Any:
        for key, value in doc.items():
            name = f"{prefix}{key}"
            if isinstance(value, dict):
                yield name, "object"
                yield from self._fields(name + ".", value)
            elif isinstance(value, list):
                for item in value:
                    if not isinstance(item, (dict, list)):
                        yield name, _kind(item)
            elif value is not None:
                yield name, _kind(value)
