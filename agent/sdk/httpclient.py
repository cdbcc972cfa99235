"""One HTTP client per sink: a ``requests.Session`` with the sink's TLS and timeouts.

Every HTTP sink (``splunk_hec``, ``slack``, ``teams``, ``webhook``) talks through an
:class:`HttpClient`, so TLS (``tls: {ca_file, cert_file, key_file, verify,
server_name, min_version}``), the User-Agent, connection reuse and the rule that turns
a response into a :class:`~agent.sdk.outcome.Delivery` are the same for all of them.
Reasons never carry the URL: webhook URLs embed their key, and requests' exception
texts quote the path.

Egress proxies (:mod:`agent.sdk.proxy`) are chosen per request (``no_proxy`` decides), and
a proxy's own refusals are classified apart from the destination's: ``407 Proxy
Authentication Required`` (or a proxy's own 401, see :func:`proxy_refusal`) opens the
circuit (the proxy credentials are wrong; retrying will not fix them), a proxy's
502/503/504 (it could not reach the destination) retries.
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Any, Callable, Mapping
from urllib.parse import SplitResult, urlsplit

import requests
import ssl
from requests.adapters import HTTPAdapter

from agent.version import __version__
from agent.sdk.outcome import Delivery, classify_http
from agent.sdk.proxy import ProxySettings
from agent.sdk.tls import client_context
from agent.sdk.net import url_check  # noqa: F401  (its home before; plugins import it from here)

__all__ = ["HttpClient", "ProxyRefused", "USER_AGENT", "url_check", "proxy_refusal", "proxy_outcome"]

USER_AGENT = f"siemrelay/{__version__}"
_URL_IN_TEXT = re.compile(r"(url: |https?://)\S+")
_TUNNEL_STATUS = re.compile(r"Tunnel connection failed: (\d{3})")


class ProxyRefused(OSError):
    """The egress proxy, not the destination, refused the request (CONNECT or forward).

    :ivar status: the proxy's HTTP status (407, 502, 503, 504, ...).
    """

    def __init__(self, status: int, text: str = "") -> None:
        self.status = status
        super().__init__(f"proxy answered {status}{': ' + text if text else ''}")


class _TLSAdapter(HTTPAdapter):
    """An adapter whose pools use our SSL context (CA, client cert, min version) and SNI name."""

    def __init__(self, ssl_context: ssl.SSLContext | None, server_name: str | None,
                 **kwargs: Any) -> None:  # Any: HTTPAdapter's keywords, passed on
        self._ssl_context = ssl_context
        self._server_name = server_name
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:  # Any: the overridden signature, as typeshed has it
        kwargs["ssl_context"] = self._ssl_context
        if self._server_name:
            kwargs["server_hostname"] = self._server_name
            kwargs["assert_hostname"] = self._server_name
        super().init_poolmanager(*args, **kwargs)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:  # Any: the overridden signature, as typeshed has it
        """Through a proxy (CONNECT), the destination's TLS uses the same context and SNI name."""
        proxy_kwargs["ssl_context"] = self._ssl_context
        if self._server_name:
            proxy_kwargs["server_hostname"] = self._server_name
            proxy_kwargs["assert_hostname"] = self._server_name
        return super().proxy_manager_for(proxy, **proxy_kwargs)


