"""Request framing, property-tested against the running listener and read back by a real HTTP parser.

Any valid chunking of a body (chunk sizes in either hex case, extensions, trailers,
pipelined behind another request) reaches the decoder byte for byte; any chunk size
that is not plain hex is refused with 400 and the connection closed. Every answer is
parsed by the standard library's HTTP client, so the response framing is checked too.
"""

from __future__ import annotations

import http.client
import socket
from pathlib import Path
from typing import Any, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from loguru import logger

from agent.sdk.decoder import DecodeError
from agent.plugins import load_plugins
from agent.sdk.source import SourceContext, Submitted, SubmitStatus
from plugins.in_http.source import HttpSource
from tests.conftest import pick_port


class Bodies:
    """Stands in for the intake: keeps each record's bytes (the json decoder checks them)."""

    def __init__(self) -> None:
        self.seen: list[bytes] = []

    def submit(self, records: list[Any], timeout: float | None = None, dedup: bool = False) -> Submitted:
        errors = []
        for i, r in enumerate(records):
            try:
                r.decoder.decode(r)
            except DecodeError as exc:
                errors.append((i, str(exc)))
                continue
            self.seen.append(r.data)
        return Submitted(SubmitStatus.ACCEPTED, events=len(records) - len(errors), errors=errors)


@pytest.fixture(scope="module")
def listener(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HttpSource, Bodies]]:
    plugins = load_plugins(entry_points=False)
    bodies = Bodies()
    cfg = {"address": f"127.0.0.1:{pick_port()}", "max_body_bytes": 4096, "max_connections": 64,
           "max_connections_per_client": 64, "read_timeout_s": 5.0, "idle_timeout_s": 30.0, "response_timeout_s": 5.0,
           "submit_timeout_s": 1.0, "retry_after_s": 5, "workers": 2, "dedup": False, "tls": {}, "hec": {"enabled": False},
           "paths": {"/events": {"decoder": "json", "auth": {}, "content_types": [], "dedup": None}}}
    ctx = SourceContext(name="web", logger=logger, state_dir=tmp_path_factory.mktemp("s"), submit=bodies.submit,
                        build_decoder=lambda spec, key="decoder": plugins.registry.get("decoder", spec).cls({}))
    src = HttpSource("web", cfg, ctx)
    src.start()
    yield src, bodies
    src.stop()


class _OneStream:
    """Hands http.client the same buffered stream for every response of one connection.

    ``HTTPResponse`` makes its own buffered file per response and closes it when done;
    with pipelined answers the first would swallow the start of the second.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.fp = sock.makefile("rb")

    def makefile(self, *args: Any, **kwargs: Any) -> "_OneStream":
        return self

    def close(self) -> None:
        pass  # the connection outlives each response

    def __getattr__(self, name: str) -> Any:
        return getattr(self.fp, name)


def exchange(port: int, data: bytes, answers: int) -> list[tuple[int, bool]]:
    """Send ``data``, read ``answers`` responses: (status, connection closed after it)."""
    out = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        stream = _OneStream(s)
        for _ in range(answers):
            resp = http.client.HTTPResponse(stream, method="POST")  # type: ignore[arg-type]
            resp.begin()
            resp.read()
            out.append((resp.status, resp.will_close))
        stream.fp.close()
    return out


def chunk_encode(body: bytes, cuts: list[int], upper: bool, ext: bool, trailer: bool) -> bytes:
    points = sorted({c % (len(body) + 1) for c in cuts} | {0, len(body)})
    out = b""
    for a, b in zip(points, points[1:]):
        size = format(b - a, "X" if upper else "x").encode()
        out += size + (b";name=value" if ext else b"") + b"\r\n" + body[a:b] + b"\r\n"
    return out + b"0\r\n" + (b"X-Trailer: 1\r\n" if trailer else b"") + b"\r\n"


HEAD = b"POST /events HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(title=st.text(max_size=300), cuts=st.lists(st.integers(0, 10_000), max_size=6), upper=st.booleans(),
       ext=st.booleans(), trailer=st.booleans(), pipelined=st.booleans())
def test_any_valid_chunking_delivers_the_body_unchanged(listener: tuple[HttpSource, Bodies], title: str, cuts: list[int],
                                                         upper: bool, ext: bool, trailer: bool, pipelined: bool) -> None:
    src, bodies = listener
    import orjson

    body = orjson.dumps({"id": "p", "title": title})
    first = b"POST /events HTTP/1.1\r\nHost: relay\r\nContent-Length: 2\r\n\r\n{}" if pipelined else b""
    answers = exchange(src.bound_port, first + HEAD + chunk_encode(body, cuts, upper, ext, trailer), 2 if pipelined else 1)
    assert answers[-1] == (200, False) and all(a == (200, False) for a in answers)
    assert bodies.seen[-1] == body


NOT_HEX = st.one_of(
    st.sampled_from(["0x1e", "1_e", "+2a", "-5", " e", "e ", "0X1", "1e5.0", "", "\te"]),
    st.text(st.characters(codec="ascii", exclude_characters="0123456789abcdefABCDEF;\r\n"), min_size=1, max_size=4)
    .map(lambda junk: "1" + junk),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(size=NOT_HEX)
def test_a_chunk_size_that_is_not_plain_hex_is_refused_and_closes(listener: tuple[HttpSource, Bodies], size: str) -> None:
    src, bodies = listener
    before = len(bodies.seen)
    data = HEAD + size.encode() + b'\r\n{"id":"bad"}\r\n0\r\n\r\n'
    assert exchange(src.bound_port, data, 1) == [(400, True)]
    assert len(bodies.seen) == before
