"""The nats sink against a real nats-server with JetStream (loopback, temp store)."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

import cerberus
import nkeys
import orjson
import pytest
from loguru import logger

from agent.sdk.outcome import Status
from agent.config.schema import compose_sink_schema
from agent.sdk.sink import SinkContext
from agent.testing import make_event, spooled
from plugins.out_nats.config import CONFIG_SCHEMA, check_config
from plugins.out_nats.sink import NatsSink
from tests.conftest import pick_port, wait_for
from tests.peers.nats import NatsServer, OperatorAuth, js_run, nats_server  # noqa: F401 - fixture

TOKEN = "s3cret-token-value"


class Logs:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def write(self, message: Any) -> None:
        self.lines.append(str(message))

    @property
    def text(self) -> str:
        return "".join(self.lines)


@pytest.fixture
def make_sink(tmp_path: Path) -> Iterator[Callable[..., tuple[NatsSink, Logs]]]:
    made: list[NatsSink] = []
    handlers: list[int] = []

    def make(**doc: Any) -> tuple[NatsSink, Logs]:
        v = cerberus.Validator(compose_sink_schema(CONFIG_SCHEMA, NatsSink.DEFAULTS), allow_unknown=False)
        doc.setdefault("retry", {"timeout_s": 10.0})  # acks on a loaded machine; failures here are not timeouts
        doc.setdefault("connect_timeout_s", 5)
        assert v.validate({"type": "nats", **doc}), v.errors
        config = dict(v.document)
        assert check_config(config) == []
        logs = Logs()
        name = f"js{len(made)}"
        handlers.append(logger.add(logs.write, format="{message}", filter=lambda r, n=name: r["extra"].get("name") == n))
        secrets = [s for s in (doc.get("token"), doc.get("password")) if s]

        def redact(text: str) -> str:
            for s in secrets:
                text = text.replace(s, "***")
            return text

        ctx = SinkContext(name=name, logger=logger.bind(component="sink", name=name), state_dir=tmp_path, redact=redact)
        sink = NatsSink(name, config, ctx)
        made.append(sink)
        return sink, logs

    yield make
    for s in made:
        s.close()
    for h in handlers:
        logger.remove(h)


def stream_messages(url: str, stream: str, **connect: Any) -> list[Any]:
    async def read(js: Any, nc: Any) -> list[Any]:
        info = await js.stream_info(stream)
        return [await js.get_msg(stream, seq) for seq in range(1, info.state.last_seq + 1)]

    return js_run(url, read, **connect)


def add_stream(url: str, name: str, subjects: list[str], **cfg: Any) -> None:
    async def add(js: Any, nc: Any) -> None:
        await js.add_stream(name=name, subjects=subjects, **cfg)

    js_run(url, add)


def test_each_event_is_one_message_with_its_id_and_the_batch_waits_for_acks(make_sink: Any, nats_server: NatsServer) -> None:
    sink, logs = make_sink(url=nats_server.url, subject="siem.events.{{ source }}", stream="EVENTS",
                           create_stream={"subjects": ["siem.events.>"], "duplicate_window_s": 60})
    batch = spooled([make_event(id=f"ev-{i}", source="zeropath") for i in range(25)])
    outcome = sink.send(batch)
    assert outcome.status is Status.OK, outcome.reason
    msgs = stream_messages(nats_server.url, "EVENTS")
    assert [m.headers["Nats-Msg-Id"] for m in msgs] == [f"ev-{i}" for i in range(25)]
    assert [m.data for m in msgs] == [e.data for e in batch]
    assert {m.subject for m in msgs} == {"siem.events.zeropath"}
    assert "created stream EVENTS" in logs.text


def test_a_batch_sent_again_is_dropped_by_the_server_as_duplicates(make_sink: Any, nats_server: NatsServer) -> None:
    sink, _ = make_sink(url=nats_server.url, subject="siem.events", stream="EVENTS", create_stream={})
    batch = spooled([make_event(id=f"dup-{i}") for i in range(10)])
    assert sink.send(batch).ok
    again = sink.send(batch[:5] + spooled([make_event(id="new-1")]))
    assert again.ok and "5 already stored" in again.reason
    assert len(stream_messages(nats_server.url, "EVENTS")) == 11


def test_no_stream_for_the_subject_is_retried(make_sink: Any, nats_server: NatsServer) -> None:
    sink, _ = make_sink(url=nats_server.url, subject="nobody.listens")
    outcome = sink.send(spooled([make_event()]))
    assert outcome.status is Status.RETRY and "create_stream" in outcome.reason


def test_a_stream_other_than_the_expected_one_opens_the_circuit(make_sink: Any, nats_server: NatsServer) -> None:
    add_stream(nats_server.url, "OTHER", ["siem.>"])
    sink, _ = make_sink(url=nats_server.url, subject="siem.events", stream="EVENTS")
    outcome = sink.send(spooled([make_event()]))
    assert outcome.status is Status.REJECT and outcome.open_circuit


def test_an_event_too_large_for_the_stream_is_rejected_by_index(make_sink: Any, nats_server: NatsServer) -> None:
    sink, _ = make_sink(url=nats_server.url, subject="siem.events", stream="EVENTS",
                        create_stream={"max_msg_bytes": 2048})
    batch = spooled([make_event(), make_event(), make_event(description="x" * 5000), make_event()])
    outcome = sink.send(batch)
    assert outcome.status is Status.REJECT and outcome.rejected_index == 2 and not outcome.open_circuit
    assert sink.send(batch[:2]).ok


def test_server_down_is_a_connection_retry_and_the_sink_recovers_when_it_is_up(make_sink: Any, tmp_path: Path) -> None:
    port = pick_port()
    sink, logs = make_sink(url=f"nats://127.0.0.1:{port}", subject="siem.events", stream="EVENTS", create_stream={},
                           connect_timeout_s=0.5)  # nothing listens: a short attempt keeps the test fast
    outcome = sink.send(spooled([make_event()]))
    assert outcome.status is Status.RETRY and "cannot connect" in outcome.reason
    server = NatsServer(tmp_path / "late", port=port).start()
    try:
        assert sink.send(spooled([make_event()])).ok
    finally:
        server.stop()


def test_a_restarted_server_is_reconnected_and_nothing_is_lost(make_sink: Any, tmp_path: Path) -> None:
    server = NatsServer(tmp_path / "restart").start()
    try:
        sink, logs = make_sink(url=server.url, subject="siem.events", stream="EVENTS", create_stream={},
                               reconnect_wait_s=0.1, retry={"timeout_s": 1.0})
        assert sink.send(spooled([make_event(id="before")])).ok
        server.stop()
        down = sink.send(spooled([make_event(id="during")]))
        assert down.status is Status.RETRY
        server.start()
        wait_for(lambda: sink.send(spooled([make_event(id="during")])).ok, timeout=20, what="publish after restart")
        ids = [m.headers["Nats-Msg-Id"] for m in stream_messages(server.url, "EVENTS")]
        assert ids == ["before", "during"]
        assert "reconnected" in logs.text or "connected" in logs.text
    finally:
        server.stop()


def _nkey_user(tmp_path: Path) -> tuple[str, str]:
    import os

    seed = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "user.nk"
    path.write_bytes(seed + b"\n")
    return str(path), nkeys.from_seed(seed).public_key.decode()


@pytest.mark.parametrize("method", ["token", "user", "nkey", "creds"])
def test_credentials_are_used_and_never_shown(make_sink: Any, tmp_path: Path, method: str) -> None:
    secrets = [TOKEN, "wrong-token-value", "wrong-password"]
    if method == "token":
        auth, good, bad = f'authorization {{ token: "{TOKEN}" }}', {"token": TOKEN}, {"token": "wrong-token-value"}
    elif method == "user":
        auth = f'authorization {{ users: [{{user: relay, password: "{TOKEN}"}}] }}'
        good, bad = {"user": "relay", "password": TOKEN}, {"user": "relay", "password": "wrong-password"}
    elif method == "creds":  # operator mode: JWTs signed offline, a memory resolver, a .creds file per user
        operator = OperatorAuth()
        good_seed = operator.creds(tmp_path / "relay.creds")
        bad_seed = operator.creds(tmp_path / "stranger.creds", trusted=False)
        secrets += [good_seed, bad_seed]
        auth, good, bad = operator.config, {"creds_file": str(tmp_path / "relay.creds")}, \
            {"creds_file": str(tmp_path / "stranger.creds")}
    else:
        seed_file, public = _nkey_user(tmp_path)
        other_file, _ = _nkey_user(tmp_path / "other")
        auth, good, bad = f'authorization {{ users: [{{nkey: "{public}"}}] }}', {"nkey_seed_file": seed_file}, \
            {"nkey_seed_file": other_file}
    server = NatsServer(tmp_path / "auth", extra=auth).start()
    try:
        sink, logs = make_sink(url=server.url, subject="siem.events", stream="EVENTS", create_stream={}, **good)
        sent = sink.send(spooled([make_event(id="authenticated-1")]))
        assert sent.ok, sent.reason
        assert [m.headers["Nats-Msg-Id"] for m in stream_messages(server.url, "EVENTS", **_client_auth(good))] == \
            ["authenticated-1"]
        assert not any(s in repr(sink) or s in logs.text for s in secrets)
        wrong, wrong_logs = make_sink(url=server.url, subject="siem.events", stream="EVENTS", **bad)
        outcome = wrong.send(spooled([make_event()]))
        assert outcome.status is Status.REJECT and outcome.open_circuit, outcome
        assert "uthorization" in outcome.reason
        for secret in secrets:
            assert secret not in outcome.reason and secret not in wrong_logs.text
    finally:
        server.stop()


def _client_auth(section: dict[str, Any]) -> dict[str, Any]:
    """nats.connect() arguments for the same credentials as a sink section."""
    return {arg: section[key] for key, arg in (("token", "token"), ("user", "user"), ("password", "password"),
                                                ("nkey_seed_file", "nkeys_seed"), ("creds_file", "user_credentials"))
            if key in section}


def _cert(tmp_path: Path) -> tuple[str, str]:
    cert, key = tmp_path / "server.pem", tmp_path / "server.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return str(cert), str(key)


def test_tls_verifies_the_server_against_ca_file(make_sink: Any, tmp_path: Path) -> None:
    cert, key = _cert(tmp_path)
    server = NatsServer(tmp_path / "tls", extra=f'tls {{ cert_file: "{cert}", key_file: "{key}" }}').start()
    try:
        sink, _ = make_sink(url=server.url, subject="siem.events", stream="EVENTS", create_stream={},
                            tls={"enabled": True, "ca_file": cert})
        assert sink.send(spooled([make_event()])).ok
        untrusted, _ = make_sink(url=server.url, subject="siem.events", stream="EVENTS", tls={"enabled": True})
        outcome = untrusted.send(spooled([make_event()]))
        assert outcome.status is Status.REJECT and outcome.open_circuit
        assert "CERTIFICATE_VERIFY_FAILED" in outcome.reason.upper()
    finally:
        server.stop()


def test_healthcheck_finds_the_stream_or_says_why_not(make_sink: Any, nats_server: NatsServer) -> None:
    sink, _ = make_sink(url=nats_server.url, subject="siem.{{ source }}")
    assert sink.healthcheck().status is Status.RETRY
    add_stream(nats_server.url, "EVENTS", ["siem.>"])
    probe = sink.healthcheck()
    assert probe.ok and "EVENTS" in probe.reason


def test_ocsf_schema_publishes_ocsf_json(make_sink: Any, nats_server: NatsServer) -> None:
    sink, _ = make_sink(url=nats_server.url, subject="siem.ocsf", stream="OCSF", create_stream={}, schema="ocsf")
    assert sink.send(spooled([make_event(id="o-1")])).ok
    (msg,) = stream_messages(nats_server.url, "OCSF")
    assert "class_uid" in orjson.loads(msg.data) and msg.headers["Siemrelay-Schema"] == "ocsf"


def test_close_is_idempotent_and_joins_the_loop_thread(make_sink: Any, nats_server: NatsServer) -> None:
    sink, _ = make_sink(url=nats_server.url, subject="siem.events", stream="EVENTS", create_stream={})
    assert sink.send(spooled([make_event()])).ok
    assert any(t.name == f"nats-{sink.name}" for t in threading.enumerate())
    sink.close()
    sink.close()
    assert not any(t.name == f"nats-{sink.name}" for t in threading.enumerate())
    assert sink.send([]).ok
