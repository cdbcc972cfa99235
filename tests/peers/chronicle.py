"""A strict Google receiver: the OAuth 2.0 token endpoint (JWT bearer grant, RFC 7523) and
the Chronicle API's ``logs.import``, written from Google's documentation.

- ``POST /token`` takes ``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`` and an
  ``assertion`` signed RS256 by a known service account (checked with google-auth's own
  verifier): ``iss`` the account's email, ``aud`` Google's token URL, ``scope`` with
  cloud-platform, ``exp`` within an hour. A bad signature or unknown account → 400
  ``invalid_grant`` (as Google answers a revoked or deleted key). Success:
  ``{access_token, expires_in, token_type}``.
- ``POST /v1alpha/projects/P/locations/R/instances/I/logTypes/T/logs:import``: bearer
  token required (401 ``UNAUTHENTICATED``), a token without the cloud-platform scope →
  403 ``PERMISSION_DENIED``, unknown instance or log type → 404
  ``NOT_FOUND``, a body over 4 MB or not ``{"inlineSource": {"logs": [...]}}`` with
  base64 ``data`` → 400 ``INVALID_ARGUMENT``. Success: 200 with an empty JSON object.
- ``POST /v2/unstructuredlogentries:batchCreate`` (the legacy Ingestion API): a bearer
  token with the ``malachite-ingestion`` scope (else 401 / 403), a JSON body
  ``{customer_id, log_type, namespace?, labels?: [{key, value}], entries: [{log_text,
  ts_epoch_microseconds | ts_rfc3339}]}`` of at most 1 MB; an unknown customer id or log
  type, a missing or empty field, a time in both forms or neither parseable → 400
  ``INVALID_ARGUMENT``. Success: 200 with an empty JSON object.

Faults: :meth:`Chronicle.fail_next`, :meth:`Chronicle.fail_token_next`; :meth:`Chronicle.revoke_tokens`.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = ["Chronicle", "ServiceAccountKey", "GoogleRequest"]

GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
#: Google's documented ``aud`` of a service-account assertion, whatever URL the token is fetched from.
AUDIENCE = "https://oauth2.googleapis.com/token"
CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
#: The legacy Ingestion API's scope.
MALACHITE = "https://www.googleapis.com/auth/malachite-ingestion"
LEGACY_PATH = "/v2/unstructuredlogentries:batchCreate"
LEGACY_MAX_BYTES = 1_000_000
_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
           429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}


@dataclass
class ServiceAccountKey:
    email: str
    private_pem: str
    public_pem: str

    @classmethod
    def generate(cls, email: str = "relay@my-secops-project.iam.gserviceaccount.com") -> "ServiceAccountKey":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
        public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        return cls(email, private, public)

    def write(self, path: Path, token_uri: str) -> Path:
        """A key file as the Cloud console downloads it."""
        path.write_text(json.dumps({
            "type": "service_account", "project_id": "my-secops-project", "private_key_id": "k1",
            "private_key": self.private_pem, "client_email": self.email, "client_id": "1234567890",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": token_uri}))
        path.chmod(0o600)
        return path


@dataclass
class GoogleRequest:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int = 0


class Chronicle:
    def __init__(self, port: int, accounts: tuple[ServiceAccountKey, ...], *, project: str = "my-secops-project",
                 region: str = "us", instance: str = "inst-1", log_types: tuple[str, ...] = ("SIEMRELAY_JSON",),
                 reject_log: Callable[[dict[str, Any]], str | None] | None = None) -> None:
        self.port = port
        self.accounts = {a.email: a for a in accounts}
        self.parent = f"/v1alpha/projects/{project}/locations/{region}/instances/{instance}/logTypes/"
        self.log_types = log_types
        self.reject_log = reject_log
        self.instance = instance
        self.tokens: dict[str, set[str]] = {}
        self.legacy_batches: list[dict[str, Any]] = []
        self.logs: list[dict[str, Any]] = []
        self.requests: list[GoogleRequest] = []
        self.faults: list[tuple[int, dict[str, str]]] = []
        self.token_faults: list[tuple[int, dict[str, str]]] = []
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def token_uri(self) -> str:
        return f"{self.url}/token"

    def fail_next(self, status: int, headers: dict[str, str] | None = None, times: int = 1) -> None:
        with self.lock:
            self.faults.extend([(status, dict(headers or {}))] * times)

    def fail_token_next(self, status: int, headers: dict[str, str] | None = None, times: int = 1) -> None:
        """The next ``times`` token requests get ``status`` (Google's OAuth error body for it)."""
        with self.lock:
            self.token_faults.extend([(status, dict(headers or {}))] * times)

    def revoke_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()

    def imports(self) -> list[GoogleRequest]:
        return [r for r in self.requests if r.path.endswith("logs:import") or r.path == LEGACY_PATH]

    def token_calls(self) -> list[GoogleRequest]:
        return [r for r in self.requests if r.path == "/token"]

    def handle_token(self, req: GoogleRequest) -> tuple[int, dict[str, str], Any]:
        from google.auth import jwt

        with self.lock:
            fault = self.token_faults.pop(0) if self.token_faults else None
        if fault:
            error = "temporarily_unavailable" if fault[0] >= 500 or fault[0] == 429 else "invalid_request"
            return fault[0], fault[1], {"error": error, "error_description": "Injected fault."}
        form = {k: v[0] for k, v in parse_qs(req.body.decode("ascii", "replace")).items()}
        if form.get("grant_type") != GRANT or "assertion" not in form:
            return 400, {}, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type"}
        try:
            unverified = jwt.decode(form["assertion"], verify=False)
            account = self.accounts[unverified["iss"]]
            claims = jwt.decode(form["assertion"], certs=account.public_pem, audience=AUDIENCE)
        except (KeyError, ValueError):
            return 400, {}, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
        if not {CLOUD_PLATFORM, MALACHITE} & set(str(claims.get("scope", "")).split()):
            return 400, {}, {"error": "invalid_scope", "error_description": "Invalid OAuth scope."}
        if int(claims["exp"]) - int(claims["iat"]) > 3600:
            return 400, {}, {"error": "invalid_grant", "error_description": "Invalid JWT: expiration too far."}
        token = "ya29." + secrets.token_urlsafe(24)
        with self.lock:
            self.tokens[token] = set(str(claims.get("scope", "")).split())
        return 200, {}, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}

    def _authorise(self, req: GoogleRequest, scope: str) -> tuple[int, dict[str, str], Any] | None:
        """401 without a valid token, 403 without ``scope``, an injected fault, else ``None``."""
        auth = req.headers.get("authorization", "")
        with self.lock:
            scopes = self.tokens.get(auth[7:]) if auth.startswith("Bearer ") else None
            fault = self.faults.pop(0) if scopes is not None and self.faults else None
        if scopes is None:
            return 401, {}, _error(401, "Request had invalid authentication credentials.")
        if scope not in scopes:
            return 403, {}, _error(403, "Request had insufficient authentication scopes.")
        if fault:
            return fault[0], fault[1], _error(fault[0], "Injected fault.")
        return None

    def handle_legacy(self, req: GoogleRequest) -> tuple[int, dict[str, str], Any]:
        refused = self._authorise(req, MALACHITE)
        if refused:
            return refused
        if len(req.body) > LEGACY_MAX_BYTES:
            return 400, {}, _error(400, f"Request payload size exceeds the limit: {LEGACY_MAX_BYTES} bytes.")
        try:
            doc = json.loads(req.body)
            problem = _legacy_problem(doc, self.instance, self.log_types)
        except ValueError:
            problem = "Invalid JSON payload received."
        if problem:
            return 400, {}, _error(400, problem)
        for i, entry in enumerate(doc["entries"]):
            rejected = self.reject_log({"data": entry["log_text"].encode()}) if self.reject_log else None
            if rejected:
                return 400, {}, _error(400, f"entries[{i}]: {rejected}")
        with self.lock:
            self.legacy_batches.append(doc)
            self.logs.extend({"data": e["log_text"].encode(), "legacy": True, **e} for e in doc["entries"])
        return 200, {}, {}

    def handle_import(self, req: GoogleRequest) -> tuple[int, dict[str, str], Any]:
        refused = self._authorise(req, CLOUD_PLATFORM)
        if refused:
            return refused
        if not req.path.startswith(self.parent) or req.path[len(self.parent):].split("/")[0] not in self.log_types:
            return 404, {}, _error(404, "Log type or instance not found.")
        if len(req.body) > 4_000_000:
            return 400, {}, _error(400, "Request payload size exceeds the limit: 4000000 bytes.")
        try:
            doc = json.loads(req.body)
            logs = doc["inlineSource"]["logs"]
            assert isinstance(logs, list) and logs
            decoded = [{**log, "data": base64.b64decode(log["data"], validate=True)} for log in logs]
        except (ValueError, KeyError, TypeError, AssertionError):
            return 400, {}, _error(400, "Invalid JSON payload: inlineSource.logs with base64 data is required.")
        for i, log in enumerate(decoded):
            problem = self.reject_log(log) if self.reject_log else None
            if problem:
                return 400, {}, _error(400, f"logs[{i}]: {problem}")
        with self.lock:
            self.logs.extend(decoded)
        return 200, {}, {}

    def start(self) -> "Chronicle":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                req = GoogleRequest(urlsplit(self.path).path, {k.lower(): v for k, v in self.headers.items()},
                                    self.rfile.read(length) if length else b"")
                if req.path == "/token":
                    status, headers, doc = receiver.handle_token(req)
                elif req.path == LEGACY_PATH:
                    status, headers, doc = receiver.handle_legacy(req)
                else:
                    status, headers, doc = receiver.handle_import(req)
                req.status = status
                with receiver.lock:
                    receiver.requests.append(req)
                data = json.dumps(doc).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="chronicle", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "Chronicle":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def _error(code: int, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": _STATUS.get(code, "UNKNOWN")}}


def _legacy_problem(doc: Any, customer_id: str, log_types: tuple[str, ...]) -> str | None:
    """What Google's legacy Ingestion API would refuse in an UnstructuredLogEntries body, else ``None``."""
    if not isinstance(doc, dict):
        return "Invalid JSON payload received."
    unknown = set(doc) - {"customer_id", "log_type", "namespace", "labels", "entries"}
    if unknown:
        return f"Invalid JSON payload received. Unknown name {sorted(unknown)[0]!r}."
    if doc.get("customer_id") != customer_id:
        return "customer_id: invalid or unknown customer."
    if doc.get("log_type") not in log_types:
        return f"log_type: {doc.get('log_type')!r} is not a supported log type."
    if "namespace" in doc and not isinstance(doc["namespace"], str):
        return "namespace: expected a string."
    labels = doc.get("labels", [])
    if not isinstance(labels, list) or not all(isinstance(lb, dict) and set(lb) == {"key", "value"}
                                               and all(isinstance(v, str) for v in lb.values()) for lb in labels):
        return "labels: expected a list of {key, value} strings."
    entries = doc.get("entries")
    if not isinstance(entries, list) or not entries:
        return "entries: at least one entry is required."
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("log_text"), str) or not entry["log_text"]:
            return f"entries[{i}].log_text: a non-empty string is required."
        times = [k for k in ("ts_epoch_microseconds", "ts_rfc3339") if k in entry]
        if set(entry) - {"log_text", "ts_epoch_microseconds", "ts_rfc3339"} or len(times) > 1:
            return f"entries[{i}]: log_text and at most one of ts_epoch_microseconds, ts_rfc3339."
        if "ts_rfc3339" in entry:
            try:
                datetime.fromisoformat(str(entry["ts_rfc3339"]).replace("Z", "+00:00"))
            except ValueError:
                return f"entries[{i}].ts_rfc3339: not an RFC 3339 time."
        if "ts_epoch_microseconds" in entry and not isinstance(entry["ts_epoch_microseconds"], int):
            return f"entries[{i}].ts_epoch_microseconds: an integer is required."
    return None
