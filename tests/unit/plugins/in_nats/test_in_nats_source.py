"""The nats source against a real nats-server: acknowledge only what is spooled."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable, Iterator

import cerberus
import orjson
import pytest
from loguru import logger

from agent.sdk.decoder import DecodeError
from agent.config.schema import compose_source_schema
from agent.sdk.source import SourceContext, Submitted, SubmitStatus
from agent.testing import make_event
from plugins.dec_json.decoder import JsonDecoder
from plugins.in_nats.config import CONFIG_SCHEMA, check_config
from plugins.in_nats.source import NatsSource
from tests.conftest import pick_port, wait_for
from tests.peers.nats import NatsServer, js_run, nats_server  # noqa: F401 - fixture


class Intake:
    """Stands in for the agent's intake: decodes, remembers, can play full, closed or slow."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.calls: list[tuple[int, bool]] = []  # (records, dedup)
        self.status = SubmitStatus.ACCEPTED
        self.gate = threading.Event()
        self.gate.set()
        self.lock = threading.Lock()

    def submit(self, records: list[Any], timeout: float | None = None, dedup: bool = False) -> Submitted:
        self.gate.wait(10)
        with self.lock:
            self.calls.append((len(records), dedup))
            if self.status is not SubmitStatus.ACCEPTED:
                return Submitted(self.status, retry_after=0.1)
            errors = []
            for i, r in enumerate(records):
                try:
                    self.ids.extend(ev.id for ev in r.decoder.decode(r))
                except DecodeError as exc:
                    errors.append((i, str(exc)))
            return Submitted(SubmitStatus.ACCEPTED, events=len(records) - len(errors), errors=errors)

    def count(self) -> int:
        with self.lock:
            return len(self.ids)


class Logs:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def write(self, message: Any) -> None:
        self.lines.append(str(message))

    @property
    def text(self) -> str:
        return "".join(self.lines)


@pytest.fixture
def make_source(tmp_path: Path) -> Iterator[Callable[..., tuple[NatsSource, Intake, Logs]]]:
    made: list[NatsSource] = []
    handlers: list[int] = []

    def make(start: bool = True, **doc: Any) -> tuple[NatsSource, Intake, Logs]:
        doc.setdefault("stream", "EVENTS")
        doc.setdefault("fetch_wait_s", 0.2)
        doc.setdefault("connect_timeout_s", 5)  # a loaded machine may take a while to connect
        v = cerberus.Validator(compose_source_schema(CONFIG_SCHEMA), allow_unknown=False)
        assert v.validate({"type": "nats", **doc}), v.errors
        config = dict(v.document)
        assert check_config(config) == []
        intake, logs = Intake(), Logs()
        name = f"relay{len(made)}"
        handlers.append(logger.add(logs.write, format="{message}", filter=lambda r, n=name: r["extra"].get("name") == n))
        ctx = SourceContext(name=name, logger=logger.bind(component="source", name=name), state_dir=tmp_path,
                            submit=intake.submit, build_decoder=lambda spec: JsonDecoder({"source": "json", "event_type": "log", "fields": {}}))
        src = NatsSource(name, config, ctx)
        made.append(src)
        if start:
            src.start()
        return src, intake, logs

    yield make
    for s in made:
        s.stop()
    for h in handlers:
        logger.remove(h)


def publish(url: str, payloads: list[bytes], subject: str = "siem.events", stream: str = "EVENTS",
            create: bool = True) -> None:
    async def run(js: Any, nc: Any) -> None:
        if create:
            try:
                await js.stream_info(stream)
            except Exception:  # noqa: BLE001
                await js.add_stream(name=stream, subjects=["siem.>"])
        for p in payloads:
            await js.publish(subject, p)

    js_run(url, run)


def consumer(url: str, durable: str = "siemrelay", stream: str = "EVENTS") -> Any:
    """The consumer's info, or None while the source has not created it yet."""
    import nats.js.errors

    async def info(js: Any, nc: Any) -> Any:
        try:
            return await js.consumer_info(stream, durable)
        except nats.js.errors.NotFoundError:
            return None

    return js_run(url, info)


def ack_pending(url: str, durable: str = "siemrelay") -> int:
    info = consumer(url, durable)
    return -1 if info is None else int(info.num_ack_pending)


def events(n: int, prefix: str = "e") -> list[bytes]:
    return [make_event(id=f"{prefix}-{i}").to_json() for i in range(n)]


def settled(url: str) -> bool:
    info = consumer(url)
    return info is not None and info.num_pending == 0 and info.num_ack_pending == 0


def test_messages_are_spooled_with_dedup_then_acknowledged(make_source: Any, nats_server: NatsServer) -> None:
    publish(nats_server.url, events(40))
    src, intake, logs = make_source(url=nats_server.url, fetch_batch=16)
    wait_for(lambda: intake.count() == 40, what="40 events submitted")
    assert intake.ids == [f"e-{i}" for i in range(40)]
    assert all(dedup for _, dedup in intake.calls) and max(n for n, _ in intake.calls) <= 16
    wait_for(lambda: settled(nats_server.url), what="every message acknowledged")
    assert "durable consumer siemrelay (created)" in logs.text


