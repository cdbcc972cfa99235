"""The intake's preparing child processes (``agent.intake.processes``): same result, same order, nothing lost.

These start real children (``spawn``), so they hold the pool to what a user gets: the
real json decoder built from its configuration key, the router compiled from route
sections, and a spool on disk.
"""

from __future__ import annotations

import os
import signal
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import orjson
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from loguru import logger

from agent.config.loader import SourceMap
from agent.engine.build import DecoderFactory
from agent.engine.dedup import DedupWindow
from agent.engine.decoder_key import key_of
from agent.engine.intake import Intake, PreparedBatch
from agent.processes.channel import ChildChannel
from agent.engine.prepare_child import PrepareRecipe, child_main
from agent.engine.prepare_pool import PreparePool
from agent.engine.prepare_processes import PREPARE_PRELOAD, process_count, spare_child
from agent.processes.launch import SpareChild
from agent.plugins import PluginSet, load_plugins
from agent.routing.router import Router, compile_routes
from agent.sdk.decoder import Decoder
from agent.sdk.record import RawRecord
from agent.sdk.source import PendingSubmit, SubmitStatus
from agent.spool.store import Spool
from agent.testing import make_event, make_record

SINKS = ("siem", "chat", "archive")
ROUTES: list[dict[str, object]] = [
    {"name": "critical", "when": {"severity": ">= high"}, "to": ["siem", "chat"], "continue": True, "enabled": True,
     "description": "", "transforms": []},
    {"name": "tagged", "when": {"type": "finding.*"}, "to": ["archive"], "continue": False, "enabled": True,
     "description": "", "transforms": [{"tag": ["from-pool"]}, {"set": {"finding.ticket_queue": "SOC-L2"}}]},
    {"name": "quiet", "when": {"severity": "info"}, "to": ["chat"], "continue": False, "enabled": True,
     "description": "", "transforms": [{"redact": ["raw"]}, {"drop": True}]},
]
NOW = datetime(2026, 12, 6, 20, 0, tzinfo=timezone.utc)


def _router(routes: list[dict[str, object]]) -> Router:
    problems: list[object] = []
    router = compile_routes(routes, set(SINKS), SourceMap(), problems)  # type: ignore[arg-type]
    assert not problems
    return router


@pytest.fixture(scope="module")
def plugins() -> PluginSet:
    return load_plugins(entry_points=False)


@pytest.fixture(scope="module")
def json_decoder(plugins: PluginSet) -> Decoder:
    decoder = DecoderFactory(plugins, {}, SourceMap())("json", ("sources", "edr", "decoder"))
    assert key_of(decoder) is not None  # the factory stamps what a child rebuilds it from
    return decoder


def _spool(path: Path) -> Spool:
    spool = Spool(path, max_bytes=1 << 26, sync="normal")
    spool.open(SINKS)
    return spool


def _recipe(spool: Spool, routes: list[dict[str, object]] = ROUTES, window_s: float = 3600) -> PrepareRecipe:
    return PrepareRecipe(routes=routes, sinks=SINKS, bits=spool.sinks, dedup_window_s=window_s, dedup_max_ids=1000,
                         plugins=("plugins.dec_json",))


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[Spool]:
    s = _spool(tmp_path)
    yield s
    s.close()


def _pool(spool: Spool, **kw: float) -> PreparePool:
    """A started pool of one child, once that child is ready (until then batches are prepared here)."""
    kw.setdefault("small_batch_bytes", 0)  # these tests' batches are small: send them to the child anyway
    pool = PreparePool(_recipe(spool), 1, logger, **kw)  # type: ignore[arg-type]
    pool.start()
    assert pool.wait_ready(60), "the child did not start"
    return pool


SLOW_START_S = 3.0


def slow_starting_child(conn: ChildChannel, recipe: PrepareRecipe, parent: int) -> None:
    """A child that takes :data:`SLOW_START_S` to start (importing on a loaded machine)."""
    time.sleep(SLOW_START_S)
    child_main(conn, recipe, parent)


