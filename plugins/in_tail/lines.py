"""From a chunk of file bytes to complete lines (or multi-line groups), with their end offsets.

Pure and stateless apart from what the caller passes in, so the file's offset stays
the only truth: anything not returned as complete (a partial last line, a
multi-line group that may still grow) is simply read again at the next poll.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["Piece", "Lines", "cut_lines", "split_lines", "group_multiline"]


@dataclass(slots=True)
class Piece:
    """One record's bytes and the chunk offset just after it (what the checkpoint may advance to)."""

    data: bytes
    end: int
    truncated: bool = False


@dataclass(slots=True)
class Lines:
    """The complete lines of a chunk as a list of bytes (no object per line: the hot path).

    :ivar datas: each non-empty record's bytes (empty lines are consumed with the record
        before them, or dropped when nothing precedes them).
    :ivar consumed: bytes of the chunk used up (the partial last line is not).
    :ivar skipping: the chunk ends inside an over-long line whose head was already emitted.
    :ivar truncated: indices of records cut at ``max_line`` bytes.
    :ivar ends: the chunk offset just after each record; ``None`` when every record is
        a whole line followed by its LF, so :meth:`end` can sum the lengths instead.
    """

    datas: list[bytes]
    consumed: int
    skipping: bool
    truncated: list[int] = field(default_factory=list)
    ends: list[int] | None = None

    def end(self, count: int) -> int:
        """The chunk offset just after the first ``count`` records (what a checkpoint may advance to)."""
        if self.ends is not None:
            return self.ends[count - 1]
        return min(sum(map(len, self.datas[:count])) + count, self.consumed)  # a taken tail has no LF


def cut_lines(chunk: bytes, max_line: int, skipping: bool, take_tail: bool) -> Lines:
    """Split ``chunk`` at LF exactly as :func:`split_lines` does, as :class:`Lines`.

    The common chunk (no CR, no empty or over-long line, not inside an over-long line)
    is cut with one ``bytes.split``: a few tens of nanoseconds per line instead of a
    Python loop turn and an object per line. Any other chunk goes through
    :func:`split_lines`, which handles every case.
    """
    last = chunk.rfind(b"\n")
    tail = len(chunk) - last - 1
    if not skipping and b"\r" not in chunk and tail <= max_line:
        datas = chunk[:last].split(b"\n") if last >= 0 else []
        if b"" not in datas and (last <= max_line or max(map(len, datas)) <= max_line):
            if take_tail and tail:
                datas.append(chunk[last + 1:])
                return Lines(datas, len(chunk), False)
            return Lines(datas, last + 1, False)
    pieces, consumed, skipping = split_lines(chunk, max_line, skipping, take_tail)
    return lines_of(pieces, consumed, skipping)


def lines_of(pieces: list[Piece], consumed: int, skipping: bool) -> Lines:
    """:class:`Lines` holding ``pieces`` (empty ones dropped: a later end covers them)."""
    kept = [p for p in pieces if p.data]
    return Lines([p.data for p in kept], consumed, skipping, [i for i, p in enumerate(kept) if p.truncated],
                 [p.end for p in kept])


def split_lines(chunk: bytes, max_line: int, skipping: bool, take_tail: bool) -> tuple[list[Piece], int, bool]:
    """Split ``chunk`` at LF (a CR before it is dropped).

    :param skipping: the chunk starts inside an over-long line whose head was already emitted.
    :param take_tail: also return the unterminated tail (flush of a partial line).
    :returns: the pieces, the bytes consumed, and whether the chunk ends inside an
        over-long line that was already emitted (``skipping`` for the next chunk).
    """
    out: list[Piece] = []
    pos = 0
    n = len(chunk)
    while pos < n:
        nl = chunk.find(b"\n", pos)
        if nl < 0:
            tail = n - pos
            if skipping:
                return out, n, True  # still inside the over-long line: consume, keep skipping
            if tail > max_line:
                out.append(Piece(chunk[pos:pos + max_line], n, True))
                return out, n, True
            if take_tail and tail:
                data = chunk[pos:]
                out.append(Piece(data[:-1] if data.endswith(b"\r") else data, n))
                return out, n, False
            return out, pos, False
        if skipping:
            skipping = False
            pos = nl + 1
            if out:
                out[-1].end = pos
            continue
        end = nl - 1 if nl > pos and chunk[nl - 1] == 13 else nl
        if end - pos > max_line:
            out.append(Piece(chunk[pos:pos + max_line], nl + 1, True))
        elif end > pos:
            out.append(Piece(chunk[pos:end], nl + 1))
        elif out:
            out[-1].end = nl + 1  # an empty line: consumed with the previous record
        else:
            out.append(Piece(b"", nl + 1))  # leading empty line: consumed, dropped by the caller
        pos = nl + 1
    return out, pos, skipping


def group_multiline(pieces: list[Piece], start: re.Pattern[bytes], max_lines: int, final: bool) -> list[Piece]:
    """Join continuation lines to the line that starts their group.

    A group ends where the next start line begins. The last group may still grow, so
    it is returned only when ``final`` (flush time, rotation) or when it reached
    ``max_lines``; otherwise its lines stay unconsumed.
    """
    out: list[Piece] = []
    group: list[Piece] = []

    def close() -> None:
        if group:
            out.append(Piece(b"\n".join(p.data for p in group), group[-1].end, any(p.truncated for p in group)))
            group.clear()

    for p in pieces:
        if not p.data:
            if group:
                group[-1].end = p.end
            else:
                out.append(p)
            continue
        if start.search(p.data) is not None or len(group) >= max_lines:
            close()
        group.append(p)
    if final or len(group) >= max_lines:
        close()
    return out
