"""Heads rendered ahead by the intake reach the right sink, for the right events, after the commit."""

from __future__ import annotations

from typing import Any, Mapping

import orjson
from loguru import logger

from agent.engine.intake import Intake
from agent.engine.prepare_child import SpareTime
from agent.sdk.heads import RenderedHeads
from agent.spool.store import Spool
from tests.unit.agent.engine.test_intake import rec, router, spool  # noqa: F401  (spool: the fixture)


class IdHeads:
    """A renderer whose head names the event it was rendered from."""

    def __init__(self, key: str = "ids", fail_on: str = "") -> None:
        self.key = key
        self.fail_on = fail_on

    def __call__(self, doc: Mapping[str, object]) -> bytes | None:
        if doc["id"] == self.fail_on:
            raise RuntimeError("renderer bug")
        return f"H:{doc['id']}".encode()


def _read(spool: Spool, sink: str) -> list[Any]:
    reader = spool.reader()
    try:
        return reader.read(sink, 0, 1000, 1 << 30)[0]
    finally:
        reader.close()


def test_each_sink_gets_the_heads_of_its_own_events_by_sequence_number(spool: Spool) -> None:
    intake = Intake(spool, router(), logger)
    siem, chat = RenderedHeads("ids"), RenderedHeads("ids")
    intake.set_heads({"siem": IdHeads(), "chat": IdHeads()}, {"siem": siem, "chat": chat})
    assert intake.submit([rec("f1", "s1"), rec("f2")]).events == 3
    assert intake.submit([rec("s2"), rec("f3")]).events == 2
    for sink, memo in (("siem", siem), ("chat", chat)):
        batch = _read(spool, sink)
        heads = memo.take(batch)
        assert heads == [f"H:{orjson.loads(item.data)['id']}".encode() for item in batch]
    assert [orjson.loads(i.data)["id"] for i in _read(spool, "chat")] == ["f1", "f2", "f3"]
    assert len(siem) == len(chat) == 0


def test_heads_of_another_configuration_are_refused(spool: Spool) -> None:
    intake = Intake(spool, router(), logger)
    memo = RenderedHeads("the sink's new settings")
    intake.set_heads({"siem": IdHeads("the old settings")}, {"siem": memo})
    intake.submit([rec("s1")])
    assert len(memo) == 0 and memo.take(_read(spool, "siem")) is None


def test_a_renderer_that_fails_costs_its_head_only(spool: Spool) -> None:
    intake = Intake(spool, router(), logger)
    memo = RenderedHeads("ids")
    intake.set_heads({"siem": IdHeads(fail_on="s2")}, {"siem": memo})
    assert intake.submit([rec("s1", "s2", "s3")]).events == 3
    assert memo.take(_read(spool, "siem")) == [b"H:s1", None, b"H:s3"]
    assert (memo.used, memo.missed) == (2, 1)


def test_a_batch_prepared_without_heads_stores_the_same_rows(spool: Spool) -> None:
    intake = Intake(spool, router(), logger)
    intake.set_heads({"siem": IdHeads()}, {"siem": RenderedHeads("ids")})
    with_heads = intake.prepare([rec("f1", "s1")])
    without = intake.prepare([rec("f1", "s1")], heads_for=())
    assert [m for m, _ in with_heads.rows] == [m for m, _ in without.rows]
    assert [orjson.loads(d)["id"] for _, d in with_heads.rows] == [orjson.loads(d)["id"] for _, d in without.rows]
    assert with_heads.heads["siem"] == ("ids", [b"H:f1", b"H:s1"]) and without.heads == {}


def test_a_busy_child_renders_only_the_heads_several_sinks_share(spool: Spool) -> None:
    """A head of one sink only moves its work; one several sinks share saves a rendering per sink."""
    intake = Intake(spool, router(), logger)
    intake.set_heads({"siem": IdHeads("shared"), "chat": IdHeads("shared")}, {})
    assert intake.prepare([rec("f1", "s1")], shared_only=True).heads == {
        "siem": ("shared", [b"H:f1", b"H:s1"]), "chat": ("shared", [b"H:f1", None])}
    intake.set_heads({"siem": IdHeads("siem's own"), "chat": IdHeads("chat's own")}, {})
    assert intake.prepare([rec("f1", "s1")], shared_only=True).heads == {}
    assert set(intake.prepare([rec("f1", "s1")]).heads) == {"siem", "chat"}