def _line(i: int, severity: str = "high", type_: str = "finding.new") -> bytes:
    return orjson.dumps({"id": f"e{i}", "severity": severity, "type": type_, "title": f"event {i}"})


def _records(decoder: Decoder, lines: list[bytes], source: str = "edr") -> list[RawRecord]:
    origin = {"input": source, "path": "/var/log/edr.jsonl"}
    return [RawRecord(line, decoder, origin, NOW) for line in lines]


def _stored(spool: Spool, sink: str) -> list[str]:
    reader = spool.reader()
    try:
        batch, _ = reader.read(sink, 0, 100_000, 1 << 40)
        return [e.event.id for e in batch]
    finally:
        reader.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is gone for our purposes
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


class Capturing(Intake):
    """An intake that keeps what the pool hands it instead of spooling it."""

    def __init__(self, spool: Spool, router: Router, dedup: DedupWindow | None = None) -> None:
        super().__init__(spool, router, logger, dedup)
        self.batches: list[PreparedBatch] = []

    def spool_prepared(self, batch: PreparedBatch, pending: PendingSubmit) -> None:
        self.batches.append(batch)
        super().spool_prepared(batch, pending)


# --------------------------------------------------------------------------- property

_lines = st.one_of(
    st.builds(lambda i, sev, t, extra: orjson.dumps({"id": f"x{i}", "severity": sev, "type": t, "n": extra}),
              st.integers(0, 30), st.sampled_from(["info", "low", "high", "critical", "9"]),
              st.sampled_from(["finding.new", "scan.completed", "alert"]), st.integers(-2**63, 2**63 - 1) | st.text(max_size=8)),
    st.builds(lambda sev, body: orjson.dumps({"severity": sev, "msg": body}),  # no id: a content-hash id
              st.sampled_from(["low", "high"]), st.text(max_size=12)),
    st.binary(max_size=20),  # bad JSON, invalid UTF-8
    st.just(b'{"id": "dup", "severity": "high"}'),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(_lines, max_size=40), dedup=st.booleans())
def test_the_pool_prepares_what_the_intake_prepares_in_process(tmp_path_factory: pytest.TempPathFactory,
                                                                 json_decoder: Decoder, lines: list[bytes],
                                                                 dedup: bool) -> None:
    """Rows, dead letters, failures, ids and every count equal in-process ``Intake.prepare``'s."""
    shared = _shared_pool(tmp_path_factory)
    spool, pool = shared
    records = _records(json_decoder, lines)
    local = Intake(spool, _router(ROUTES), logger, DedupWindow(3600, 1000)).prepare(records, dedup=dedup)
    intake = Capturing(spool, _router(ROUTES), DedupWindow(3600, 1000))
    intake.preparer = pool
    answer = intake.submit(records, dedup=dedup)
    assert answer.status is SubmitStatus.ACCEPTED
    (remote,) = intake.batches
    assert remote == local


_SHARED: dict[str, tuple[Spool, PreparePool]] = {}


def _shared_pool(factory: pytest.TempPathFactory) -> tuple[Spool, PreparePool]:
    """One child for every example of the property (starting one per example would take minutes)."""
    if "pool" not in _SHARED:
        spool = _spool(factory.mktemp("shared"))
        _SHARED["pool"] = (spool, _pool(spool))
    return _SHARED["pool"]


@pytest.fixture(scope="module", autouse=True)
def _close_shared() -> Iterator[None]:
    yield
    if "pool" in _SHARED:
        spool, pool = _SHARED.pop("pool")
        pool.close()
        spool.close()


# --------------------------------------------------------------------------- order and answers

