"""RFC 6587 framing: octet counting and LF, told apart per frame, cut at any byte."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from plugins.in_syslog.framing import Framer


def octet(msg: bytes) -> bytes:
    return str(len(msg)).encode() + b" " + msg


def test_octet_counted_and_lf_frames_mix_on_one_stream() -> None:
    f = Framer(1024)
    frames = f.feed(octet(b"<13>1 - - - - - - has\nnewline") + b"<13>plain lf\r\n" + octet(b"<13>again"))
    assert [x.data for x in frames] == [b"<13>1 - - - - - - has\nnewline", b"<13>plain lf", b"<13>again"]
    assert (f.octet_frames, f.lf_frames, f.pending) == (2, 1, 0)


def test_lf_message_starting_with_digits_is_not_taken_for_a_length() -> None:
    f = Framer(1024)
    assert [x.data for x in f.feed(b"2025-01-15 something happened\n")] == [b"2025-01-15 something happened"]


def test_frames_cut_anywhere_wait_for_the_rest() -> None:
    f = Framer(1024)
    stream = octet(b"<13>first message") + b"<13>second\n"
    out = []
    for i in range(len(stream)):
        out += f.feed(stream[i:i + 1])
    assert [x.data for x in out] == [b"<13>first message", b"<13>second"]


def test_oversized_frames_are_truncated_flagged_and_the_rest_skipped() -> None:
    f = Framer(480)
    big = b"<13>" + b"a" * 1000
    frames = f.feed(octet(big)[:700])
    assert len(frames) == 1 and frames[0].truncated and len(frames[0].data) == 480
    frames = f.feed(octet(big)[700:] + octet(b"<13>next"))
    assert [x.data for x in frames] == [b"<13>next"]
    frames = f.feed(b"<13>" + b"b" * 2000 + b"\n<13>after\n")
    assert [(len(x.data), x.truncated) for x in frames] == [(480, True), (9, False)]


def test_close_returns_a_cut_frame_flagged_incomplete_or_an_unterminated_line() -> None:
    f = Framer(1024)
    assert f.feed(octet(b"<13>complete") + b"40 <13>cut sho") != []
    last = f.close()
    assert last is not None and last.incomplete and last.data == b"<13>cut sho"
    f.feed(b"<13>no trailing newline")
    last = f.close()
    assert last is not None and not last.incomplete and last.data == b"<13>no trailing newline"
    f.feed(b"12")
    assert f.close() is None


def test_forced_lf_mode_does_not_read_lengths() -> None:
    f = Framer(1024, "lf")
    assert [x.data for x in f.feed(b"12 <13>x\n")] == [b"12 <13>x"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=60).map(lambda b: b"<13>" + b), min_size=1, max_size=20),
       st.lists(st.integers(min_value=1, max_value=50), max_size=40))
def test_octet_stream_split_anyhow_gives_back_the_same_messages(msgs: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(octet(m) for m in msgs)
    f = Framer(4096)
    out, pos = [], 0
    for c in cuts:
        out += f.feed(stream[pos:pos + c])
        pos += c
    out += f.feed(stream[pos:])
    assert [x.data for x in out] == msgs
