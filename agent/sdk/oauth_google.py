"""Google service-account tokens through the official ``google-auth`` library.

The library signs a JWT with the key file's private key and exchanges it at the key's
``token_uri`` (RFC 7523 JWT bearer grant); we only classify what it reports. It is an
optional dependency (``pip install 'siemrelay[secops]'``), imported when a sink asks
for a service account, so an agent without Google sinks never needs it.
"""

from __future__ import annotations

import time
from datetime import timezone
from typing import Any, Callable, Sequence

from agent.sdk.outcome import Delivery, parse_retry_after
from agent.sdk.httpclient import HttpClient
from agent.sdk.oauth import OAUTH_ERRORS, AccessToken

__all__ = ["GoogleServiceAccount", "load_service_account", "MISSING_GOOGLE_AUTH"]

MISSING_GOOGLE_AUTH = ("Google service-account credentials need the google-auth library: "
                       "pip install 'siemrelay[secops]'")


def load_service_account(path: str, scopes: Sequence[str]) -> Any:
    """Read a service-account key file with google-auth.

    :raises ValueError: naming the problem (missing library, unreadable or not a
        service-account key), never quoting the key.
    """
    try:
        from google.oauth2 import service_account
    except ImportError:
        raise ValueError(MISSING_GOOGLE_AUTH) from None
    try:
        return service_account.Credentials.from_service_account_file(path, scopes=list(scopes))  # type: ignore[no-untyped-call]
    except OSError as exc:
        raise ValueError(f"cannot read the service-account key file {path}: {exc.strerror}") from None
    except (ValueError, KeyError, TypeError) as exc:
        missing = f" (missing {exc})" if isinstance(exc, KeyError) else ""
        raise ValueError(f"{path} is not a Google service-account key (JSON with type service_account, "
                         f"client_email, private_key, token_uri){missing}") from None


class GoogleServiceAccount:
    """Fetch tokens for a service account; HTTP goes through ``client`` (its proxy and TLS).

    :param credentials: from :func:`load_service_account`.
    """

    def __init__(self, client: HttpClient, credentials: Any, clock: Callable[[], float] = time.time) -> None:
        from google.auth.transport.requests import Request

        class _Recording(Request):  # google-auth's requests transport
            """google-auth's requests transport, remembering the last answer's status and Retry-After."""

            status: int | None = None
            retry_after: str | None = None

            def __call__(self, *args: Any, **kwargs: Any) -> Any:
                kwargs.setdefault("timeout", client.timeout)
                response = super().__call__(*args, **kwargs)  # type: ignore[no-untyped-call]
                self.status, self.retry_after = response.status, response.headers.get("Retry-After")
                return response

        self.client = client
        self.credentials = credentials
        self.clock = clock
        self.token_uri = str(getattr(credentials, "_token_uri", ""))
        client.session.proxies.update(client.proxy.for_url(self.token_uri))  # google-auth calls the session directly
        self._request = _Recording(session=client.session)

    def fetch(self) -> AccessToken | Delivery:
        from google.auth import exceptions
        from google.oauth2 import _client

        self._request.status = None
        try:
            # the JWT bearer grant without google-auth's own retry loop: the delivery worker
            # owns retries and backoff, a sink never sleeps
            assertion = self.credentials._make_authorization_grant_assertion()
            token, expiry, _ = _client.jwt_grant(self._request, self.token_uri, assertion,  # type: ignore[no-untyped-call]
                                                 can_retry=False)
        except exceptions.RefreshError as exc:
            status = self._request.status
            reason = self.client.clean(f"Google token endpoint answered HTTP {status}: {_first(exc)}", self.token_uri)
            if status is not None and (status in (408, 425, 429) or status >= 500):
                return Delivery.retry(reason, parse_retry_after(self._request.retry_after), code=status)
            if status is None and getattr(exc, "retryable", False) and _oauth_error(exc) not in OAUTH_ERRORS:
                return Delivery.retry(reason)
            return Delivery.reject(reason + "; check the key file and the account's roles", code=status,
                                   open_circuit=True)
        except exceptions.TransportError as exc:
            return Delivery.retry(self.client.clean(f"Google token endpoint unreachable: {_first(exc)}", self.token_uri),
                                  error_kind="timeout" if "timeout" in str(exc).lower() else "connection")
        expires_at = expiry.replace(tzinfo=timezone.utc).timestamp() if expiry is not None else self.clock() + 3600
        return AccessToken(str(token), expires_at)

    def close(self) -> None:
        self.client.close()


def _first(exc: BaseException) -> str:
    text = str(exc.args[0]) if exc.args else type(exc).__name__
    return " ".join(text.split())[:200]


def _oauth_error(exc: BaseException) -> str:
    """The RFC 6749 error code google-auth put in front of its message (``invalid_grant: ...``)."""
    return _first(exc).split(":", 1)[0].strip()
