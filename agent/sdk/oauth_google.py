"""Google service-account tokens through the official ``google-auth`` library.

The library signs a JWT with the key file's private key and exchanges it at the key's
``token_uri`` (RFC 7523 JWT bearer grant), through its public ``Credentials.refresh``;
we only classify what the token endpoint answers. It is an
optional dependency (``pip install 'siemrelay[secops]'``), imported when a sink asks
for a service account, so an agent without Google sinks never needs it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timezone
from pathlib import Path
from typing import Any, Callable, Sequence

import orjson

from agent.sdk.outcome import Delivery, parse_retry_after
from agent.sdk.httpclient import HttpClient, ProxyRefused, proxy_outcome, proxy_refusal
from agent.sdk.oauth import AccessToken

__all__ = ["GoogleServiceAccount", "ServiceAccount", "load_service_account", "MISSING_GOOGLE_AUTH"]

MISSING_GOOGLE_AUTH = ("Google service-account credentials need the google-auth library: "
                       "pip install 'siemrelay[secops]'")


@dataclass(frozen=True, slots=True)
class ServiceAccount:
    """A service-account key read by google-auth, and the token endpoint it names."""

    credentials: Any  # google.oauth2.service_account.Credentials (google-auth is untyped and optional)
    token_uri: str

    def __repr__(self) -> str:  # the credentials hold the private key: never in a repr
        return f"ServiceAccount(token_uri={self.token_uri!r})"


def load_service_account(path: str, scopes: Sequence[str]) -> ServiceAccount:
    """Read a service-account key file with google-auth, scoped to ``scopes``.

    :raises ValueError: naming the problem (missing library, unreadable or not a
        service-account key), never quoting the key.
    """
    try:
        from google.oauth2 import service_account
    except ImportError:
        raise ValueError(MISSING_GOOGLE_AUTH) from None
    not_a_key = (f"{path} is not a Google service-account key (JSON with type service_account, "
                 f"client_email, private_key, token_uri)")
    try:
        info = orjson.loads(Path(path).read_bytes())
    except OSError as exc:
        raise ValueError(f"cannot read the service-account key file {path}: {exc.strerror}") from None
    except orjson.JSONDecodeError:
        raise ValueError(not_a_key) from None
    if not isinstance(info, dict) or not isinstance(info.get("token_uri"), str):
        raise ValueError(not_a_key + " (missing 'token_uri')") from None
    try:
        credentials = service_account.Credentials.from_service_account_info(info)  # type: ignore[no-untyped-call]
    except (ValueError, KeyError, TypeError) as exc:
        missing = f" (missing {exc})" if isinstance(exc, KeyError) else ""
        raise ValueError(not_a_key + missing) from None
    return ServiceAccount(credentials.with_scopes(list(scopes)), info["token_uri"])


class _TokenAnswer(Exception):
    """A token endpoint's non-200 answer, raised out of google-auth before its retry loop sleeps."""

    def __init__(self, status: int, retry_after: str | None, body: bytes) -> None:
        super().__init__(f"HTTP {status}")
        self.status, self.retry_after, self.body = status, retry_after, body


class GoogleServiceAccount:
    """Fetch tokens for a service account; HTTP goes through ``client`` (its proxy and TLS).

    The token comes from google-auth's public API, ``Credentials.refresh(Request(session))``,
    with ``session`` the sink's own (proxy, TLS, timeout). google-auth retries a 429 or 5xx
    from the token endpoint itself, sleeping between attempts; a sink never sleeps (the
    delivery worker owns retries and backoff), so the transport below stops at the first
    answer that is not a 200 and this class classifies it.

    :param account: from :func:`load_service_account`.
    """

    def __init__(self, client: HttpClient, account: ServiceAccount, clock: Callable[[], float] = time.time) -> None:
        from google.auth.transport.requests import Request

        proxied = bool(client.proxy.for_url(account.token_uri))

        class _FirstAnswer(Request):  # google-auth's requests transport
            """google-auth's requests transport, ending the exchange at the first non-200 answer."""

            def __call__(self, *args: Any, **kwargs: Any) -> Any:  # Any: google-auth's Request signature (untyped)
                kwargs.setdefault("timeout", client.timeout)
                # through a proxy, read the status before the body (as HttpClient.request does): a
                # proxy refusing the request closes the connection without reading what we sent
                kwargs.setdefault("stream", proxied)
                response = super().__call__(*args, **kwargs)  # type: ignore[no-untyped-call]
                refused = proxy_refusal(response.status, response.headers) if proxied else None
                if refused is not None:
                    raise refused
                if response.status != 200:
                    raise _TokenAnswer(response.status, response.headers.get("Retry-After"), response.data)
                return response

        self.client = client
        self.credentials = account.credentials
        self.clock = clock
        self.token_uri = account.token_uri
        client.session.proxies.update(client.proxy.for_url(self.token_uri))  # google-auth calls the session directly
        self._request = _FirstAnswer(session=client.session)

    def fetch(self) -> AccessToken | Delivery:
        from google.auth import exceptions

        try:
            self.credentials.refresh(self._request)
        except _TokenAnswer as answer:
            return self._refused(answer)
        except ProxyRefused as refused:
            return proxy_outcome(refused, self.client.clean(str(refused), self.token_uri))
        except exceptions.TransportError as exc:
            return Delivery.retry(self.client.clean(f"Google token endpoint unreachable: {_first(exc)}", self.token_uri),
                                  error_kind="timeout" if "timeout" in str(exc).lower() else "connection")
        except exceptions.RefreshError as exc:  # a 200 without a token in it
            return Delivery.retry(self.client.clean(f"Google token endpoint answered without a token: {_first(exc)}",
                                                    self.token_uri))
        expiry = self.credentials.expiry
        expires_at = expiry.replace(tzinfo=timezone.utc).timestamp() if expiry is not None else self.clock() + 3600
        return AccessToken(str(self.credentials.token), expires_at)

    def _refused(self, answer: _TokenAnswer) -> Delivery:
        """Classify a token endpoint's refusal: overload retries, a refused key opens the circuit."""
        error, description = _oauth_error_of(answer.body)
        detail = f"{error}: {description}" if error and description else (error or description or "no error given")
        status = answer.status
        reason = self.client.clean(f"Google token endpoint answered HTTP {status}: {detail}", self.token_uri)
        if status in (408, 425, 429) or status >= 500 or error in _RETRYABLE_ERRORS:
            return Delivery.retry(reason, parse_retry_after(answer.retry_after), code=status)
        return Delivery.reject(reason + "; check the key file and the account's roles", code=status, open_circuit=True)

    def close(self) -> None:
        self.client.close()


#: OAuth error codes that name a passing condition at the token endpoint (RFC 6749 §4.1.2.1).
_RETRYABLE_ERRORS = frozenset({"temporarily_unavailable", "server_error", "internal_failure"})


def _oauth_error_of(body: bytes) -> tuple[str, str]:
    """The ``error`` and ``error_description`` of a token endpoint's JSON answer (empty when absent)."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return "", " ".join(body[:200].decode("utf-8", "replace").split())
    if not isinstance(doc, dict):
        return "", ""
    error, description = doc.get("error"), doc.get("error_description")
    return (" ".join(str(error).split())[:100] if isinstance(error, str) else "",
            " ".join(str(description).split())[:200] if isinstance(description, str) else "")


def _first(exc: BaseException) -> str:
    text = str(exc.args[0]) if exc.args else type(exc).__name__
    return " ".join(text.split())[:200]
