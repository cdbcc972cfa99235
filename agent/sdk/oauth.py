"""OAuth 2.0 access tokens for HTTP sinks: fetched once, cached, refreshed ahead of expiry.

A :class:`TokenProvider` wraps one way of obtaining a token (a :class:`TokenFetcher`):

- :class:`ClientCredentials`: the client-credentials grant (RFC 6749 §4.4) against any
  token endpoint (Microsoft Entra ID, Okta, Keycloak, ...).
- :class:`ManagedIdentity`: Azure's instance metadata service (IMDS), for an agent on
  an Azure VM with a managed identity: no secret in the configuration at all.
- :class:`agent.sdk.oauth_google.GoogleServiceAccount`: a Google service-account key,
  through the official ``google-auth`` library (a signed JWT exchanged for a token).

Failures are outcomes, like a sink's: a fetcher returns a :class:`~agent.sdk.outcome.Delivery`
instead of a token. A refused credential (``invalid_client``: a wrong or expired
client secret) is REJECT with ``open_circuit``: retrying will not fix it, the events
stay queued until an operator does. An unreachable or overloaded token endpoint is
RETRY. :func:`bearer_request` sends a request with the token and, on a 401 or 403,
fetches a fresh token and tries once more (a token revoked early, a role assigned
since), so the sink sees the destination's answer to a fresh token.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Protocol
from urllib.parse import urlencode

import orjson
import requests

from agent.sdk.outcome import Delivery, parse_retry_after
from agent.sdk.httpclient import HttpClient
from agent.sdk.net import IMDS_ENDPOINT

__all__ = ["AccessToken", "TokenFetcher", "TokenProvider", "ClientCredentials", "ManagedIdentity",
           "bearer_request", "token_outcome", "IMDS_ENDPOINT", "OAUTH_ERRORS"]

#: RFC 6749 §5.2 error codes: each means the request or the credentials are wrong.
OAUTH_ERRORS = frozenset({"invalid_request", "invalid_client", "invalid_grant", "unauthorized_client",
                          "unsupported_grant_type", "invalid_scope"})

Result = tuple["requests.Response | None", "BaseException | None"]


@dataclass(frozen=True, slots=True)
class AccessToken:
    """A bearer token and the wall-clock time (epoch seconds) it expires at."""

    value: str
    expires_at: float

    def __repr__(self) -> str:  # the token is a credential: never in a repr
        return f"AccessToken(expires_at={self.expires_at:.0f})"


class TokenFetcher(Protocol):
    """One way of obtaining a token; never raises for a remote failure."""

    def fetch(self) -> AccessToken | Delivery:
        """Return a fresh token, or the classified failure."""
        ...  # pragma: no cover - protocol

    def close(self) -> None:
        """Release the fetcher's connections."""
        ...  # pragma: no cover - protocol


class TokenProvider:
    """Cache a fetcher's token; refresh it in the background before it expires.

    A token is used until ``refresh_margin_s`` before its expiry (at most a fifth of its
    lifetime); from then on the next caller starts one background refresh and keeps
    using the still-valid token, so a send never waits for the token endpoint while a
    token is valid. Within ``expiry_skew_s`` of expiry the token is no longer handed
    out and the caller fetches synchronously.

    :param clock: wall clock in epoch seconds (injected for tests).
    """

    def __init__(self, fetcher: TokenFetcher, *, clock: Callable[[], float] = time.time,
                 refresh_margin_s: float = 300.0, expiry_skew_s: float = 30.0) -> None:
        self.fetcher = fetcher
        self.clock = clock
        self.refresh_margin_s = refresh_margin_s
        self.expiry_skew_s = expiry_skew_s
        self._lock = threading.Lock()
        self._token: AccessToken | None = None
        self._refresh_at = 0.0
        self._refresher: threading.Thread | None = None
        self.fetches = 0

    def token(self) -> AccessToken | Delivery:
        """A valid token, or the failure that prevented getting one."""
        now = self.clock()
        with self._lock:
            token = self._token
            if token is not None and now < token.expires_at - self.expiry_skew_s:
                if now >= self._refresh_at and self._refresher is None:
                    self._refresher = threading.Thread(target=self._refresh_in_background, name="oauth-refresh")
                    self._refresher.start()
                return token
        return self._fetch()

    def invalidate(self, token: AccessToken) -> None:
        """Forget ``token`` (the destination refused it); the next call fetches anew."""
        with self._lock:
            if self._token == token:
                self._token = None

    def _fetch(self) -> AccessToken | Delivery:
        outcome = self.fetcher.fetch()
        self.fetches += 1
        if isinstance(outcome, AccessToken):
            self._store(outcome)
        return outcome

    def _store(self, token: AccessToken) -> None:
        now = self.clock()
        lifetime = max(0.0, token.expires_at - now)
        with self._lock:
            self._token = token
            self._refresh_at = token.expires_at - min(self.refresh_margin_s, lifetime / 5)

    def _refresh_in_background(self) -> None:
        try:
            self._fetch()  # a failure keeps the current token until it expires
        finally:
            with self._lock:
                self._refresher = None

    def close(self) -> None:
        """Wait for a background refresh in flight, then close the fetcher."""
        with self._lock:
            refresher = self._refresher
        if refresher is not None:
            refresher.join(timeout=30)
        self.fetcher.close()