def test_the_child_takes_on_every_head_only_while_idle_30_percent_of_its_time() -> None:
    wall, cpu = [0.0], [0.0]
    spare = SpareTime(weight=1.0, clock=lambda: wall[0], cpu=lambda: cpu[0])
    assert spare.share == 0.3
    wall[0], cpu[0] = 1.0, 0.8  # idle 20 %: not enough for heads that only move work
    spare.tick()
    assert not spare.to_spare()
    wall[0], cpu[0] = 2.0, 1.4  # idle 40 % of the last second
    spare.tick()
    assert spare.to_spare()


def test_the_spool_tells_each_append_its_first_sequence_number(spool: Spool) -> None:
    firsts: list[int] = []
    done = [spool.append_nowait([(1, b'{"n":%d}' % i) for i in range(n)], on_stored=firsts.append)
            for n in (3, 2, 4)]
    for pending in done:
        assert pending is not None
        pending.wait()
    stored = _read(spool, "siem")
    assert [orjson.loads(item.data)["n"] for item in stored] == [0, 1, 2, 0, 1, 0, 1, 2, 3]
    assert firsts == [stored[0].seq, stored[3].seq, stored[5].seq]


def test_the_memo_is_bounded_and_drops_what_its_sink_passed() -> None:
    memo = RenderedHeads("k", limit=5)
    assert memo.put("k", 10, [b"a", b"b", b"c"])
    assert not memo.put("k", 13, [b"d", b"e", b"f"])  # over the bound: the sink renders these
    assert memo.put("k", 13, [b"d", None])

    class Item:
        def __init__(self, seq: int) -> None:
            self.seq = seq

    assert memo.take([Item(12), Item(13), Item(14)]) == [b"c", b"d", None]
    assert len(memo) == 0  # 10 and 11 were passed without being taken


def test_spare_time_follows_the_share_of_wall_time_not_spent_working() -> None:
    wall, cpu = [0.0], [0.0]
    spare = SpareTime(share=0.1, weight=1.0, clock=lambda: wall[0], cpu=lambda: cpu[0])
    assert spare.to_spare()  # nothing measured yet
    wall[0], cpu[0] = 1.0, 0.95  # busy 95 % of the time: no room
    spare.tick()
    assert not spare.to_spare()
    wall[0], cpu[0] = 2.0, 1.6  # busy 65 %: room for more
    spare.tick()
    assert spare.to_spare()


def test_sinks_with_the_same_settings_share_one_rendering(spool: Spool) -> None:
    calls: list[object] = []

    class Counting(IdHeads):
        def __call__(self, doc: Mapping[str, object]) -> bytes | None:
            calls.append(doc["id"])
            return super().__call__(doc)

    intake = Intake(spool, router(), logger)
    intake.set_heads({"siem": Counting(), "chat": Counting()}, {})
    batch = intake.prepare([rec("f1", "s1")])  # f1 goes to both sinks, s1 to siem only
    assert calls == ["f1", "s1"]
    assert batch.heads == {"siem": ("ids", [b"H:f1", b"H:s1"]), "chat": ("ids", [b"H:f1", None])}


def test_each_event_keeps_its_own_receiving_time_when_a_batch_mixes_them(spool: Spool) -> None:
    """The intake formats a batch's shared receiving time once; records of one batch that
    arrived at different times (an HTTP batch: one time per request) each keep their own."""
    from datetime import datetime, timedelta, timezone

    from agent.model import format_time
    from agent.sdk.record import RawRecord
    from plugins.dec_json.decoder import JsonDecoder

    decoder = JsonDecoder({})
    first = datetime(2026, 12, 7, 6, 0, 0, 4000, tzinfo=timezone.utc)
    times = [first, first, first + timedelta(milliseconds=1), first, first + timedelta(seconds=3), first]
    records = [RawRecord(orjson.dumps({"id": f"e{i}", "title": "t", "severity": "high"}), decoder, {"input": "http"}, at)
               for i, at in enumerate(times)]
    intake = Intake(spool, router(), logger)
    intake.set_heads({"siem": IdHeads()}, {"siem": RenderedHeads("ids")})  # the path that renders heads too
    for heads_for in (None, ()):  # every sink's heads (the default), none
        rows = intake.prepare(records, heads_for=heads_for).rows
        assert [orjson.loads(d)["received_at"] for _, d in rows] == [format_time(at) for at in times]