def test_batches_are_spooled_and_answered_in_submission_order(spool: Spool, json_decoder: Decoder) -> None:
    pool = _pool(spool)
    try:
        intake = Intake(spool, _router(ROUTES), logger)
        intake.preparer = pool
        answered: list[int] = []
        pendings = []
        for b in range(12):
            pending = intake.submit_async(_records(json_decoder, [_line(b * 100 + i) for i in range(50)]))
            pending.add_done_callback(lambda r, b=b: answered.append(b))
            pendings.append(pending)
        assert all(p.result(60).status is SubmitStatus.ACCEPTED and p.result().events == 50 for p in pendings)
        assert answered == list(range(12))
        assert _stored(spool, "siem") == [f"e{b * 100 + i}" for b in range(12) for i in range(50)]
        assert intake.stats.by_input["edr"]["events"] == 600
        assert pool.in_process == 0  # every batch went to the child
    finally:
        pool.close()


def test_a_withdrawn_batch_is_never_spooled_and_nothing_behind_it_is(spool: Spool, json_decoder: Decoder) -> None:
    """A source that stops waiting (a file tail at shutdown) withdraws its unanswered batches,
    newest first: those the child still held are answered CLOSED and never spooled, those
    already handed to the spool are committed and answered ACCEPTED, and no batch after a
    withdrawn one is spooled (the tail's checkpoint could not move past the gap)."""
    pool = _pool(spool)
    try:
        intake = Intake(spool, _router(ROUTES), logger)
        intake.preparer = pool
        pendings = [intake.submit_async(_records(json_decoder, [_line(b * 100 + i) for i in range(50)])) for b in range(12)]
        withdrawn = [p.withdraw() for p in reversed(pendings)][::-1]
        assert withdrawn[-1], "the newest batch was still in the child"
        kept = withdrawn.index(True)
        assert withdrawn == [False] * kept + [True] * (12 - kept)  # a tail of the submissions, never a gap
        assert [p.result(60).status for p in pendings] == [SubmitStatus.ACCEPTED] * kept + [SubmitStatus.CLOSED] * (12 - kept)
        spool.flush()
        assert _stored(spool, "siem") == [f"e{b * 100 + i}" for b in range(kept) for i in range(50)]
    finally:
        pool.close()


def test_a_small_batch_is_prepared_here_and_a_large_one_in_the_child(spool: Spool, json_decoder: Decoder) -> None:
    """The trip to a child costs more than decoding a few events (an HTTP request's batch),
    so a batch under ``small_batch_bytes`` is prepared in this process, in its place in the
    order; a file tail's megabyte goes to the child."""
    pool = _pool(spool, small_batch_bytes=16 * 1024)
    try:
        intake = Intake(spool, _router(ROUTES), logger)
        intake.preparer = pool
        small = intake.submit_async(_records(json_decoder, [_line(i) for i in range(10)]))
        large = intake.submit_async(_records(json_decoder, [_line(1000 + i) for i in range(400)]))
        assert small.result(60).events == 10 and large.result(60).events == 400
        assert pool.in_process == 1  # the small one; the large one went to the child
        spool.flush()
        assert _stored(spool, "siem") == [f"e{i}" for i in range(10)] + [f"e{1000 + i}" for i in range(400)]
    finally:
        pool.close()


def test_batches_submitted_while_the_child_starts_are_prepared_here_at_once(spool: Spool, json_decoder: Decoder) -> None:
    """Nothing waits for a child that is still importing (a webhook sender would time out
    behind it on a loaded machine): its batches are prepared here, in order, then the
    ready child takes the next ones."""
    pool = PreparePool(_recipe(spool), 1, logger, small_batch_bytes=0, child_main=slow_starting_child)
    pool.start()
    try:
        intake = Intake(spool, _router(ROUTES), logger)
        intake.preparer = pool
        started = time.monotonic()
        early = [intake.submit_async(_records(json_decoder, [_line(b * 100 + i) for i in range(50)])) for b in range(3)]
        assert [p.result(SLOW_START_S / 2).events for p in early] == [50, 50, 50]  # long before the child is up
        assert time.monotonic() - started < SLOW_START_S and pool.in_process == 3
        assert pool.wait_ready(60)
        late = intake.submit_async(_records(json_decoder, [_line(900 + i) for i in range(50)]))
        assert late.result(60).events == 50 and pool.in_process == 3  # the child prepared this one
        spool.flush()
        assert _stored(spool, "siem") == [f"e{b * 100 + i}" for b in range(3) for i in range(50)] + [f"e{900 + i}" for i in range(50)]
    finally:
        pool.close()


