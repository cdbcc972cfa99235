"""The http source against real clients: keep-alive, chunked, limits, slow clients, TLS, HEC, backpressure."""

from __future__ import annotations

import hashlib
import hmac
import queue
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
from loguru import logger

from agent.sdk.decoder import DecodeError, PartialDecodeError
from agent.sdk.source import PendingSubmit, SourceContext, Submitted, SubmitStatus
from plugins.in_http.source import HttpSource
from tests.conftest import wait_for


class Collector:
    """Stands in for the intake: decodes records like it does; can be full or slow.

    ``submit_async`` is what the agent gives the source: decode now, on the caller's
    thread, and answer from a writer thread once the "commit" (``delay``) is done, in
    submission order, as the spool does; the events count as taken only then.
    """

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.full = False
        self.delay = 0.0
        self.calls = 0
        self.dedups: list[bool] = []
        self.callback_errors: list[Exception] = []
        # False: a submission is at the spool at once (the in-process intake); True: only when
        # the writer takes it up, as with the intake's preparing child (it may be withdrawn before)
        self.claim_late = False
        self.hold: threading.Event | None = None  # set: no "commit" happens until it is set
        self._commits: "queue.Queue[tuple[PendingSubmit, Submitted, list[Any]]]" = queue.Queue()
        threading.Thread(target=self._writer, daemon=True).start()

    def _decode(self, records: list[Any]) -> tuple[Submitted, list[Any]]:
        errors, events, given, partial = [], [], [], []
        for i, r in enumerate(records):
            try:
                evs = r.decoder.decode(r)
            except PartialDecodeError as exc:
                errors.append((i, f"{r.decoder.type_name}: {exc}"))
                evs = exc.events
                partial.append(i)
            except DecodeError as exc:
                errors.append((i, f"{r.decoder.type_name}: {exc}"))
                given.append(0)
                continue
            given.append(len(evs))
            for ev in evs:
                ev.origin = ev.origin or r.origin
            events.extend(evs)
        return Submitted(SubmitStatus.ACCEPTED, events=len(events), errors=errors, given=given, partial=partial), events

    def submit(self, records: list[Any], timeout: float | None = None, dedup: bool = False) -> Submitted:
        self.calls += 1
        self.dedups.append(dedup)
        if self.delay:
            time.sleep(self.delay)
        if self.full:
            return Submitted(SubmitStatus.FULL, retry_after=5)
        result, events = self._decode(records)
        self.events.extend(events)
        return result

    def submit_async(self, records: list[Any], timeout: float | None = None, *, dedup: bool = False) -> PendingSubmit:
        self.calls += 1
        self.dedups.append(dedup)
        if self.full:
            return PendingSubmit.completed(Submitted(SubmitStatus.FULL, retry_after=5))
        result, events = self._decode(records)
        pending = PendingSubmit()
        if not self.claim_late:
            pending.claim_for_spool()
        self._commits.put((pending, result, events))
        return pending

    def _writer(self) -> None:
        while True:
            pending, result, events = self._commits.get()
            if self.hold is not None:
                self.hold.wait(30)
            if self.delay:
                time.sleep(self.delay)
            if self.claim_late and not pending.claim_for_spool():
                continue  # withdrawn by its source before it reached the spool: never stored
            self.events.extend(events)
            try:
                pending.set_result(result)
            except Exception as exc:  # the spool logs a failing callback and goes on; so does this writer
                self.callback_errors.append(exc)


SECRET = "det-secret-1"
TOKEN = "hec-token-1"