def test_no_heads_are_rendered_for_a_sink_whose_memo_is_full(spool: Spool) -> None:
    """A sink draining a backlog keeps its memo full of heads for events it reaches much
    later and would refuse new ones: rendering them is wasted (measured: a fifth of the
    preparing child's time, the intake during a 2 M drain 0.68-0.80 → 0.87-0.93 of its rate)."""
    intake = Intake(spool, router(), logger)
    behind, caught_up = RenderedHeads("ids", limit=2), RenderedHeads("ids", limit=100)
    rendered: list[str] = []

    class Counting(IdHeads):
        def __call__(self, doc: Mapping[str, object]) -> bytes | None:
            rendered.append(str(doc["id"]))
            return super().__call__(doc)

    intake.set_heads({"siem": Counting(), "chat": IdHeads()}, {"siem": behind, "chat": caught_up})
    assert intake.heads_wanted(2) == {"siem", "chat"} and intake.heads_wanted(3) == {"chat"}
    intake.submit([rec("s1", "s2")])  # fills siem's memo
    assert len(behind) == 2 and intake.heads_wanted(1) == {"chat"}
    rendered.clear()
    batch = intake.prepare([rec("f1", "s3")])
    assert rendered == [] and set(batch.heads) == {"chat"}  # none rendered for siem, chat's as before
    behind.take(_read(spool, "siem"))  # the sink caught up: room again
    assert intake.heads_wanted(2) == {"siem", "chat"}
    assert set(intake.prepare([rec("s4")]).heads) == {"siem"}


def test_a_preparing_child_renders_only_the_heads_the_agent_will_keep(tmp_path: Any) -> None:
    """The child has no memos: the agent names the sinks with room in each batch it sends."""
    from agent.engine.prepare_child import PrepareRecipe
    from agent.engine.prepare_pool import PreparePool
    from tests.unit.agent.engine.test_prepare_pool import ROUTES, SINKS, Capturing, _line, _records

    from agent.config.loader import SourceMap
    from agent.engine.build import DecoderFactory
    from agent.plugins import load_plugins
    from agent.routing.router import compile_routes

    spool = Spool(tmp_path, max_bytes=1 << 26, sync="normal")
    spool.open(SINKS)
    try:
        decoder = DecoderFactory(load_plugins(entry_points=False), {}, SourceMap())("json", ("sources", "edr", "decoder"))
        problems: list[object] = []
        intake = Capturing(spool, compile_routes(ROUTES, set(SINKS), SourceMap(), problems))  # type: ignore[arg-type]
        siem, chat = RenderedHeads("ids", limit=1), RenderedHeads("ids")
        renderers = {"siem": IdHeads(), "chat": IdHeads()}
        intake.set_heads(renderers, {"siem": siem, "chat": chat})
        siem.put("ids", 10_000, [b"an old head"])  # full: the sink is far behind
        recipe = PrepareRecipe(routes=ROUTES, sinks=SINKS, bits=spool.sinks, dedup_window_s=60, dedup_max_ids=100,
                               plugins=("plugins.dec_json",), renderers=renderers)
        pool = PreparePool(recipe, 1, logger, small_batch_bytes=0)
        pool.start()
        try:
            assert pool.wait_ready(60)
            intake.preparer = pool
            assert intake.submit(_records(decoder, [_line(1, "critical")])).events == 1
            assert pool.in_process == 0  # the child prepared it
            [batch] = intake.batches
            assert set(batch.heads) == {"chat"}  # the child rendered chat's head, none for siem
            assert len(chat) == 1 and len(siem) == 1
        finally:
            pool.close()
    finally:
        spool.close()
