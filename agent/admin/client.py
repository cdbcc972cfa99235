"""The client side of the admin API, for ``siemrelay sinks|send-test|tap|top``.

Where to connect and which token to send come, in order, from ``--admin-url`` /
``--token``, ``$SIEMRELAY_ADMIN_URL`` / ``$SIEMRELAY_ADMIN_TOKEN``, and the agent's
own configuration file (``agent.admin.address``, ``agent.admin.token``, else the
token the agent generated into ``<state_dir>/admin.token``), so on the agent's
host the commands work with no options at all.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator

import requests

from agent.admin.auth import read_token_file
from agent.sdk.json_types import JsonValue

__all__ = ["AdminClient", "ClientError", "resolve"]


class ClientError(Exception):
    """A failure to show the user (one line), with the exit code to use."""

    def __init__(self, message: str, code: int = 1, *, unreachable: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.unreachable = unreachable


def _admin_block(config_path: str) -> tuple[dict[str, Any], Path]:
    """The validated ``agent.admin`` block and state dir of a configuration file."""
    from agent.config.loader import load_config
    from agent.errors import ConfigError
    from agent.config.schema import AGENT_SCHEMA, validate_section, with_nested_defaults

    try:
        loaded = load_config(config_path)
    except ConfigError as exc:
        raise ClientError(str(exc), 2) from None
    problems: list[Any] = []
    agent = validate_section((loaded.data or {}).get("agent") or {}, with_nested_defaults(AGENT_SCHEMA), loaded.smap,
                             ("agent",), problems, proven=True)
    if agent is None:
        raise ClientError(str(ConfigError(problems)), 2)
    return agent["admin"], Path(agent["state_dir"])


def resolve(url: str | None, token: str | None, config_path: str | None) -> tuple[str, str, Any]:
    """Return ``(base URL, token, verify)`` for the admin API."""
    url = url or os.environ.get("SIEMRELAY_ADMIN_URL") or None
    token = token or os.environ.get("SIEMRELAY_ADMIN_TOKEN") or None
    verify: Any = True
    if url is None or token is None:
        if not config_path:
            raise ClientError("no admin API address: pass --admin-url or -c CONFIG", 2)
        admin, state_dir = _admin_block(config_path)
        tls = admin.get("tls") or {}
        if url is None:
            if not admin["enabled"]:
                raise ClientError(f"the admin API is not enabled in {config_path} (set agent.admin.enabled: true)", 2,
                                  unreachable=True)
            host, _, port = admin["address"].rpartition(":")
            host = {"0.0.0.0": "127.0.0.1", "[::]": "[::1]", "": "127.0.0.1"}.get(host, host)
            scheme = "https" if tls.get("enabled") or tls.get("cert_file") else "http"
            url = f"{scheme}://{host}:{port}"
            if scheme == "https" and tls.get("ca_file"):
                verify = tls["ca_file"]
        if token is None:
            token = admin.get("token") or read_token_file(state_dir)
            if not token:
                raise ClientError(f"no admin token: none configured and {state_dir / 'admin.token'} is missing or not "
                                  "readable by this user (run as the agent's user or root, or pass --token)", 2)
    return url.rstrip("/"), token, verify


class AdminClient:
    """Thin JSON client; errors become :class:`ClientError` with a message a person can act on."""

    def __init__(self, url: str, token: str, *, verify: bool | str = True, timeout: float = 30.0) -> None:
        self.url = url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.session.verify = verify
        self.timeout = timeout

    def _check(self, resp: requests.Response) -> requests.Response:
        if resp.status_code < 400:
            return resp
        try:
            message = resp.json().get("error", "")
        except ValueError:
            message = resp.text.strip()[:200]
        if resp.status_code == 401:
            raise ClientError(f"the admin API refused the token ({message})", 2)
        if resp.status_code == 403:
            raise ClientError(f"this needs the admin token, not the read-only one ({message})", 2)
        raise ClientError(f"HTTP {resp.status_code}: {message}", 2 if resp.status_code == 404 else 1)

    def _request(self, method: str, path: str,
                 **kw: Any) -> requests.Response:  # Any: requests.Session.request's keywords, passed on
        try:
            resp = self.session.request(method, self.url + path, timeout=kw.pop("timeout", self.timeout), **kw)
        except requests.ConnectionError:
            raise ClientError(f"cannot reach the admin API at {self.url}: is the agent running, with agent.admin.enabled: true?",
                              unreachable=True) from None
        except requests.Timeout:
            raise ClientError(f"the admin API at {self.url} did not answer in time") from None
        return self._check(resp)

    def get(self, path: str, **params: str | int | float | None) -> Any:
        return self._request("GET", path, params={k: v for k, v in params.items() if v is not None}).json()

    def post(self, path: str, body: JsonValue = None) -> Any:
        return self._request("POST", path, json=body).json()

    def stream(self, path: str, **params: str | int | float | None) -> Iterator[bytes]:
        """Yield the lines of an NDJSON stream (keep-alive blank lines skipped)."""
        resp = self._request("GET", path, params={k: v for k, v in params.items() if v is not None}, stream=True,
                             timeout=(self.timeout, None))
        try:
            while True:
                line = resp.raw.readline()  # line-buffered: events show up as they come
                if not line:
                    return
                line = line.strip()
                if line:
                    yield line
        except (OSError, requests.RequestException):
            return
        finally:
            resp.close()