def test_a_decoder_without_a_key_is_prepared_here_in_its_place(spool: Spool, json_decoder: Decoder) -> None:
    """A decoder a test or third-party source built itself: prepared in-process, between the pool's batches."""

    class Plain(Decoder):
        type_name = "plain"

        def decode(self, record):  # type: ignore[no-untyped-def]
            return [make_event(id=record.data.decode(), severity="high")]

    pool = _pool(spool)
    try:
        intake = Intake(spool, _router(ROUTES), logger)
        intake.preparer = pool
        first = intake.submit_async(_records(json_decoder, [_line(1), _line(2)]))
        second = intake.submit_async([make_record(b"plain-1", Plain({}), input="edr")])
        third = intake.submit_async(_records(json_decoder, [_line(3)]))
        assert [p.result(60).events for p in (first, second, third)] == [2, 1, 1]
        assert _stored(spool, "siem") == ["e1", "e2", "plain-1", "e3"]
        assert pool.in_process == 1
    finally:
        pool.close()


def test_duplicates_against_the_window_give_the_in_process_answer(spool: Spool, json_decoder: Decoder) -> None:
    window = DedupWindow(3600, 1000)
    window.remember(["e2"])
    pool = _pool(spool)
    try:
        intake = Intake(spool, _router(ROUTES), logger, window)
        intake.preparer = pool
        answer = intake.submit(_records(json_decoder, [_line(1), _line(2), _line(3), _line(3)]), dedup=True)
        assert (answer.status, answer.events, answer.duplicates) == (SubmitStatus.ACCEPTED, 2, 2)
        assert _stored(spool, "siem") == ["e1", "e3"]
        assert window.seen("e3")  # remembered once committed, as in-process
    finally:
        pool.close()


# --------------------------------------------------------------------------- a child lost

