"""A strict Google receiver: the OAuth 2.0 token endpoint (JWT bearer grant, RFC 7523) and
the Chronicle API's ``logs.import``, written from Google's documentation.

- ``POST /token`` takes ``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`` and an
  ``assertion`` signed RS256 by a known service account (checked with google-auth's own
  verifier): ``iss`` the account's email, ``aud`` Google's token URL, ``scope`` with
  cloud-platform, ``exp`` within an hour. A bad signature or unknown account → 400
  ``invalid_grant`` (as Google answers a revoked or deleted key). Success:
  ``{access_token, expires_in, token_type}``.
- ``POST /v1alpha/projects/P/locations/R/instances/I/logTypes/T/logs:import``: bearer
  token required (401 ``UNAUTHENTICATED``), unknown instance or log type → 404
  ``NOT_FOUND``, a body over 4 MB or not ``{"inlineSource": {"logs": [...]}}`` with
  base64 ``data`` → 400 ``INVALID_ARGUMENT``. Success: 200 with an empty JSON object.

Faults: :meth:`Chronicle.fail_next`, :meth:`Chronicle.fail_token_next`; :meth:`Chronicle.revoke_tokens`.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from dataclasses import dataclass
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
        self.tokens: set[str] = set()
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
        return [r for r in self.requests if r.path.endswith("logs:import")]

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
        if "https://www.googleapis.com/auth/cloud-platform" not in str(claims.get("scope", "")).split():
            return 400, {}, {"error": "invalid_scope", "error_description": "Invalid OAuth scope."}
        if int(claims["exp"]) - int(claims["iat"]) > 3600:
            return 400, {}, {"error": "invalid_grant", "error_description": "Invalid JWT: expiration too far."}
        token = "ya29." + secrets.token_urlsafe(24)
        with self.lock:
            self.tokens.add(token)
        return 200, {}, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}

    def handle_import(self, req: GoogleRequest) -> tuple[int, dict[str, str], Any]:
        auth = req.headers.get("authorization", "")
        with self.lock:
            valid = auth.startswith("Bearer ") and auth[7:] in self.tokens
            fault = self.faults.pop(0) if valid and self.faults else None
        if not valid:
            return 401, {}, _error(401, "Request had invalid authentication credentials.")
        if fault:
            return fault[0], fault[1], _error(fault[0], "Injected fault.")
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
