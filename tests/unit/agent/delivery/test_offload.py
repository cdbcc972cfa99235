"""Sink encoding in a child process: same frames as in-process, in order; a child that dies
or hangs is replaced and the batch encoded in-process; an encoder exception is attributed
as before; no child outlives its encoder, its worker, or a parent killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from loguru import logger

from agent.delivery.offload import GIVE_UP_AFTER, ChildEncoder, EncodeFailed, offload_wanted
from agent.delivery.worker import SinkWorker, WorkerStats
from agent.sdk.sink import SpooledEvent
from agent.spool.store import Spool
from agent.testing import FakeClock, TCPReceiver, make_event, spooled
from plugins.out_cef.sink import CefSink
from plugins.out_syslog.sink import SyslogSink
from tests.conftest import ROOT, wait_for
from tests.peers.sink_factory import make_sink


def _in_child() -> bool:
    """Whether this is an encoding child (its name is on its command line, agent.processes.launch)."""
    return sys.argv[1:2] != [] and sys.argv[1].startswith("siemrelay-encode-")


class TrickySyslogSink(SyslogSink):
    """A syslog sink whose encoder misbehaves on cue (a title), in the child only where the
    test needs the in-process fallback to work."""

    type_name = "tricky_syslog"

    def encode_batch(self, batch: Sequence[SpooledEvent]) -> list[bytes]:
        titles = {e.event.title for e in batch}
        if "poison" in titles:
            raise ValueError("cannot encode the poison event")
        if "hang" in titles and _in_child():
            time.sleep(3600)
        if "die" in titles and _in_child():
            os._exit(3)
        return super().encode_batch(batch)


def _sink(cls: type = SyslogSink) -> Any:
    return make_sink(cls, {"address": "127.0.0.1:9", "transport": "tcp", "hostname": "relay-host"})


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for a reaper has ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


@pytest.fixture
def encoder():
    made: list[ChildEncoder] = []

    def make(sink: Any, **options: float) -> ChildEncoder:
        enc = ChildEncoder(sink, logger, **options)
        made.append(enc)
        return enc

    yield make
    for enc in made:
        enc.close()


def test_offload_is_chosen_from_the_setting_and_the_sink_capability() -> None:
    syslog = _sink()
    assert offload_wanted(syslog, "child", cores=lambda: 1)
    assert offload_wanted(syslog, "auto", cores=lambda: 2)
    assert not offload_wanted(syslog, "auto", cores=lambda: 1)
    assert not offload_wanted(syslog, "main", cores=lambda: 8)

    class Local(SyslogSink):  # a child cannot import a class defined in a function
        type_name = "local"

    assert not offload_wanted(_sink(Local), "child", cores=lambda: 8)


def test_child_frames_equal_in_process_frames_in_spool_order(encoder) -> None:
    sink = _sink()
    enc = encoder(sink)
    batches = [spooled([make_event(title=f"event {i}-{j}") for j in range(50)], start=1 + 50 * i) for i in range(3)]
    for batch in batches:
        assert enc.encode(batch) == sink.encode_batch(batch)
    assert enc.pid is not None and enc.restarts == 0


def test_an_encoder_exception_comes_back_with_its_type_and_message(encoder) -> None:
    enc = encoder(_sink(TrickySyslogSink))
    with pytest.raises(EncodeFailed) as info:
        enc.encode(spooled([make_event(title="ok"), make_event(title="poison")]))
    assert info.value.type_name == "ValueError" and info.value.message == "cannot encode the poison event"
    assert "encode_batch" in info.value.trace
    good = spooled([make_event(title="fine")])
    assert enc.encode(good) == _sink(TrickySyslogSink).encode_batch(good)  # the same child goes on
    assert enc.restarts == 0


def test_a_killed_child_is_replaced_and_the_batch_encoded_in_process(encoder) -> None:
    sink = _sink()
    enc = encoder(sink)
    first = spooled([make_event(title="a")])
    enc.encode(first)
    old = enc.pid
    assert old is not None
    os.kill(old, signal.SIGKILL)
    wait_for(lambda: not _alive(old), what="the child to die")
    second = spooled([make_event(title="b")], start=2)
    assert enc.encode(second) == sink.encode_batch(second)
    assert enc.restarts == 1 and enc.pid not in (None, old)
    third = spooled([make_event(title="c")], start=3)
    assert enc.encode(third) == sink.encode_batch(third)  # the new child answers


def test_a_hung_child_is_killed_and_replaced(encoder) -> None:
    sink = _sink(TrickySyslogSink)
    enc = encoder(sink, timeout_s=1.0)
    enc.encode(spooled([make_event(title="warm up")]))
    old = enc.pid
    assert old is not None
    batch = spooled([make_event(title="hang")], start=2)
    assert enc.encode(batch) == sink.encode_batch(batch)
    assert not _alive(old) and enc.restarts == 1


def test_a_child_that_keeps_dying_is_given_up_for_in_process_encoding(encoder) -> None:
    sink = _sink(TrickySyslogSink)
    enc = encoder(sink)
    batch = spooled([make_event(title="die")])
    for _ in range(GIVE_UP_AFTER + 1):
        assert enc.encode(batch) == sink.encode_batch(batch)
    assert enc.gave_up and enc.pid is None


def test_close_ends_the_child(encoder) -> None:
    enc = encoder(_sink())
    enc.encode(spooled([make_event()]))
    pid = enc.pid
    assert pid is not None and _alive(pid)
    enc.close()
    assert not _alive(pid) and enc.pid is None
    enc.close()  # twice is fine


def test_the_child_ends_when_its_parent_is_killed(tmp_path: Path) -> None:
    script = tmp_path / "parent.py"
    script.write_text(
        "import sys, time\n"
        "from loguru import logger\n"
        "from agent.delivery.offload import ChildEncoder\n"
        "from agent.testing import make_event, spooled\n"
        "from plugins.out_syslog.sink import SyslogSink\n"
        "from tests.peers.sink_factory import make_sink\n"
        "if __name__ == '__main__':\n"
        "    sink = make_sink(SyslogSink, {'address': '127.0.0.1:9', 'transport': 'tcp'})\n"
        "    enc = ChildEncoder(sink, logger)\n"
        "    enc.encode(spooled([make_event()]))\n"
        "    print(enc.pid, flush=True)\n"
        "    time.sleep(600)\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, env=env, cwd=ROOT)
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert _alive(child)
        parent.kill()
        parent.wait()
        wait_for(lambda: not _alive(child), timeout=20, what="the orphaned child to end")
    finally:
        parent.kill()
        parent.wait()


TITLES = [f"e{i}" for i in range(5)] + ["poison"] + [f"e{i}" for i in range(5, 10)]


def _run_worker(tmp_path: Path, encode_in: str, docs: list[bytes]) -> tuple[bytes, list[Any], WorkerStats, ChildEncoder | None]:
    """Deliver 11 events (one poison) in batches of 4 to a real TCP receiver; what arrived, the dead letters."""
    spool = Spool(tmp_path / encode_in)
    spool.open(["a"])
    titles = TITLES
    spool.append([(1, doc) for doc in docs])
    try:
        with TCPReceiver() as peer:
            sink = make_sink(TrickySyslogSink, {"address": peer.address, "transport": "tcp", "hostname": "relay-host",
                                                "encode_in": encode_in, "batch": {"max_events": 4}, "retry": {"max_attempts": 1},
                                                "circuit_breaker": {"failure_threshold": 100}}, name="a")
            clock = FakeClock()
            worker = SinkWorker(sink, spool, sink.config, logger, clock=clock, wall=clock, sleep=clock.sleep)
            worker.run_until_idle()
            expected = sum(len(m) for m in sink.encode_batch(
                [SpooledEvent(i, d) for i, (t, d) in enumerate(zip(titles, docs)) if t not in ("e4", "poison", "e5", "e6")]))
            data = peer.wait_for_bytes(expected) if worker.stats.events_sent else peer.data
            sink.close()
            return data, spool.dead_letters("a"), worker.stats, worker.encoder
    finally:
        spool.close()


def test_worker_in_a_child_delivers_and_dead_letters_exactly_as_in_process(tmp_path: Path) -> None:
    docs = [make_event(id=t, title=t).to_json() for t in TITLES]
    main_data, main_dead, main_stats, none = _run_worker(tmp_path, "main", docs)
    child_data, child_dead, child_stats, enc = _run_worker(tmp_path, "child", docs)
    assert none is None and enc is not None and enc.pid is None  # the worker ended its child
    assert child_data == main_data and child_stats.events_sent == main_stats.events_sent == 7
    # the batch holding the poison event (e4..e7 → positions 5-8) failed as the in-process exception did
    assert sorted(d.event_id for d in child_dead) == sorted(d.event_id for d in main_dead) == ["e4", "e5", "e6", "poison"]
    assert child_dead[0].last_error == main_dead[0].last_error == "plugin error: ValueError: cannot encode the poison event"
    assert child_stats.last_error == main_stats.last_error


_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


@st.composite
def _events(draw: st.DrawFn) -> list[Any]:
    return [make_event(id=draw(_text), title=draw(_text), description=draw(_text), type=draw(_text),
                       vendor_type=draw(_text), asset={"name": draw(_text)}, finding={"id": draw(_text), "category": draw(_text)})
            for _ in range(draw(st.integers(1, 12)))]


@pytest.fixture(scope="module")
def child_encoders() -> Any:
    sinks = {"syslog": _sink(), "cef": make_sink(CefSink, {"address": "127.0.0.1:9", "transport": "tcp", "framing": "lf"}),
             "syslog_udp": make_sink(SyslogSink, {"address": "127.0.0.1:9", "transport": "udp"})}
    encs = {k: (s, ChildEncoder(s, logger)) for k, s in sinks.items()}
    yield encs
    for _, enc in encs.values():
        enc.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=_events(), which=st.sampled_from(["syslog", "cef", "syslog_udp"]))
def test_child_frames_are_byte_identical_for_any_event_text(child_encoders: Any, events: list[Any], which: str) -> None:
    """The wire bytes do not depend on where they were computed (the in-process encoders are
    property-tested through real parsers in tests/e2e/seams)."""
    sink, enc = child_encoders[which]
    batch = spooled(events)
    assert enc.encode(batch) == sink.encode_batch(batch)
    assert enc.restarts == 0
