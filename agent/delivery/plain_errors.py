"""Delivery errors in plain words, for the status page and the retry log lines.

A sink's last error is the reason text of its last :class:`~agent.sdk.outcome.Delivery`,
and for HTTP sinks that text is whatever ``requests`` put in its exception:
``ConnectionError: HTTPConnectionPool(host='127.0.0.1', port=1): Max retries exceeded
with url: /*** (Caused by NewConnectionError(...: [Errno 111] Connection refused))``.
An analyst on call needs ``connection refused by 127.0.0.1:1``. The worker keeps only the
text (it is persisted in the spool and the delivery history), so this module reads the
text: it recognises the common ``requests``/``urllib3``, socket and ``ssl`` failures and
HTTP statuses, and leaves anything else as it was (never worse than the original).
Pure functions, no I/O.
"""

from __future__ import annotations

import http
import re

__all__ = ["plain_error", "plain_exception", "http_phrase"]

_HOST_PORT = re.compile(r"host='(?P<host>[^']*)', port=(?P<port>\d+)")
_SOCKET_WHERE = re.compile(r"(?:cannot connect to|connection to) (?P<where>\S+?)(?: lost)?: ")
_HTTP = re.compile(r"^HTTP (?P<code>\d{3})(?:: (?P<body>.*))?$", re.S)
_TIMEOUT_S = re.compile(r"(?:read |connect )?timeout=(?P<s>[\d.]+)")

#: (pattern in the text, words; ``{where}`` is the peer as host:port)
_NETWORK: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"Connection refused|ECONNREFUSED|Errno 111\b"), "connection refused by {where}"),
    (re.compile(r"Name or service not known|nodename nor servname|Temporary failure in name resolution|"
                r"NameResolutionError|getaddrinfo failed|No address associated", re.I),
     "cannot resolve the host name {host} (DNS)"),
    (re.compile(r"ConnectTimeout|connect timeout|timed out while connecting", re.I),
     "no answer from {where} while connecting{after}"),
    (re.compile(r"ReadTimeout|Read timed out|timed out", re.I), "{where} did not answer{after}"),
    (re.compile(r"Connection reset by peer|ECONNRESET|Errno 104\b"), "connection reset by {where}"),
    (re.compile(r"RemoteDisconnected|Connection aborted|closed connection without response|Broken pipe|EPIPE"),
     "{where} closed the connection without answering"),
    (re.compile(r"No route to host|EHOSTUNREACH"), "no route to {where}"),
    (re.compile(r"Network is unreachable|ENETUNREACH"), "network unreachable for {where}"),
    (re.compile(r"certificate has expired", re.I), "the TLS certificate of {where} has expired"),
    (re.compile(r"hostname mismatch|doesn't match|does not match|IP address mismatch", re.I),
     "the TLS certificate of {where} is for another host name (check tls.server_name)"),
    (re.compile(r"self[- ]signed certificate|unable to get local issuer|CERTIFICATE_VERIFY_FAILED|"
                r"certificate not accepted", re.I),
     "the TLS certificate of {where} is not trusted (check tls.ca_file)"),
    (re.compile(r"WRONG_VERSION_NUMBER|wrong version number|record layer failure", re.I),
     "{where} does not speak TLS here (a plain-text port?)"),
    (re.compile(r"SSLError|TLS error|SSL:|handshake", re.I), "TLS handshake with {where} failed"),
)

#: What an HTTP status means for a sink, when the number alone says little to a reader.
_HTTP_HINTS = {
    400: "the peer refused the payload",
    401: "the peer refused our credentials (check the token)",
    403: "the peer forbids this (check the token's permissions)",
    404: "no such endpoint (check the url)",
    405: "the endpoint does not accept POST (check the url)",
    408: "the peer timed out reading the request",
    410: "the endpoint is gone (check the url)",
    413: "the batch is too large for the peer (lower batch.max_bytes)",
    415: "the peer does not accept this content type",
    429: "the peer is rate-limiting us",
    500: "the peer failed internally",
    502: "a gateway in front of the peer could not reach it",
    503: "the peer is unavailable",
    504: "a gateway in front of the peer timed out",
}


def http_phrase(code: int) -> str:
    """The standard reason phrase of an HTTP status (``503`` → ``Service Unavailable``), or ``""``."""
    try:
        return http.HTTPStatus(code).phrase
    except ValueError:
        return ""


def _where(text: str) -> tuple[str, str]:
    """The peer named in the text, as ``(host:port, host)``; ``("the peer", "?")`` when absent."""
    found = _HOST_PORT.search(text)
    if found:
        host, port = found.group("host"), found.group("port")
        return (f"[{host}]:{port}" if ":" in host else f"{host}:{port}"), host
    found = _SOCKET_WHERE.search(text)
    if found:
        where = found.group("where")
        return where, where.rsplit(":", 1)[0].strip("[]")
    return "the peer", "?"


def _http_words(code: int, body: str | None) -> str:
    phrase = http_phrase(code)
    head = f"HTTP {code} {phrase}".rstrip()
    hint = _HTTP_HINTS.get(code) or ("the peer refused the request" if 400 <= code < 500
                                     else "the peer failed" if code >= 500 else "")
    words = f"{hint} ({head})" if hint else head
    return f"{words}: {body}" if body else words


def plain_error(reason: str) -> str:
    """A delivery reason in plain words; text it does not recognise comes back unchanged.

    >>> plain_error("ConnectionError: HTTPConnectionPool(host='127.0.0.1', port=1): Max retries exceeded "
    ...             "with url: /*** (Caused by NewConnectionError('...: [Errno 111] Connection refused'))")
    'connection refused by 127.0.0.1:1'
    >>> plain_error("HTTP 503: busy")
    'the peer is unavailable (HTTP 503 Service Unavailable): busy'
    """
    text = reason.strip()
    if not text:
        return text
    found = _HTTP.match(text)
    if found:
        return _http_words(int(found.group("code")), found.group("body"))
    where, host = _where(text)
    for pattern, words in _NETWORK:
        if pattern.search(text):
            timeout = _TIMEOUT_S.search(text)
            after = f" within {float(timeout.group('s')):g} s" if timeout else ""
            return words.format(where=where, host=host, after=after)
    return text


def plain_exception(exc: BaseException) -> str:
    """An exception (``requests``, socket, ``ssl``) in plain words."""
    return plain_error(f"{type(exc).__name__}: {exc}")