@pytest.fixture
def make_source(plugin_set: Any, tmp_path: Path, free_port: Any) -> Iterator[Any]:
    made: list[HttpSource] = []

    def make(sync: bool = False, **options: Any) -> tuple[HttpSource, Collector, str]:
        col = Collector()
        cfg = {"address": f"127.0.0.1:{free_port()}", "max_body_bytes": 4096, "max_connections": 64, "max_connections_per_client": 64,
               "read_timeout_s": 5.0,
               "idle_timeout_s": 30.0, "response_timeout_s": 5.0, "submit_timeout_s": 1.0, "retry_after_s": 7, "workers": 4,
               "dedup": True, "tls": {}, "hec": {"enabled": False},
               "paths": {"/events": {"decoder": "json", "auth": {}, "content_types": [], "dedup": None},
                         "/det": {"decoder": "json", "content_types": [], "dedup": None,
                                  "keep_headers": ["X-Delivery-Id", "X-Detectify-Signature"],
                                  "auth": {"hmac": {"header": "X-Detectify-Signature", "secret": SECRET, "prefix": "sha256=",
                                                    "signed": "body"}}},
                         "/zp": {"decoder": "json", "content_types": [], "dedup": None,
                                 "auth": {"query_secret": "zp-secret", "query_param": "secret"}}},
               **options}

        def build_decoder(spec: Any, key: Any = "decoder") -> Any:
            return plugin_set.registry.get("decoder", spec).cls({})

        ctx = SourceContext(name="web", logger=logger, state_dir=tmp_path / "s", submit=col.submit, build_decoder=build_decoder,
                            submit_pending=None if sync else col.submit_async)
        src = HttpSource("web", cfg, ctx)
        src.start()
        made.append(src)
        scheme = "https" if cfg["tls"] else "http"
        return src, col, f"{scheme}://127.0.0.1:{src.bound_port}"

    yield make
    for s in made:
        s.stop()