def bearer_request(client: HttpClient, tokens: TokenProvider, method: str, url: str,
                   **kwargs: Any) -> Delivery | Result:  # Any: HttpClient.request's keywords, passed on
    """Send with ``Authorization: Bearer``; on 401/403 refresh the token once and resend.

    :returns: the token failure as a Delivery, else ``(response, error)`` of the last try.
    """
    headers = dict(kwargs.pop("headers", None) or {})
    result: Result = (None, None)
    for attempt in range(2):
        token = tokens.token()
        if isinstance(token, Delivery):
            return token
        headers["Authorization"] = f"Bearer {token.value}"
        result = client.request(method, url, headers=headers, **kwargs)
        response = result[0]
        if response is None or response.status_code not in (401, 403) or attempt:
            return result
        tokens.invalidate(token)
    return result


def token_outcome(client: HttpClient, response: "requests.Response | None", error: BaseException | None,
                  url: str, clock: Callable[[], float], what: str) -> AccessToken | Delivery:
    """Classify a token endpoint's answer (OAuth 2.0 JSON) as a token or a failure."""
    if response is None:
        outcome = client.classify(None, error, url)
        if outcome.open_circuit:  # the egress proxy refused our credentials
            return Delivery.reject(f"{what}: {outcome.reason}", code=outcome.code, open_circuit=True)
        return Delivery.retry(f"{what} unreachable: {outcome.reason}", code=outcome.code, error_kind=outcome.error_kind)
    code = response.status_code
    try:
        body = orjson.loads(response.content) if response.content else {}
    except orjson.JSONDecodeError:
        body = {}
    body = body if isinstance(body, dict) else {}
    if 200 <= code < 300 and isinstance(body.get("access_token"), str) and body["access_token"]:
        try:
            lifetime = float(body.get("expires_in", 3600))
        except (TypeError, ValueError):
            lifetime = 3600.0
        return AccessToken(body["access_token"], clock() + lifetime)
    error_code = str(body.get("error") or "")
    detail = str(body.get("error_description") or "").split("\r\n")[0].split("\n")[0][:200]
    reason = client.clean(f"{what} answered HTTP {code}" + (f": {error_code}" if error_code else "")
                          + (f" ({detail})" if detail else ""), url)
    if 200 <= code < 300:
        return Delivery.retry(f"{reason}: no access_token in the answer", code=code)
    if code in (408, 425, 429) or code >= 500:
        return Delivery.retry(reason, parse_retry_after(response.headers.get("Retry-After")), code=code)
    return Delivery.reject(f"{reason}; check the sink's credentials", code=code, open_circuit=True)


class ClientCredentials:
    """The client-credentials grant: POST ``client_id``, ``client_secret``, ``scope``.

    The secret goes in the form body (``client_secret_post``), as Microsoft Entra ID
    and most providers accept; it is never part of a reason.
    """

    def __init__(self, client: HttpClient, token_url: str, client_id: str, client_secret: str, scope: str,
                 clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.token_url = token_url
        self.clock = clock
        self._form = urlencode({"grant_type": "client_credentials", "client_id": client_id,
                                "client_secret": client_secret, "scope": scope})

    def fetch(self) -> AccessToken | Delivery:
        response, error = self.client.request(
            "POST", self.token_url, data=self._form,
            headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"})
        return token_outcome(self.client, response, error, self.token_url, self.clock, "token endpoint")

    def close(self) -> None:
        self.client.close()


class ManagedIdentity:
    """Azure managed identity: ``GET`` the IMDS token endpoint with ``Metadata: true``.

    IMDS answers 400 when the VM has no such identity (permanent, opens the circuit)
    and 404/410/429/5xx while it is updating or busy (Microsoft says: retry).

    :param client_id: the user-assigned identity to use; ``None`` for the system one.
    """

    def __init__(self, client: HttpClient, resource: str, client_id: str | None = None,
                 endpoint: str = IMDS_ENDPOINT, clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.clock = clock
        query: dict[str, str] = {"api-version": "2018-02-01", "resource": resource}
        if client_id:
            query["client_id"] = client_id
        self.url = f"{endpoint}?{urlencode(query)}"

    def fetch(self) -> AccessToken | Delivery:
        response, error = self.client.request("GET", self.url, headers={"Metadata": "true"})
        if response is not None and response.status_code in (404, 410):
            return Delivery.retry(f"managed identity endpoint answered HTTP {response.status_code} (updating)",
                                  code=response.status_code)
        return token_outcome(self.client, response, error, self.url, self.clock, "managed identity endpoint")

    def close(self) -> None:
        self.client.close()

