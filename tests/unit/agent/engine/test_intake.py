"""Intake: decode → route → spool, and what it answers the sources."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from loguru import logger

from agent.sdk.decoder import Decoder, DecodeError, PartialDecodeError
from agent.engine.intake import DedupWindow, Intake
from agent.routing.router import Route, Router
from agent.sdk.source import SubmitStatus
from agent.spool.store import Spool
from agent.testing import FakeClock, make_event, make_record


class ListDecoder(Decoder):
    """Each record's data is a JSON list of event ids; 'bad' ids fail, 'boom' raises."""

    type_name = "list"

    def decode(self, record):  # type: ignore[no-untyped-def]
        ids = orjson.loads(record.data)
        if "boom" in ids:
            raise RuntimeError("decoder bug")
        if "unstorable" in ids:
            return [make_event(id="unstorable", raw={"a set": {1, 2}})]  # orjson cannot serialise a set
        good = [make_event(id=i, type="finding.new" if i.startswith("f") else "scan.completed") for i in ids if i != "bad"]
        if "bad" in ids:
            if good:
                raise PartialDecodeError(good, ["item 'bad' is not an event"])
            raise DecodeError("nothing decodable")
        return good


@pytest.fixture
def spool(tmp_path) -> Any:
    s = Spool(tmp_path, max_bytes=1 << 20, sync="normal")
    s.open(["siem", "chat"])
    yield s
    s.close()


def router() -> Router:
    return Router([Route("findings", lambda e: e.type.startswith("finding."), ("siem", "chat"))],
                  default=Route("default", lambda e: True, ("siem",)))


def rec(*ids: str) -> Any:
    return make_record(orjson.dumps(list(ids)), ListDecoder({}))


def queued(spool: Spool, sink: str) -> list[str]:
    reader = spool.reader()
    try:
        batch, _ = reader.read(sink, 0, 1000, 1 << 30)
        return [e.event.id for e in batch]
    finally:
        reader.close()


def test_events_fan_out_by_route_and_are_stored_once(spool):
    intake = Intake(spool, router(), logger)
    res = intake.submit([rec("f1", "s1"), rec("f2")])
    assert res.status is SubmitStatus.ACCEPTED and res.events == 3 and not res.errors
    assert queued(spool, "siem") == ["f1", "s1", "f2"]
    assert queued(spool, "chat") == ["f1", "f2"]
    with spool._ro_conn() as conn:
        assert conn.execute("SELECT sum(last - base + 1) FROM segments").fetchone()[0] == 3


def test_undecodable_records_go_to_dead_letters_with_raw_bytes(spool):
    intake = Intake(spool, router(), logger)
    res = intake.submit([rec("bad"), rec("s1"), rec("boom")])
    assert res.status is SubmitStatus.ACCEPTED and res.events == 1
    assert [i for i, _ in res.errors] == [0, 2]
    dead = spool.dead_letters()
    assert {d.data for d in dead} == {b'["bad"]', b'["boom"]'}
    assert all(d.sink is None and d.input == "test" for d in dead)
    assert any("decoder bug" in d.reason for d in dead)


def test_partly_good_record_spools_the_good_items_and_keeps_the_record(spool):
    intake = Intake(spool, router(), logger)
    res = intake.submit([rec("f1", "bad", "s2")])
    assert res.accepted and res.events == 2 and len(res.errors) == 1
    assert queued(spool, "siem") == ["f1", "s2"]
    assert spool.dead_letters()[0].data == b'["f1", "bad", "s2"]'.replace(b", ", b",")


def test_dedup_window_forwards_a_redelivery_once(spool):
    clock = FakeClock()
    intake = Intake(spool, router(), logger, DedupWindow(60, 100, clock))
    assert intake.submit([rec("f1")], dedup=True).events == 1
    again = intake.submit([rec("f1", "f1")], dedup=True)
    assert again.accepted and again.events == 0 and again.duplicates == 2
    clock.advance(61)
    assert intake.submit([rec("f1")], dedup=True).events == 1
    assert intake.submit([rec("f1")], dedup=False).events == 1  # sources that do not ask are not de-duplicated
    assert queued(spool, "siem") == ["f1", "f1", "f1"]


def test_full_spool_refuses_and_takes_nothing(tmp_path):
    spool = Spool(tmp_path, max_bytes=4096, resume_ratio=0.5, sync="normal")
    spool.open(["siem"])
    try:
        intake = Intake(spool, Router([], default=Route("default", lambda e: True, ("siem",))), logger, retry_after_s=7)
        while intake.submit([rec(*[f"s{i}" for i in range(5)])]).accepted:
            pass
        before = spool.pending_bytes
        res = intake.submit([rec("s-late")], timeout=0)
        assert res.status is SubmitStatus.FULL and res.retry_after == 7
        assert spool.pending_bytes == before
        reader = spool.reader()
        batch, pos = reader.read("siem", 0, 10_000, 1 << 30)
        reader.close()
        spool.ack("siem", pos)  # the sink caught up: below the low water mark, sources resume
        assert intake.submit([rec("s-late")], timeout=1).accepted
    finally:
        spool.close()


def test_unrouted_events_are_counted_not_spooled(spool):
    intake = Intake(spool, Router([Route("only-findings", lambda e: e.type.startswith("finding."), ("siem",))]), logger)
    res = intake.submit([rec("s1", "f1")])
    assert res.events == 1
    assert intake.stats.by_input["test"]["unrouted"] == 1


def test_closed_spool_answers_closed(tmp_path):
    spool = Spool(tmp_path, sync="normal")
    spool.open(["siem"])
    spool.close()
    assert Intake(spool, router(), logger).submit([rec("f1")]).status is SubmitStatus.CLOSED


def test_an_event_that_cannot_be_serialised_is_dead_lettered_not_raised(spool):
    intake = Intake(spool, router(), logger)
    res = intake.submit([rec("s1"), rec("unstorable"), rec("s2")])
    assert res.accepted and res.events == 2
    assert [i for i, _ in res.errors] == [1] and "cannot be stored as JSON" in res.errors[0][1]
    assert queued(spool, "siem") == ["s1", "s2"]
    (dead,) = spool.dead_letters()
    assert dead.data == b'["unstorable"]' and dead.event_id == "unstorable"
    counts = intake.stats.by_input["test"]
    assert counts["decode_errors"] == 1 and counts["dropped"] == 0


def test_a_prepared_batch_holds_each_event_at_its_own_size(spool):
    """A batch keeps each stored event's native JSON until the spool has it; orjson returns
    every result in a buffer of about 8 KB, so without a copy to its own length a tail's
    1,000 events held 8 MB in the preparing child (traced at its peak)."""
    import tracemalloc

    intake = Intake(spool, router(), logger)
    records = [rec(*[f"f{i}-{j}" for j in range(10)]) for i in range(50)]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        batch = intake.prepare(records, dedup=False)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    stored = sum(len(data) for _, data in batch.rows)
    assert len(batch.rows) == 500
    assert held < 3 * stored, f"{held} bytes held for {stored} bytes of rows"
