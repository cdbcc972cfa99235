"""Refuse cross-site requests that would change state (CSRF), before any handler runs.

The status page is opened in a browser with HTTP Basic, and browsers resend cached
Basic credentials on *any* request to the same origin, including a form a foreign
page posts on its own. Tokens alone therefore do not prove the operator meant the
action. A state-changing request (every method but GET, HEAD, OPTIONS) must:

1. not come from a foreign page: ``Sec-Fetch-Site`` (sent by every current browser)
   must be absent, ``same-origin`` or ``none``, and ``Origin``, when present, must be
   this server's own origin (scheme and ``Host``). ``same-site`` is refused too: another
   port on the same host is another origin.
2. carry proof that no HTML form produced it: ``Authorization: Bearer`` (what the CLI
   and scripts send) or ``Content-Type: application/json``. A form can send neither,
   and a script on a foreign page cannot either without a CORS preflight, which this
   server never grants.

This is the check the OWASP CSRF cheat sheet calls "verifying origin with standard
headers" plus a custom-header requirement; no token state is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["SAFE_METHODS", "Headers", "Refusal", "cross_site_refusal"]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_SAME_SITE_OK = frozenset({"same-origin", "none"})


class Headers(Protocol):
    """Anything that looks a header up by name (``email.message.Message``, a dict)."""

    def get(self, name: str, /) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request is refused, and with which status."""

    status: int
    message: str


def _media_type(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


def _uses_bearer(authorization: str) -> bool:
    scheme, _, value = authorization.strip().partition(" ")
    return scheme.lower() == "bearer" and bool(value.strip())


def cross_site_refusal(method: str, headers: Headers, *, scheme: str) -> Refusal | None:
    """Return why a request must be refused as possibly cross-site, or ``None`` to let it through.

    :param method: the request method; safe methods always pass.
    :param headers: the request headers (a case-insensitive mapping such as
        :class:`email.message.Message`, or one with canonical names).
    :param scheme: ``http`` or ``https``: how this server is reached, to rebuild its origin.
    """
    if method.upper() in SAFE_METHODS:
        return None
    fetch_site = (headers.get("Sec-Fetch-Site") or "").strip().lower()
    if fetch_site and fetch_site not in _SAME_SITE_OK:
        return Refusal(403, f"cross-site request refused (Sec-Fetch-Site: {fetch_site[:40]}): state-changing admin "
                            "actions are only taken from the status page's own origin or from the CLI")
    origin = headers.get("Origin")
    if origin is not None:
        host = (headers.get("Host") or "").strip().lower()
        own = f"{scheme}://{host}"
        if not host or origin.strip().lower() != own:
            return Refusal(403, f"cross-site request refused (Origin {origin.strip()[:100]!r} is not {own!r}): "
                                "state-changing admin actions are only taken from this server's own origin")
    if _uses_bearer(headers.get("Authorization") or ""):
        return None
    if _media_type(headers.get("Content-Type") or "") == "application/json":
        return None
    return Refusal(415, "state-changing admin actions need 'Authorization: Bearer TOKEN' or "
                        "'Content-Type: application/json' (a browser form can send neither, so a foreign page "
                        "cannot make one)")
