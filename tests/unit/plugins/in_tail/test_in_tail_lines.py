"""Line splitting and multi-line grouping: pure functions over chunks."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from plugins.in_tail.lines import cut_lines, group_multiline, split_lines


def test_lf_and_crlf_and_partial_tail_is_held() -> None:
    pieces, consumed, skipping = split_lines(b"a\r\nb\n\nc", 100, False, False)
    assert [p.data for p in pieces] == [b"a", b"b"] and consumed == 6 and not skipping
    assert pieces[-1].end == 6  # the empty line is consumed with "b"
    pieces, consumed, _ = split_lines(b"a\nc\r", 100, False, True)
    assert [p.data for p in pieces] == [b"a", b"c"] and consumed == 4


def test_overlong_line_is_truncated_then_skipped_to_its_end() -> None:
    pieces, consumed, skipping = split_lines(b"x" * 100 + b"\nok\n", 64, False, False)
    assert [(len(p.data), p.truncated) for p in pieces] == [(64, True), (2, False)] and consumed == 104
    pieces, consumed, skipping = split_lines(b"y" * 100, 64, False, False)  # no newline yet
    assert [(len(p.data), p.truncated) for p in pieces] == [(64, True)] and skipping and consumed == 100
    pieces, consumed, skipping = split_lines(b"yyy\nnext\n", 64, True, False)
    assert [p.data for p in pieces] == [b"next"] and not skipping and consumed == 9


def test_multiline_groups_continuations_and_holds_the_last_group() -> None:
    start = re.compile(rb"^\d{4}-")
    pieces, _, _ = split_lines(b"2025-01 a\n  at x\n  at y\n2025-01 b\n  at z\n", 1000, False, False)
    held = group_multiline(pieces, start, 100, final=False)
    assert [p.data for p in held] == [b"2025-01 a\n  at x\n  at y"] and held[-1].end == pieces[2].end
    done = group_multiline(pieces, start, 100, final=True)
    assert [p.data for p in done] == [b"2025-01 a\n  at x\n  at y", b"2025-01 b\n  at z"]
    capped = group_multiline(pieces, start, 2, final=False)
    assert [p.data for p in capped] == [b"2025-01 a\n  at x", b"  at y", b"2025-01 b\n  at z"]


_line_bytes = st.lists(st.sampled_from([b"a", b"\xc3\xa9", b"\r", b"\n", b"\n", b"{}", b" "]), max_size=60).map(b"".join)


@settings(max_examples=400, deadline=None)
@given(chunk=_line_bytes, max_line=st.integers(1, 12), skipping=st.booleans(), take_tail=st.booleans())
def test_cut_lines_agrees_with_split_lines(chunk: bytes, max_line: int, skipping: bool, take_tail: bool) -> None:
    """The one-split fast path and the general loop cut every chunk the same way."""
    pieces, consumed, still_skipping = split_lines(chunk, max_line, skipping, take_tail)
    kept = [p for p in pieces if p.data]
    lines = cut_lines(chunk, max_line, skipping, take_tail)
    assert lines.datas == [p.data for p in kept]
    assert [lines.end(k) for k in range(1, len(kept) + 1)] == [p.end for p in kept]
    assert (lines.consumed, lines.skipping) == (consumed, still_skipping)
    assert lines.truncated == [i for i, p in enumerate(kept) if p.truncated]


def test_cut_lines_takes_the_fast_path_on_plain_lines() -> None:
    lines = cut_lines(b'{"a":1}\n{"b":2}\n{"c"', 100, False, False)
    assert lines.datas == [b'{"a":1}', b'{"b":2}'] and lines.ends is None
    assert (lines.end(1), lines.end(2), lines.consumed) == (8, 16, 16)
    assert cut_lines(b'{"c"', 100, False, True).datas == [b'{"c"']