def test_a_child_killed_mid_stream_loses_nothing_and_spools_nothing_twice(spool: Spool, json_decoder: Decoder) -> None:
    pool = _pool(spool)
    try:
        intake = Intake(spool, _router(ROUTES), logger)
        intake.preparer = pool
        assert intake.submit(_records(json_decoder, [_line(0)])).status is SubmitStatus.ACCEPTED  # the child is up
        (pid,) = pool.pids
        pendings = [intake.submit_async(_records(json_decoder, [_line(b * 1000 + i) for i in range(200)]))
                    for b in range(1, 6)]
        os.kill(pid, signal.SIGKILL)
        pendings += [intake.submit_async(_records(json_decoder, [_line(b * 1000 + i) for i in range(200)]))
                     for b in range(6, 9)]
        assert all(p.result(60).status is SubmitStatus.ACCEPTED for p in pendings)
        expected = ["e0"] + [f"e{b * 1000 + i}" for b in range(1, 9) for i in range(200)]
        assert _stored(spool, "siem") == expected
        deadline = time.monotonic() + 30
        while (not pool.pids or pool.pids == [pid]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pool.restarts == 1 and pool.pids and pool.pids != [pid] and not _alive(pid)
        assert intake.submit(_records(json_decoder, [_line(99999)])).events == 1  # the new child serves
    finally:
        pool.close()


def test_a_hung_child_is_replaced_and_its_batch_prepared_here(spool: Spool, json_decoder: Decoder) -> None:
    pool = _pool(spool, timeout_s=1.0)
    try:
        intake = Intake(spool, _router(ROUTES), logger)
        intake.preparer = pool
        assert intake.submit(_records(json_decoder, [_line(0)])).status is SubmitStatus.ACCEPTED
        (pid,) = pool.pids
        os.kill(pid, signal.SIGSTOP)
        answer = intake.submit_async(_records(json_decoder, [_line(1), _line(2)])).result(30)
        assert (answer.status, answer.events) == (SubmitStatus.ACCEPTED, 2)
        assert _stored(spool, "siem") == ["e0", "e1", "e2"]
        assert pool.restarts == 1 and not _alive(pid)
    finally:
        pool.close()


def test_close_ends_every_child(spool: Spool, json_decoder: Decoder) -> None:
    pool = _pool(spool)
    intake = Intake(spool, _router(ROUTES), logger)
    intake.preparer = pool
    intake.submit(_records(json_decoder, [_line(1)]))
    pids = pool.pids
    pool.close()
    assert pids and not any(_alive(p) for p in pids)
    assert intake.submit_async(_records(json_decoder, [_line(2)])).result(5).status is SubmitStatus.CLOSED


# --------------------------------------------------------------------------- reload

def test_new_routes_apply_to_batches_submitted_after_configure(spool: Spool, json_decoder: Decoder) -> None:
    pool = _pool(spool)
    try:
        intake = Intake(spool, _router(ROUTES), logger)
        intake.preparer = pool
        assert intake.submit(_records(json_decoder, [_line(1, "low", "alert")])).events == 0  # unrouted by ROUTES
        only_default: list[dict[str, object]] = [{"name": "default", "when": {}, "to": ["chat"], "continue": False,
                                                  "enabled": True, "description": "", "transforms": []}]
        pool.configure(_recipe(spool, only_default))
        intake.set_router(_router(only_default))
        assert intake.submit(_records(json_decoder, [_line(2, "low", "alert")])).events == 1
        assert _stored(spool, "chat") == ["e2"]
    finally:
        pool.close()


def test_auto_is_one_child_on_two_cores_and_none_on_one() -> None:
    assert process_count("auto", lambda: 2) == 1
    assert process_count("auto", lambda: 1) == 0
    assert process_count(0) == 0 and process_count(3) == 3


# --------------------------------------------------------------------------- the spare started ahead

def test_the_first_child_is_the_spare_started_ahead_and_prepares_batches(spool: Spool, json_decoder: Decoder) -> None:
    """``siemrelay run`` starts a child before it reads the configuration (SpareChild):
    the pool gives that process its recipe instead of starting another, and it prepares
    batches like any child."""
    spare = SpareChild("siemrelay-prepare-0", PREPARE_PRELOAD)
    spare_pid = spare.pid  # the process started ahead
    pool = PreparePool(_recipe(spool), 2, logger, small_batch_bytes=0, spare=spare)
    pool.start()
    try:
        assert pool.wait_ready(60)
        assert pool.pids[0] == spare_pid and pool.pids[1] != spare_pid  # the second is started as before
        assert spare.take() is None  # taken once
        intake = Intake(spool, _router(ROUTES), logger)
        intake.preparer = pool
        pendings = [intake.submit_async(_records(json_decoder, [_line(b * 10 + i) for i in range(10)])) for b in range(4)]
        assert all(p.result(60).events == 10 for p in pendings)
        assert pool.in_process == 0 and _stored(spool, "siem") == [f"e{i}" for i in range(40)]
    finally:
        pool.close()
    assert not _alive(spare_pid)


def test_a_spare_nobody_takes_is_ended() -> None:
    spare = SpareChild("siemrelay-prepare-0", PREPARE_PRELOAD)
    pid = spare.pid
    assert pid is not None and _alive(pid)
    spare.discard()
    spare.discard()  # twice is fine
    assert not _alive(pid) and spare.take() is None and spare.pid is None


def test_a_spare_is_started_where_auto_would_start_a_child() -> None:
    assert spare_child(lambda: 1) is None
    spare = spare_child(lambda: 2)
    assert spare is not None
    spare.discard()
