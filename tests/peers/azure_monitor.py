"""A strict Azure receiver: Entra ID's token endpoint, the VM metadata service (IMDS) and
the Azure Monitor Logs Ingestion API, written from Microsoft's documentation.

- ``POST /{tenant}/oauth2/v2.0/token`` (client-credentials grant, form-encoded):
  unknown tenant → 400 ``invalid_request`` (AADSTS90002); unknown client → 400
  ``unauthorized_client`` (AADSTS700016); wrong secret → 401 ``invalid_client``
  (AADSTS7000215); a scope other than ``https://monitor.azure.com//.default`` → 400
  ``invalid_scope`` (AADSTS70011). Success: ``{token_type, expires_in, access_token}``.
- ``GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=...`` with
  ``Metadata: true``: refuses a request without that header, one that carries
  ``X-Forwarded-For`` (went through a proxy), and a VM without the identity (400
  "Identity not found"). ``expires_in`` is a string, as IMDS sends it.
- ``POST /dataCollectionRules/{dcr}/streams/{stream}?api-version=2023-01-01``: bearer
  token required (401 ``InvalidToken``), the app needs the role (403
  ``OperationFailed``), unknown DCR → 404, unknown stream → 400 ``InvalidStream``,
  more than 1 MB compressed or not → 413 ``ContentLengthLimitExceeded``, a body that is
  not a JSON array of objects → 400 ``InvalidPayload``, a row without a valid
  ``TimeGenerated`` → 400. Success: ``204 No Content``.

Faults are injected with :meth:`AzureMonitor.fail_next` (status, headers, error code);
:meth:`AzureMonitor.revoke_tokens` makes every token issued so far invalid.
"""

from __future__ import annotations

import gzip
import json
import secrets
import ssl
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

__all__ = ["AzureMonitor", "AzureApp", "AzureRequest", "MAX_BYTES", "SCOPE"]

MAX_BYTES = 1024 * 1024
SCOPE = "https://monitor.azure.com//.default"
IMDS_RESOURCE = "https://monitor.azure.com"


@dataclass
class AzureApp:
    """An app registration: its secret and whether it holds the role on the DCR."""

    client_id: str
    secret: str
    has_role: bool = True


@dataclass
class AzureRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    status: int = 0
    time: float = field(default_factory=time.monotonic)


