"""Segments: events cut into runs of equal masks, stored many to a row, read back event by
event from any cursor, in order, through the real SQLite spool."""

from __future__ import annotations

import tempfile

from hypothesis import given, settings
from hypothesis import strategies as st

from agent.spool.segments import events_after, pack_ends, runs, unpack_ends
from agent.spool.store import Spool

MASKS = st.sampled_from([0b01, 0b10, 0b11])
EVENTS = st.lists(st.tuples(MASKS, st.binary(min_size=1, max_size=40)), min_size=1, max_size=30)


@settings(max_examples=60, deadline=None)
@given(EVENTS, st.integers(min_value=0, max_value=40))
def test_runs_pack_and_slice_back_to_the_events(events: list[tuple[int, bytes]], after: int) -> None:
    cut = runs(events)
    assert [(r.mask, d) for r in cut for d in r.datas] == events  # nothing lost, order kept
    assert all(a.mask != b.mask for a, b in zip(cut, cut[1:]))  # a new run only where the mask changes
    seq = 1
    got: list[tuple[int, bytes]] = []
    for r in cut:
        got.extend(events_after(seq, unpack_ends(pack_ends(r.datas)), b"".join(r.datas), after))
        seq += len(r.datas)
    assert got == [(i + 1, d) for i, (_, d) in enumerate(events) if i + 1 > after]


def test_a_run_continues_across_appends_of_one_commit() -> None:
    first = runs([(1, b"a")])
    assert runs([(1, b"b"), (2, b"c")], first[-1])[0].mask == 2 and first[-1].datas == [b"a", b"b"]


@settings(max_examples=15, deadline=None)
@given(st.lists(EVENTS, min_size=1, max_size=3), st.integers(min_value=0, max_value=30),
       st.integers(min_value=1, max_value=7))
def test_each_sink_reads_exactly_its_events_from_any_cursor(appends: list[list[tuple[int, bytes]]], ack: int,
                                                            batch: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        sp = Spool(tmp, sync="normal")
        sp.open(["a", "b"])
        try:
            bits = {"a": 1 << sp.bit_of("a"), "b": 1 << sp.bit_of("b")}
            stored = []
            for events in appends:  # several commits, several segments each
                rows = [((bits["a"] if m & 1 else 0) | (bits["b"] if m & 2 else 0), d) for m, d in events]
                sp.append(rows)
                stored.extend(rows)
            sp.ack("a", min(ack, len(stored)))  # a's cursor, possibly inside a segment
            reader = sp.reader()
            for sink in ("a", "b"):
                position, got = sp.cursor(sink), []
                while True:  # in batches of `batch`, as a worker reads
                    part, position = reader.read(sink, position, batch, 1 << 20)
                    if not part:
                        break
                    got.extend((e.seq, e.data) for e in part)
                want = [(i + 1, d) for i, (m, d) in enumerate(stored) if m & bits[sink] and i + 1 > sp.cursor(sink)]
                assert got == want
                assert position <= len(stored)  # never past what was written (a later commit is never skipped)
            reader.close()
        finally:
            sp.close()


@settings(max_examples=30, deadline=None)
@given(st.lists(EVENTS, min_size=1, max_size=3), st.integers(min_value=0, max_value=30),
       st.integers(min_value=1, max_value=7), st.integers(min_value=1, max_value=120))
def test_a_read_takes_what_fits_in_max_events_and_max_bytes(appends: list[list[tuple[int, bytes]]], after: int,
                                                           batch: int, max_bytes: int) -> None:
    """Each read is the longest run of the sink's next events within both limits (the first
    event always goes), and its position is the last event's when a limit cut it short."""
    with tempfile.TemporaryDirectory() as tmp:
        sp = Spool(tmp, sync="normal")
        sp.open(["a", "b"])
        try:
            bit = 1 << sp.bit_of("a")
            stored: list[tuple[int, bytes]] = []
            for events in appends:
                rows = [(bit if m & 1 else 1 << sp.bit_of("b"), d) for m, d in events]
                sp.append(rows)
                stored.extend(rows)
            pending = [(i + 1, d) for i, (m, d) in enumerate(stored) if m == bit and i + 1 > after]
            reader = sp.reader()
            position = after
            while True:
                part, new_position = reader.read("a", position, batch, max_bytes)
                want: list[tuple[int, bytes]] = []
                for seq, data in pending:
                    if want and (len(want) == batch or sum(len(d) for _, d in want) + len(data) > max_bytes):
                        break
                    want.append((seq, data))
                assert [(e.seq, e.data) for e in part] == want
                pending = pending[len(want):]
                if not part:
                    assert new_position >= position
                    break
                assert new_position == (part[-1].seq if pending else max(part[-1].seq, new_position))
                assert all(seq > new_position for seq, _ in pending)
                position = new_position
            reader.close()
        finally:
            sp.close()