def raw_exchange(port: int, data: bytes, wait: float = 5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as s:
        s.sendall(data)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except (socket.timeout, ConnectionResetError):
                break
            if not chunk:
                break
            out += chunk
        return out


def test_post_json_keep_alive_and_pipelining(make_source: Any) -> None:
    src, col, url = make_source()
    with requests.Session() as s:
        for i in range(3):
            r = s.post(url + "/events", json={"id": f"e{i}", "title": f"t{i}"})
            assert r.status_code == 200 and r.json() == {"status": "ok", "accepted": 1, "duplicates": 0}
    assert [e.title for e in col.events] == ["t0", "t1", "t2"]
    body = b'{"id":"p1"}'
    req = b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n" + body
    out = raw_exchange(src.bound_port, req + req.replace(b"p1", b"p2").replace(b"HTTP/1.1\r\n", b"HTTP/1.1\r\nConnection: close\r\n", 1))
    assert out.count(b"HTTP/1.1 200 OK") == 2 and out.endswith(b'"duplicates":0}\n')


def test_chunked_body_is_accepted(make_source: Any) -> None:
    src, col, url = make_source()
    r = requests.post(url + "/events", data=iter([b'{"id":"c1",', b'"title":"chunked"}']), headers={"Content-Type": "application/json"})
    assert r.status_code == 200 and col.events[0].title == "chunked"


def test_redelivery_of_the_same_event_id_is_answered_2xx(make_source: Any) -> None:
    src, col, url = make_source()
    assert requests.post(url + "/events", json={"id": "same"}).status_code == 200
    assert col.dedups == [True]  # the intake's dedup window is asked to drop redeliveries


def test_refusals_have_the_right_status_and_a_short_json_error(make_source: Any) -> None:
    src, col, url = make_source()
    r = requests.post(url + "/events", data=b'{"id": 1,,}', headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "column 10" in r.json()["error"]
    r = requests.post(url + "/events", data="a=1", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415 and "content type" in r.json()["error"]
    assert requests.post(url + "/nope", json={}).status_code == 404
    r = requests.get(url + "/events")
    assert r.status_code == 405 and r.headers["Allow"] == "POST"
    r = requests.post(url + "/events", data=b"x" * 5000, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "4096" in r.json()["error"]
    assert src.stats["refused_400"] == 1 and src.stats["refused_415"] == 1 and src.stats["refused_413"] == 1
    assert col.events == []


def test_oversized_body_is_refused_before_it_is_sent(make_source: Any) -> None:
    src, col, url = make_source()
    head = b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 900000000\r\nExpect: 100-continue\r\n\r\n"
    out = raw_exchange(src.bound_port, head)  # no body sent at all: the answer comes from the head
    assert out.startswith(b"HTTP/1.1 413 ") and b"Connection: close" in out


def test_signatures_checked_in_constant_time_and_401_says_nothing_more(make_source: Any) -> None:
    src, col, url = make_source()
    body = b'{"id":"d1","title":"signed"}'
    good = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    hdr = {"Content-Type": "application/json"}
    r = requests.post(url + "/det", data=body, headers={**hdr, "X-Detectify-Signature": good, "X-Delivery-Id": "dlv-1"})
    assert r.status_code == 200
    assert col.events[0].origin["headers"] == {"x-delivery-id": "dlv-1"}  # the signature header is never kept
    for bad in ({"X-Detectify-Signature": "sha256=" + "0" * 64}, {}):
        r = requests.post(url + "/det", data=body, headers={**hdr, **bad})
        assert r.status_code == 401 and r.json() == {"error": "unauthorized"}
    assert requests.post(url + "/zp?secret=zp-secret", json={"id": "z"}).status_code == 200
    assert requests.post(url + "/zp?secret=nope", json={"id": "z2"}).status_code == 401
    assert [e.title for e in col.events] == ["signed", ""] and src.stats["refused_401"] == 3


def test_refusals_are_logged_without_body_or_secret(make_source: Any) -> None:
    lines: list[str] = []
    sink = logger.add(lines.append, level="WARNING", format="{message}")
    try:
        src, col, url = make_source()
        requests.post(url + "/zp?secret=zp-secret-wrong", data=b'{"password":"hunter2"}', headers={"Content-Type": "text/csv"})
        requests.post(url + "/det", data=b'{"password":"hunter2"}', headers={"X-Detectify-Signature": "ab"})
    finally:
        logger.remove(sink)
    text = "".join(lines)
    assert "415" in text and "401" in text and "hunter2" not in text and "zp-secret" not in text


def test_slow_client_gets_408_and_does_not_block_others(make_source: Any) -> None:
    src, col, url = make_source(read_timeout_s=0.6)
    got: list[bytes] = []

    def slow() -> None:
        with socket.create_connection(("127.0.0.1", src.bound_port), timeout=5) as s:
            try:
                for ch in b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}":
                    s.sendall(bytes([ch]))
                    time.sleep(0.1)
            except OSError:
                pass
            got.append(s.recv(4096))

    t = threading.Thread(target=slow)
    t.start()
    assert requests.post(url + "/events", json={"id": "fast"}, timeout=5).status_code == 200
    t.join(10)
    assert got and got[0].startswith(b"HTTP/1.1 408 ") and src.stats["refused_408"] == 1


def test_connection_limit(make_source: Any) -> None:
    src, col, url = make_source(max_connections=2)
    held = [socket.create_connection(("127.0.0.1", src.bound_port)) for _ in range(2)]
    try:
        wait_for(lambda: len(src._state.connections) == 2, what="two connections")
        out = raw_exchange(src.bound_port, b"")
        assert out.startswith(b"HTTP/1.1 503 ")
    finally:
        for s in held:
            s.close()
    wait_for(lambda: requests.post(url + "/events", json={"id": "after"}).status_code == 200, what="service after the limit")


def test_full_spool_answers_503_with_retry_after(make_source: Any) -> None:
    src, col, url = make_source()
    col.full = True
    r = requests.post(url + "/events", json={"id": "x"})
    assert r.status_code == 503 and r.headers["Retry-After"] == "7"


def test_answer_comes_within_the_response_timeout_even_if_the_spool_hangs(make_source: Any) -> None:
    src, col, url = make_source(response_timeout_s=0.3)
    col.delay = 1.0
    r = requests.post(url + "/events", json={"id": "slow"}, timeout=5)
    assert r.status_code == 503 and "Retry-After" in r.headers


def test_splunk_hec_event_raw_and_health(make_source: Any) -> None:
    src, col, url = make_source(hec={"enabled": True, "token": TOKEN, "decoder": "json", "raw_decoder": "syslog"})
    auth = {"Authorization": f"Splunk {TOKEN}"}
    body = '{"event": {"id": "h1", "title": "from hec"}, "host": "web1", "sourcetype": "x"}\n{"event": {"id": "h2"}}'
    r = requests.post(url + "/services/collector/event", data=body, headers=auth)
    assert r.status_code == 200 and r.json() == {"text": "Success", "code": 0}
    assert col.events[0].title == "from hec" and col.events[0].origin["hec"] == {"host": "web1", "sourcetype": "x"}
    col.dedups.clear()
    line = "<13>1 - h a - - - same line twice\n"
    r = requests.post(url + "/services/collector/raw", data="<13>1 - h a - - - raw one\n" + line + line, headers=auth)
    assert r.status_code == 200 and [e.title for e in col.events[2:]] == ["raw one", "same line twice", "same line twice"]
    assert col.dedups == [False]  # identical log lines are two events: no de-duplication on HEC by default
    # Splunk's answers: a wrong token is 403 code 4; a missing header 401 code 2; a header not "Splunk <token>" 401 code 3
    for headers, answer in (({"Authorization": "Splunk wrong"}, (403, {"text": "Invalid token", "code": 4})),
                            ({}, (401, {"text": "Token is required", "code": 2})),
                            ({"Authorization": f"Bearer {TOKEN}"}, (401, {"text": "Invalid authorization", "code": 3}))):
        r = requests.post(url + "/services/collector/event", data='{"event": "x"}', headers=headers)
        assert (r.status_code, r.json()) == answer
    r = requests.post(url + "/services/collector/event", data='{"host": "x"}', headers=auth)
    assert r.status_code == 400 and r.json()["code"] == 12
    assert requests.get(url + "/services/collector/health").json()["code"] == 17


@pytest.fixture(scope="module")
def certs(tmp_path_factory: Any) -> dict[str, str]:
    d = tmp_path_factory.mktemp("pki")
    run = lambda *a: subprocess.run(["openssl", *a], check=True, capture_output=True, timeout=30)  # noqa: E731
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=ca", "-keyout", str(d / "ca.key"), "-out", str(d / "ca.pem"))
    for name in ("server", "client"):
        run("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout", str(d / f"{name}.key"), "-out", str(d / f"{name}.csr"))
        (d / "ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        run("x509", "-req", "-in", str(d / f"{name}.csr"), "-CA", str(d / "ca.pem"), "-CAkey", str(d / "ca.key"), "-CAcreateserial",
            "-days", "2", "-extfile", str(d / "ext"), "-out", str(d / f"{name}.pem"))
    return {"dir": str(d)}


def test_https_with_client_certificate_verification(make_source: Any, certs: dict[str, str]) -> None:
    d = certs["dir"]
    src, col, url = make_source(tls={"enabled": True, "cert_file": f"{d}/server.pem", "key_file": f"{d}/server.key",
                                     "ca_file": f"{d}/ca.pem", "verify": True, "min_version": "1.2"})
    r = requests.post(url + "/events", json={"id": "tls1"}, verify=f"{d}/ca.pem", cert=(f"{d}/client.pem", f"{d}/client.key"))
    assert r.status_code == 200
    with pytest.raises(requests.exceptions.RequestException):
        requests.post(url + "/events", json={"id": "tls2"}, verify=f"{d}/ca.pem", timeout=5)
    assert [e.id for e in col.events] == ["tls1"]


def test_concurrent_requests_share_a_commit_and_each_gets_its_own_answer(make_source: Any) -> None:
    src, col, url = make_source(workers=1)
    col.delay = 0.3  # the first batch holds the spool; the others gather behind it
    answers: dict[int, requests.Response] = {}

    def post(i: int) -> None:
        body = b'{"id": 1,,}' if i == 3 else b'{"id": "c%d", "title": "t%d"}' % (i, i)
        answers[i] = requests.post(url + "/events", data=body, headers={"Content-Type": "application/json"}, timeout=10)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert col.calls < 8  # batched: fewer spool commits than requests
    assert answers[3].status_code == 400 and "malformed JSON" in answers[3].json()["error"]
    for i in (0, 1, 2, 4, 5, 6, 7):
        assert answers[i].status_code == 200 and answers[i].json()["accepted"] == 1
    assert sorted(e.title for e in col.events) == sorted(f"t{i}" for i in range(8) if i != 3)


def test_ipv6_listener(make_source: Any, free_port: Any) -> None:
    src, col, _ = make_source(address=f"[::1]:{free_port(socket.AF_INET6)}")
    r = requests.post(f"http://[::1]:{src.bound_port}/events", json={"id": "v6"})
    assert r.status_code == 200 and col.events[0].origin["peer"] == "::1"


def test_a_request_answered_503_before_its_batch_left_is_not_spooled(make_source: Any) -> None:
    src, col, url = make_source(workers=1, response_timeout_s=0.3)
    col.delay = 0.6  # the first batch holds the only submit slot past every response timeout
    first: list[int] = []
    t = threading.Thread(target=lambda: first.append(requests.post(url + "/events", json={"id": "one", "title": "one"},
                                                                    timeout=5).status_code))
    t.start()
    wait_for(lambda: col.calls == 1, what="the first batch in the spool")
    second = requests.post(url + "/events", json={"id": "two", "title": "two"}, timeout=5)
    t.join()
    assert first == [503] and second.status_code == 503 and "Retry-After" in second.headers
    wait_for(lambda: len(col.events) == 1, what="the first batch committed")
    col.delay = 0.0
    third = requests.post(url + "/events", json={"id": "three", "title": "three"}, timeout=5)
    assert third.status_code == 200
    # "one" was already in the spool when it was answered 503 (at least once: its sender retries and dedup
    # catches it); "two" never left the listener, so a 503 for it means it was not taken
    assert [e.title for e in col.events] == ["one", "three"]


def test_a_batch_all_of_whose_requests_timed_out_is_withdrawn_if_not_yet_spooled(make_source: Any) -> None:
    """With the intake's preparing child, a batch handed over is not in the spool until the
    child answers; if every request of it was answered 503 meanwhile, it is withdrawn and
    never stored, so the senders' retries are not duplicates (even with dedup off)."""
    src, col, url = make_source(workers=1, response_timeout_s=0.3)
    col.claim_late = True
    col.delay = 0.8  # the "child" holds the batch past the response timeout
    r = requests.post(url + "/events", json={"id": "late", "title": "late"}, timeout=5)
    assert r.status_code == 503 and "Retry-After" in r.headers
    time.sleep(1.0)  # past the moment the writer took the batch up
    assert col.events == []  # withdrawn: not stored
    col.delay = 0.0
    again = requests.post(url + "/events", json={"id": "late", "title": "late"}, timeout=5)
    assert again.status_code == 200
    wait_for(lambda: len(col.events) == 1, what="the retry stored")
    assert [e.title for e in col.events] == ["late"]


def test_keep_alive_connection_outlives_read_timeout_between_requests_and_closes_when_idle(make_source: Any) -> None:
    # the connection's one timer is armed for read_timeout_s at connect; answering a request moves the
    # deadline to idle_timeout_s without moving the timer, which must then re-arm itself, not close early
    src, col, url = make_source(read_timeout_s=0.3, idle_timeout_s=3.0)
    req = b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
    with socket.create_connection(("127.0.0.1", src.bound_port), timeout=10) as s:
        s.sendall(req % (11, b'{"id":"k1"}'))
        assert s.recv(4096).startswith(b"HTTP/1.1 200 OK")
        time.sleep(1.0)  # past read_timeout_s, within idle_timeout_s
        s.sendall(req % (11, b'{"id":"k2"}'))
        assert s.recv(4096).startswith(b"HTTP/1.1 200 OK")
        assert s.recv(4096) == b""  # then closed for idleness, without an answer
    assert [e.id for e in col.events] == ["k1", "k2"]


def test_a_full_spool_holds_the_request_until_space_frees_within_submit_timeout(make_source: Any) -> None:
    src, col, url = make_source(submit_timeout_s=2.0)
    col.full = True
    threading.Timer(0.3, lambda: setattr(col, "full", False)).start()
    started = time.monotonic()
    r = requests.post(url + "/events", json={"id": "held", "title": "held"}, timeout=5)
    assert r.status_code == 200 and 0.25 < time.monotonic() - started < 2.0
    assert col.calls >= 2 and [e.title for e in col.events] == ["held"]  # offered again, spooled once


def test_a_full_spool_answers_503_at_submit_timeout_and_takes_nothing(make_source: Any) -> None:
    src, col, url = make_source(submit_timeout_s=0.3)
    col.full = True
    started = time.monotonic()
    r = requests.post(url + "/events", json={"id": "late"}, timeout=5)
    assert r.status_code == 503 and r.headers["Retry-After"] == "7" and 0.25 < time.monotonic() - started < 1.5
    col.full = False
    assert requests.post(url + "/events", json={"id": "next"}, timeout=5).status_code == 200
    assert [e.id for e in col.events] == ["next"]


def test_the_loop_answers_other_requests_while_a_commit_runs(make_source: Any) -> None:
    src, col, url = make_source(workers=2)
    col.delay = 0.8  # a slow commit: the loop must not wait for it
    slow: list[int] = []
    t = threading.Thread(target=lambda: slow.append(requests.post(url + "/events", json={"id": "s1"}, timeout=5).status_code))
    t.start()
    wait_for(lambda: col.calls == 1, what="the first batch queued for its commit")
    started = time.monotonic()
    assert requests.post(url + "/nowhere", json={"id": "x"}, timeout=5).status_code == 404
    second = threading.Thread(target=lambda: slow.append(requests.post(url + "/events", json={"id": "s2"}, timeout=5).status_code))
    second.start()
    wait_for(lambda: col.calls == 2, timeout=0.5, what="a second batch in flight beside the first")
    assert time.monotonic() - started < 0.5 and not col.events  # neither commit is done yet
    t.join()
    second.join()
    assert slow == [200, 200] and [e.id for e in col.events] == ["s1", "s2"]


def test_in_flight_batches_are_bounded_by_workers(make_source: Any) -> None:
    src, col, url = make_source(workers=1)
    col.delay = 0.4
    codes: list[int] = []
    threads = [threading.Thread(target=lambda i=i: codes.append(
        requests.post(url + "/events", json={"id": f"b{i}"}, timeout=5).status_code)) for i in range(6)]
    threads[0].start()
    wait_for(lambda: col.calls == 1, what="the first batch in flight")
    for t in threads[1:]:
        t.start()
    time.sleep(0.2)
    assert col.calls == 1  # the others wait for the one slot, gathered into the next batch
    for t in threads:
        t.join()
    assert codes == [200] * 6 and col.calls == 2 and len(col.events) == 6


def test_without_submit_async_from_the_agent_the_source_still_answers_after_submit(make_source: Any) -> None:
    src, col, url = make_source(sync=True)  # a context without submit_pending: submit_async answers synchronously
    r = requests.post(url + "/events", json={"id": "s", "title": "sync"}, timeout=5)
    assert r.status_code == 200 and r.json()["accepted"] == 1 and col.events[0].title == "sync"
    col.full = True
    r = requests.post(url + "/events", json={"id": "f"}, timeout=5)
    assert r.status_code == 503 and r.headers["Retry-After"] == "7"


def test_stop_answers_a_request_whose_commit_is_in_flight(make_source: Any) -> None:
    src, col, url = make_source(response_timeout_s=1.0)
    col.delay = 0.4
    codes: list[int] = []
    t = threading.Thread(target=lambda: codes.append(requests.post(url + "/events", json={"id": "inflight"}, timeout=5).status_code))
    t.start()
    wait_for(lambda: col.calls == 1, what="the batch queued for its commit")
    src.stop()  # waits for the busy connection: its answer comes after the commit
    t.join()
    assert codes == [200] and [e.id for e in col.events] == ["inflight"]


def test_a_commit_that_ends_after_the_source_stopped_is_ignored_quietly(make_source: Any) -> None:
    src, col, url = make_source(response_timeout_s=0.3)
    col.delay = 1.0  # the commit outlives the response timeout and the source
    r = requests.post(url + "/events", json={"id": "late"}, timeout=5)
    assert r.status_code == 503
    src.stop()
    wait_for(lambda: len(col.events) == 1, what="the late commit")
    time.sleep(0.1)
    assert col.callback_errors == []  # the writer thread's callback found the loop closed and let it be


def _post_in_turn(src: Any, col: Any, url: str, bodies: list[bytes], codes: list[int], slots: int) -> list[threading.Thread]:
    """One sender per body, each started once the one before was taken: while ``col.calls`` is
    under ``slots`` it should leave as a batch of its own, after that it is only received. The
    caller holds the commits (``col.hold``), so a batch that left did so while the ones before
    were still in flight."""
    threads = []
    for body in bodies:
        calls, received = col.calls, src.stats["requests"]
        t = threading.Thread(target=lambda b=body: codes.append(requests.post(
            url + "/events", data=b, headers={"Content-Type": "application/x-ndjson"}, timeout=20).status_code))
        t.start()
        threads.append(t)
        if calls < slots:
            wait_for(lambda c=calls: col.calls == c + 1, what="the request's batch submitted")
        else:
            wait_for(lambda r=received: src.stats["requests"] == r + 1, what="the request received")
    return threads


def _ndjson(prefix: str, events: int) -> bytes:
    return b"".join(b'{"id":"%s-%d","title":"%s"}\n' % (prefix.encode(), i, b"x" * 700) for i in range(events))


def test_auto_workers_keep_several_large_batches_in_flight_and_one_small(make_source: Any) -> None:
    # workers: auto: a batch of 64 KiB of bodies or more (NDJSON: decoded in the preparing child,
    # on another core) leaves while up to 4 wait for their commit; small ones wait for the one slot
    src, col, url = make_source(workers="auto", max_body_bytes=1 << 20)
    col.hold = threading.Event()  # no commit until the test says so
    codes: list[int] = []
    threads = _post_in_turn(src, col, url, [_ndjson(f"big{k}", 100) for k in range(6)], codes, slots=4)
    assert col.calls == 4 and not col.events  # four in flight at once; the fifth and sixth wait (together)
    col.hold.set()
    for t in threads:
        t.join()
    assert codes == [200] * 6 and col.calls == 5 and len(col.events) == 600

    codes.clear()
    col.hold = threading.Event()
    threads = _post_in_turn(src, col, url, [_ndjson(f"small{k}", 1) for k in range(4)], codes, slots=6)
    assert col.calls == 6 and len(col.events) == 600  # small: one in flight, the others gathered into the next batch
    col.hold.set()
    for t in threads:
        t.join()
    assert codes == [200] * 4 and col.calls == 7 and len(col.events) == 604


def test_a_number_of_workers_bounds_large_batches_too(make_source: Any) -> None:
    src, col, url = make_source(workers=2, max_body_bytes=1 << 20)
    col.hold = threading.Event()
    codes: list[int] = []
    threads = _post_in_turn(src, col, url, [_ndjson(f"big{k}", 100) for k in range(4)], codes, slots=2)
    assert col.calls == 2 and not col.events
    col.hold.set()
    for t in threads:
        t.join()
    assert codes == [200] * 4 and col.calls == 3 and len(col.events) == 400
