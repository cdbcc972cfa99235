"""Delivery errors in plain words: real exceptions from requests, sockets and ssl, and HTTP statuses."""

from __future__ import annotations

import socket
import ssl
import threading
from pathlib import Path
from typing import Iterator

import pytest
import requests

from agent.delivery.plain_errors import http_phrase, plain_error, plain_exception
from agent.sdk.outcome import classify_http
from tests.conftest import pick_port
from tests.peers.certs import make_certs


def _requests_error(url: str, **kwargs: object) -> BaseException:
    with requests.Session() as session:
        session.trust_env = False  # no proxy from the environment between us and the loopback peer
        try:
            session.post(url, data=b"{}", timeout=kwargs.pop("timeout", 2), **kwargs)  # type: ignore[arg-type]
        except requests.RequestException as exc:
            return exc
    raise AssertionError(f"{url} answered")


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    yield sock.getsockname()[1]
    sock.close()


@pytest.fixture
def plain_http() -> Iterator[int]:
    """A port that answers anything with a plain-text HTTP response (not TLS)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    stop = threading.Event()

    def serve() -> None:
        sock.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            with conn:
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    t = threading.Thread(target=serve)
    t.start()
    yield sock.getsockname()[1]
    stop.set()
    t.join()
    sock.close()


def test_connection_refused_names_the_peer() -> None:
    port = pick_port()  # nothing listens there
    exc = _requests_error(f"http://127.0.0.1:{port}/hook")
    assert "HTTPConnectionPool" in str(exc)  # what the sink's reason starts from
    assert plain_exception(exc) == f"connection refused by 127.0.0.1:{port}"
    # through the reason text the worker keeps, shortened the way HTTP sinks shorten it
    reason = classify_http(error=exc).reason
    assert plain_error(reason) == f"connection refused by 127.0.0.1:{port}"


def test_connection_refused_from_a_socket_sink_reason() -> None:
    port = pick_port()
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2)
    except OSError as exc:
        reason = f"cannot connect to 127.0.0.1:{port}: {exc.strerror}"
    assert plain_error(reason) == f"connection refused by 127.0.0.1:{port}"


def test_a_peer_that_does_not_answer(silent_listener: int) -> None:
    exc = _requests_error(f"http://127.0.0.1:{silent_listener}/hook", timeout=0.3)
    assert plain_exception(exc) == f"127.0.0.1:{silent_listener} did not answer within 0.3 s"


def test_tls_to_a_plain_text_port(plain_http: int) -> None:
    exc = _requests_error(f"https://127.0.0.1:{plain_http}/hook")
    assert plain_exception(exc) == f"127.0.0.1:{plain_http} does not speak TLS here (a plain-text port?)"


def test_an_untrusted_certificate(tmp_path: Path) -> None:
    certs = make_certs(tmp_path)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(certs.server_cert), str(certs.server_key))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    port = sock.getsockname()[1]

    def serve() -> None:
        conn, _ = sock.accept()
        try:
            ctx.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError):
            pass
        finally:
            conn.close()

    t = threading.Thread(target=serve)
    t.start()
    try:
        exc = _requests_error(f"https://127.0.0.1:{port}/hook")  # the system trust store does not know our CA
    finally:
        t.join(10)
        sock.close()
    assert plain_exception(exc) == f"the TLS certificate of 127.0.0.1:{port} is not trusted (check tls.ca_file)"


@pytest.mark.parametrize(("reason", "words"), [
    ("HTTP 503: busy", "the peer is unavailable (HTTP 503 Service Unavailable): busy"),
    ("HTTP 401", "the peer refused our credentials (check the token) (HTTP 401 Unauthorized)"),
    ("HTTP 413: too big", "the batch is too large for the peer (lower batch.max_bytes) (HTTP 413 Content Too Large): too big"),
    ("HTTP 429", "the peer is rate-limiting us (HTTP 429 Too Many Requests)"),
    ("HTTP 599", "the peer failed (HTTP 599)"),
    ("HTTP 418", "the peer refused the request (HTTP 418 I'm a Teapot)"),
])
def test_http_statuses(reason: str, words: str) -> None:
    # the standard phrase as this Python spells it (3.13 renamed 413 "Request Entity Too Large")
    words = words.replace("Content Too Large", http_phrase(413)).replace("I'm a Teapot", http_phrase(418))
    assert plain_error(reason) == words


def test_dns_failure_and_unknown_texts() -> None:
    reason = ("ConnectionError: HTTPSConnectionPool(host='siem.example.invalid', port=443): Max retries exceeded with url: "
              "/*** (Caused by NameResolutionError(\"HTTPSConnection(host='siem.example.invalid', port=443): Failed to "
              "resolve 'siem.example.invalid' ([Errno -2] Name or service not known)\"))")
    assert plain_error(reason) == "cannot resolve the host name siem.example.invalid (DNS)"
    assert plain_error("HEC code 9 (Server is busy)") == "HEC code 9 (Server is busy)"  # left as it was
    assert plain_error("") == ""
