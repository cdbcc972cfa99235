"""Admin API tokens: where they come from and how a request proves it holds one.

Two roles, as on the security vendors' own platforms (admins change webhooks,
others may only look): the **admin** token may call everything, the **read** token
only what does not change state. When ``agent.admin.token`` is empty the agent
generates a random admin token once into ``<state_dir>/admin.token`` (mode 0600,
kept across restarts), so the API is never open and the local ``siemrelay``
commands, run as the same user or root, find it without configuration.
"""

from __future__ import annotations

import base64
import hmac
import os
import secrets
from pathlib import Path
from typing import Mapping

__all__ = ["TOKEN_FILE", "Tokens", "load_or_create_token", "read_token_file", "role_of"]

TOKEN_FILE = "admin.token"


def read_token_file(state_dir: Path) -> str | None:
    """The generated admin token, or ``None`` when there is none (or it is unreadable)."""
    try:
        text = (Path(state_dir) / TOKEN_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return text or None


def load_or_create_token(state_dir: Path) -> str:
    """Return the generated admin token, creating it (0600, atomically) on first use."""
    existing = read_token_file(state_dir)
    if existing:
        return existing
    path = Path(state_dir) / TOKEN_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    tmp = path.with_name(f".{TOKEN_FILE}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, (token + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return token


class Tokens:
    """The admin token and the optional read-only token of one server."""

    def __init__(self, admin: str, read: str | None = None) -> None:
        if not admin:
            raise ValueError("an admin token is required")
        self.admin = admin
        self.read = read or None

    def values(self) -> list[str]:
        """Both tokens, to hand to the log redactor."""
        return [t for t in (self.admin, self.read) if t]


def _presented(headers: Mapping[str, str]) -> str | None:
    auth = headers.get("Authorization") or ""
    scheme, _, value = auth.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return value
    if scheme.lower() == "basic" and value:
        # browsers (the status page): any user name, the token as password
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2] or None
    return None


def role_of(headers: Mapping[str, str], tokens: Tokens) -> str | None:
    """``"admin"``, ``"read"`` or ``None`` for a request's ``Authorization`` header.

    Comparisons are constant-time so response timing does not leak token prefixes.
    """
    given = _presented(headers)
    if not given:
        return None
    raw = given.encode("utf-8", "surrogateescape")
    if hmac.compare_digest(raw, tokens.admin.encode()):
        return "admin"
    if tokens.read and hmac.compare_digest(raw, tokens.read.encode()):
        return "read"
    return None