def test_a_full_spool_hands_messages_back_and_they_come_again(make_source: Any, nats_server: NatsServer) -> None:
    publish(nats_server.url, events(5))
    src, intake, _ = make_source(url=nats_server.url, nak_delay_s=0.2)
    intake.status = SubmitStatus.FULL
    wait_for(lambda: len(intake.calls) >= 2, what="two refused submits")
    assert intake.count() == 0 and not settled(nats_server.url)
    intake.status = SubmitStatus.ACCEPTED
    wait_for(lambda: intake.count() == 5, what="the 5 events once the spool has room")
    wait_for(lambda: settled(nats_server.url), what="every message acknowledged")
    assert consumer(nats_server.url).num_redelivered == 0


def test_undecodable_messages_are_acknowledged_once_dead_lettered(make_source: Any, nats_server: NatsServer) -> None:
    publish(nats_server.url, [b"not json at all", *events(2)])
    src, intake, _ = make_source(url=nats_server.url)
    wait_for(lambda: intake.count() == 2, what="the good events")
    wait_for(lambda: settled(nats_server.url), what="the bad message acknowledged too")


def test_two_relays_on_one_durable_split_the_stream(make_source: Any, nats_server: NatsServer) -> None:
    publish(nats_server.url, events(300))
    a, ia, _ = make_source(url=nats_server.url, fetch_batch=10, durable="pool")
    ia.gate.clear()  # relay a holds its first batch: whatever the machine's speed, b must find work
    wait_for(lambda: ack_pending(nats_server.url, "pool") > 0, timeout=30, what="relay a's first batch")
    b, ib, _ = make_source(url=nats_server.url, fetch_batch=10, durable="pool")
    wait_for(lambda: ib.count() > 0, timeout=30, what="relay b to take messages from the shared consumer")
    ia.gate.set()
    wait_for(lambda: ia.count() + ib.count() >= 300, timeout=30, what="all 300 events")
    assert ia.count() > 0 and ib.count() > 0
    assert sorted(ia.ids + ib.ids) == sorted(f"e-{i}" for i in range(300))  # each message to one relay


def test_max_ack_pending_bounds_what_is_in_flight(make_source: Any, nats_server: NatsServer) -> None:
    publish(nats_server.url, events(30))
    src, intake, _ = make_source(url=nats_server.url, fetch_batch=50, max_ack_pending=5)
    intake.gate.clear()  # the spool is slow: the first batch is held
    wait_for(lambda: ack_pending(nats_server.url) == 5, timeout=30, what="a batch of max_ack_pending in flight")
    info = consumer(nats_server.url)
    assert info.config.max_ack_pending == 5 and info.num_ack_pending == 5 and intake.count() == 0
    intake.gate.set()
    wait_for(lambda: intake.count() == 30, what="all events once the spool keeps up")
    assert max(n for n, _ in intake.calls) <= 5


def test_unacknowledged_messages_go_to_another_relay_after_ack_wait(make_source: Any, nats_server: NatsServer) -> None:
    publish(nats_server.url, events(10))
    stuck, istuck, _ = make_source(url=nats_server.url, durable="pool", ack_wait_s=2, submit_timeout_s=0.5)
    istuck.gate.clear()  # this relay hangs in its first submit and never acknowledges
    wait_for(lambda: ack_pending(nats_server.url, "pool") == 10, what="all 10 held by the stuck relay")
    other, iother, _ = make_source(url=nats_server.url, durable="pool", ack_wait_s=2, submit_timeout_s=0.5)
    wait_for(lambda: iother.count() == 10, timeout=15, what="redelivery to the healthy relay")
    istuck.gate.set()


def test_stopping_hands_fetched_messages_back_at_once(make_source: Any, nats_server: NatsServer) -> None:
    publish(nats_server.url, events(6))
    src, intake, logs = make_source(url=nats_server.url)
    intake.status = SubmitStatus.CLOSED
    wait_for(lambda: intake.calls, what="a refused submit")
    src.stop()
    assert not any(t.name in (f"source-{src.name}", f"nats-{src.name}") for t in threading.enumerate())
    assert "6 handed back" in logs.text
    # ack_wait_s is 30 s: the next relay gets them now only because they were handed back
    nxt, inxt, _ = make_source(url=nats_server.url)
    wait_for(lambda: inxt.count() == 6, timeout=10, what="the 6 messages at the next relay")


def test_an_existing_consumer_with_other_settings_is_used_and_reported(make_source: Any, nats_server: NatsServer) -> None:
    publish(nats_server.url, events(3))

    async def create(js: Any, nc: Any) -> None:
        await js.add_consumer("EVENTS", durable_name="siemrelay", ack_policy="explicit", max_ack_pending=7)

    js_run(nats_server.url, create)
    src, intake, logs = make_source(url=nats_server.url, max_ack_pending=100)
    wait_for(lambda: intake.count() == 3, what="events through the existing consumer")
    assert "max_ack_pending 7 (configured 100)" in logs.text


def test_the_source_waits_for_the_cluster_and_creates_the_stream(make_source: Any, tmp_path: Path) -> None:
    port = pick_port()
    src, intake, logs = make_source(url=f"nats://127.0.0.1:{port}", create_stream={"subjects": ["siem.>"], "max_age_s": 60},
                                    connect_timeout_s=0.5)  # nothing listens yet: short attempts keep the test fast
    wait_for(lambda: "retrying" in logs.text, what="a logged connection failure")
    server = NatsServer(tmp_path / "late", port=port).start()
    try:
        wait_for(lambda: "consuming stream EVENTS" in logs.text, timeout=20, what="the consumer bound")
        publish(server.url, [orjson.dumps({"id": "late-1", "title": "hello", "severity": "low"})], create=False)
        wait_for(lambda: intake.ids == ["late-1"], what="the event")
    finally:
        src.stop()
        server.stop()
