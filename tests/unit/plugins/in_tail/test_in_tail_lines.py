"""Line splitting and multi-line grouping: pure functions over chunks."""

from __future__ import annotations

import re

from plugins.in_tail.lines import group_multiline, split_lines


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