class AzureMonitor:
    """The receiver; ``with AzureMonitor(port, ...) as az:``; ``az.url`` is authority and endpoint."""

    def __init__(self, port: int, *, tenant: str = "tenant-1", dcr: str = "dcr-" + "a" * 32,
                 streams: tuple[str, ...] = ("Custom-SiemrelayEvents",), apps: tuple[AzureApp, ...] = (),
                 managed_identity: bool = False, token_lifetime_s: int = 3599, max_bytes: int = MAX_BYTES,
                 ssl_context: ssl.SSLContext | None = None, reject_row: Callable[[dict[str, Any]], str | None] | None = None) -> None:
        self.port = port
        self.tenant, self.dcr, self.streams = tenant, dcr, streams
        self.apps = {a.client_id: a for a in apps}
        self.managed_identity = managed_identity
        self.token_lifetime_s = token_lifetime_s
        self.max_bytes = max_bytes
        self.reject_row = reject_row
        self.ssl_context = ssl_context
        self.tokens: dict[str, bool] = {}  # token -> has the role
        self.rows: list[dict[str, Any]] = []
        self.requests: list[AzureRequest] = []
        self.faults: list[tuple[int, dict[str, str], str]] = []
        self.token_faults: list[tuple[int, dict[str, str]]] = []
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.ssl_context else 'http'}://127.0.0.1:{self.port}"

    # --------------------------------------------------------------- faults
    def fail_next(self, status: int, code: str = "", headers: dict[str, str] | None = None, times: int = 1) -> None:
        """The next ``times`` ingestion calls answer ``status`` with error ``code``."""
        with self.lock:
            self.faults.extend([(status, dict(headers or {}), code)] * times)

    def fail_token(self, status: int, headers: dict[str, str] | None = None, times: int = 1) -> None:
        """The next ``times`` token requests answer ``status`` (e.g. 503: Entra ID busy)."""
        with self.lock:
            self.token_faults.extend([(status, dict(headers or {}))] * times)

    def revoke_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()

    def ingest_calls(self) -> list[AzureRequest]:
        return [r for r in self.requests if r.path.startswith("/dataCollectionRules/")]

    def token_calls(self) -> list[AzureRequest]:
        return [r for r in self.requests if "oauth2" in r.path]

    # --------------------------------------------------------------- protocol
    def _issue(self, has_role: bool) -> str:
        token = "eyJ0eXAi." + secrets.token_urlsafe(24)
        with self.lock:
            self.tokens[token] = has_role
        return token

    def handle_token(self, req: AzureRequest) -> tuple[int, dict[str, str], Any]:
        with self.lock:
            fault = self.token_faults.pop(0) if self.token_faults else None
        if fault:
            return fault[0], fault[1], {"error": "temporarily_unavailable", "error_description": "AADSTS50196: busy"}
        tenant = req.path.split("/")[1]
        form = {k: v[0] for k, v in parse_qs(req.body.decode("ascii", "replace")).items()}
        if req.headers.get("content-type", "").split(";")[0] != "application/x-www-form-urlencoded":
            return 400, {}, _aad("invalid_request", "AADSTS900144: The request body must contain the following parameter: 'grant_type'.")
        if tenant != self.tenant:
            return 400, {}, _aad("invalid_request", f"AADSTS90002: Tenant '{tenant}' not found.")
        if form.get("grant_type") != "client_credentials":
            return 400, {}, _aad("unsupported_grant_type", "AADSTS70003: The app requested an unsupported grant type.")
        app = self.apps.get(form.get("client_id", ""))
        if app is None:
            return 400, {}, _aad("unauthorized_client", "AADSTS700016: Application not found in the directory.")
        if form.get("client_secret") != app.secret:
            return 401, {}, _aad("invalid_client", "AADSTS7000215: Invalid client secret provided. Ensure the secret "
                                 "being sent in the request is the client secret value, not the client secret ID.")
        if form.get("scope") != SCOPE:
            return 400, {}, _aad("invalid_scope", f"AADSTS70011: The provided value for scope {form.get('scope')} is not valid.")
        return 200, {}, {"token_type": "Bearer", "expires_in": self.token_lifetime_s, "ext_expires_in": self.token_lifetime_s,
                         "access_token": self._issue(app.has_role)}

    def handle_imds(self, req: AzureRequest) -> tuple[int, dict[str, str], Any]:
        if req.headers.get("metadata") != "true":
            return 400, {}, {"error": "invalid_request", "error_description": "Required metadata header not specified"}
        if "x-forwarded-for" in req.headers:
            return 400, {}, {"error": "invalid_request", "error_description": "Request contains X-Forwarded-For header"}
        if req.query.get("api-version") != ["2018-02-01"] or req.query.get("resource") != [IMDS_RESOURCE]:
            return 400, {}, {"error": "invalid_request", "error_description": "Invalid api-version or resource"}
        if not self.managed_identity:
            return 400, {}, {"error": "invalid_request", "error_description": "Identity not found"}
        now = int(time.time())
        return 200, {}, {"access_token": self._issue(True), "expires_in": str(self.token_lifetime_s),
                         "expires_on": str(now + self.token_lifetime_s), "not_before": str(now),
                         "resource": IMDS_RESOURCE, "token_type": "Bearer"}

    def handle_ingest(self, req: AzureRequest) -> tuple[int, dict[str, str], Any]:
        parts = req.path.split("/")  # ['', 'dataCollectionRules', dcr, 'streams', stream]
        auth = req.headers.get("authorization", "")
        with self.lock:
            has_role = self.tokens.get(auth[7:]) if auth.startswith("Bearer ") else None
        if has_role is None:
            return 401, {}, _api("InvalidToken", "The authentication token provided is invalid or expired.")
        if req.query.get("api-version") != ["2023-01-01"]:
            return 400, {}, _api("InvalidApiVersion", "The api-version query parameter is missing or not supported.")
        if len(parts) != 5 or parts[1] != "dataCollectionRules" or parts[3] != "streams" or parts[2] != self.dcr:
            return 404, {}, _api("NotFound", f"Data collection rule with immutable Id '{parts[2] if len(parts) > 2 else ''}' not found.")
        if not has_role:
            return 403, {}, _api("OperationFailed", "The authentication token provided does not have access to ingest "
                                 f"data for the data collection rule with immutable Id '{self.dcr}'.")
        with self.lock:
            fault = self.faults.pop(0) if self.faults else None
        if fault:
            return fault[0], fault[1], _api(fault[2] or "ServiceUnavailable", "Injected fault.")
        if parts[4] not in self.streams:
            return 400, {}, _api("InvalidStream", f"Stream name '{parts[4]}' not found in data collection rule.")
        if req.headers.get("content-type", "").split(";")[0] != "application/json":
            return 415, {}, _api("UnsupportedMediaType", "Content-Type must be application/json.")
        body = req.body
        if len(body) > self.max_bytes:
            return 413, {}, _too_large(len(body), self.max_bytes)
        if req.headers.get("content-encoding") == "gzip":
            try:
                body = gzip.decompress(body)
            except OSError:
                return 400, {}, _api("InvalidContentEncoding", "The gzip content could not be decompressed.")
        if len(body) > self.max_bytes:
            return 413, {}, _too_large(len(body), self.max_bytes)
        try:
            rows = json.loads(body)
        except ValueError:
            return 400, {}, _api("InvalidPayload", "The request body is not valid JSON.")
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            return 400, {}, _api("InvalidPayload", "The request body must be a JSON array of objects.")
        for i, row in enumerate(rows):
            try:
                datetime.fromisoformat(str(row.get("TimeGenerated")).replace("Z", "+00:00"))
            except ValueError:
                return 400, {}, _api("InvalidPayload", f"Row {i}: TimeGenerated is not a valid datetime.")
            problem = self.reject_row(row) if self.reject_row else None
            if problem:
                return 400, {}, _api("InvalidPayload", f"Row {i}: {problem}")
        with self.lock:
            self.rows.extend(rows)
        return 204, {}, None

    # --------------------------------------------------------------- server
    def start(self) -> "AzureMonitor":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                split = urlsplit(self.path)
                req = AzureRequest(self.command, split.path, parse_qs(split.query),
                                   {k.lower(): v for k, v in self.headers.items()}, body)
                if self.command == "POST" and split.path.endswith("/oauth2/v2.0/token"):
                    status, headers, doc = receiver.handle_token(req)
                elif self.command == "GET" and split.path == "/metadata/identity/oauth2/token":
                    status, headers, doc = receiver.handle_imds(req)
                elif self.command == "POST" and split.path.startswith("/dataCollectionRules/"):
                    status, headers, doc = receiver.handle_ingest(req)
                else:
                    status, headers, doc = 404, {}, _api("NotFound", "No such resource.")
                req.status = status
                with receiver.lock:
                    receiver.requests.append(req)
                data = b"" if doc is None else json.dumps(doc).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                if data:
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve  # noqa: N815

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        if self.ssl_context is not None:
            self._server.socket = self.ssl_context.wrap_socket(self._server.socket, server_side=True)
        threading.Thread(target=self._server.serve_forever, name="azure-monitor", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "AzureMonitor":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def _aad(error: str, description: str) -> dict[str, Any]:
    return {"error": error, "error_description": description + " Trace ID: 0000 Correlation ID: 0000",
            "error_codes": [int(description[6:description.index(":")])] if description.startswith("AADSTS") else []}


def _api(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _too_large(size: int, limit: int) -> dict[str, Any]:
    return _api("ContentLengthLimitExceeded", f"Maximum allowed content length: {limit} bytes (1 MB). "
                f"Provided content length: {size} bytes.")