class HttpClient:
    """A session bound to one sink's settings.

    :param tls: the sink's validated ``tls`` block.
    :param timeout_s: connect and read timeout of one request (the worker's
        ``retry.timeout_s``).
    :param redact: the agent's redactor, applied to every reason text.
    :param proxy: the sink's validated ``proxy`` block (``agent.proxy`` when the sink
        has none); ``None`` or ``{}`` sends directly.
    :param environ: the environment ``proxy.from_env`` reads (default ``os.environ``).
    """

    def __init__(self, *, tls: Mapping[str, Any] | None = None, timeout_s: float = 10.0,
                 headers: Mapping[str, str] | None = None, redact: Callable[[str], str] = lambda t: t,
                 pool_size: int = 4, proxy: Mapping[str, Any] | None = None,
                 environ: Mapping[str, str] | None = None) -> None:
        tls = dict(tls or {})
        self.timeout = (min(timeout_s, 10.0), timeout_s)
        self.proxy = ProxySettings.from_config(proxy, os.environ if environ is None else environ)
        proxy_secrets = self.proxy.secrets()

        def redact_all(text: str) -> str:
            for secret in proxy_secrets:
                text = text.replace(secret, "***")
            return redact(text)

        self.redact = redact_all if proxy_secrets else redact
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        self.session.headers.update(dict(headers or {}))
        self.session.trust_env = False  # no env proxy or netrc surprises; the proxy block says where we send
        context = client_context(tls)
        self.session.verify = bool(tls.get("verify", True))
        adapter = _TLSAdapter(context, tls.get("server_name"), pool_connections=1, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0))

    def request(self, method: str, url: str,
                **kwargs: Any) -> tuple[requests.Response | None, BaseException | None]:  # Any: Session.request's keywords
        """Send one request; return ``(response, None)`` or ``(None, error)``; never raises for I/O."""
        kwargs.setdefault("timeout", self.timeout)
        kwargs.setdefault("allow_redirects", False)
        proxies = self.proxy.for_url(url)
        kwargs["proxies"] = proxies
        # through a proxy, read the status before the body: a proxy that refuses a request
        # closes the connection without reading what we sent, which resets the body's read
        kwargs["stream"] = bool(proxies)
        try:
            response = self.session.request(method, url, **kwargs)
            refused = proxy_refusal(response.status_code, response.headers) if proxies else None
            if refused is not None:
                response.close()
                return None, refused
            if proxies:
                response.content  # noqa: B018 - read it now, inside the error handling
        except requests.exceptions.ProxyError as exc:
            found = _TUNNEL_STATUS.search(str(exc))
            return None, ProxyRefused(int(found.group(1)), _tunnel_text(str(exc))) if found else exc
        except (requests.RequestException, OSError, ValueError) as exc:
            return None, exc
        return response, None

    def post(self, url: str, data: bytes, headers: Mapping[str, str] | None = None) -> Delivery:
        """POST ``data`` and classify the answer (2xx OK; 408/425/429/5xx/network RETRY; else REJECT)."""
        response, error = self.request("POST", url, data=data, headers=dict(headers or {}))
        return self.classify(response, error, url)

    def classify(self, response: requests.Response | None, error: BaseException | None, url: str) -> Delivery:
        """:func:`classify_http` with the reason cleaned of URLs and secrets; proxy refusals apart."""
        if isinstance(error, ProxyRefused):
            return proxy_outcome(error, self.clean(str(error), url))
        outcome = classify_http(response, error)
        reason = self.clean(outcome.reason, url)
        if reason == outcome.reason:
            return outcome
        return dataclasses.replace(outcome, reason=reason)  # keeps every field (error_kind, vendor_code)

    def clean(self, text: str, url: str = "") -> str:
        """Remove the URL (path and query may hold a key) and known secrets from ``text``."""
        if url:
            parts = urlsplit(url)
            if parts.path and parts.path != "/":
                text = text.replace(parts.path, "/***")
            text = text.replace(url, f"{parts.scheme}://{_netloc(parts)}/***")
        text = _URL_IN_TEXT.sub(lambda m: m.group(1) + "***" if m.group(1) == "url: " else _host_only(m.group(0)), text)
        return self.redact(text)

    def close(self) -> None:
        self.session.close()


#: Proxies that answer a wrong password with their own ``401`` (not ``407``) on a forwarded
#: request, named by the product token of their ``Server`` header or their challenge's realm.
PROXIES_ANSWERING_401 = ("tinyproxy",)


def proxy_refusal(status: int, headers: Mapping[str, str]) -> ProxyRefused | None:
    """The proxy's own refusal of a request sent through it, or ``None`` when the answer is the destination's.

    ``407`` is always the proxy's. A ``401`` is the proxy's when it challenges for the proxy
    (``Proxy-Authenticate``) or comes from a proxy known to answer bad credentials with 401:
    tinyproxy answers a wrong password on plain HTTP with ``401`` and ``WWW-Authenticate:
    Basic realm="Tinyproxy"`` from ``Server: tinyproxy/1.11``, which would otherwise read as
    the destination refusing its own credentials.
    """
    if status == 407:
        return ProxyRefused(407, "Proxy Authentication Required")
    if status != 401:
        return None
    server = str(headers.get("Server") or "").split("/", 1)[0].strip().lower()
    realm = re.search(r'realm="?([^",]*)', str(headers.get("WWW-Authenticate") or ""))
    by = server if server in PROXIES_ANSWERING_401 else (realm.group(1).strip().lower() if realm else "")
    if headers.get("Proxy-Authenticate") is not None:
        return ProxyRefused(401, "Unauthorized, with a Proxy-Authenticate challenge")
    if by in PROXIES_ANSWERING_401:
        return ProxyRefused(401, f"Unauthorized, from the proxy itself ({by})")
    return None


def proxy_outcome(error: ProxyRefused, reason: str) -> Delivery:
    """407 (or a tunnel refused with 401/403) → REJECT opening the circuit; anything else → RETRY.

    A ``CONNECT`` refused with a 4xx never reached the destination, so the proxy's
    credentials or policy are at fault (some proxies answer wrong credentials with 401).
    """
    if error.status in (401, 403, 407):
        return Delivery.reject(f"{reason}; check proxy.username and proxy.password, and that the proxy allows "
                               "this destination", code=error.status, open_circuit=True)
    return Delivery.retry(f"{reason} (the proxy could not reach the destination)", code=error.status,
                          error_kind="connection")


def _tunnel_text(text: str) -> str:
    found = re.search(r"Tunnel connection failed: \d{3} ([^'\")]*)", text)
    return found.group(1).strip() if found else ""


def _netloc(parts: SplitResult) -> str:
    """host[:port] without the ``user:password@`` a URL may carry."""
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return netloc if "@" not in parts.netloc else f"***@{netloc}"


def _host_only(url: str) -> str:
    parts = urlsplit(url.rstrip(")'\",."))
    return f"{parts.scheme}://{_netloc(parts)}/***"


