"""The file source: discovery, framing, checkpoints, rotation of both kinds, deletion, backpressure."""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from loguru import logger

from agent.sdk.source import SourceContext
from plugins.in_tail.source import TailSource
from tests.conftest import wait_for
from tests.unit.plugins.in_tail.fakes import AsyncCollector, Collector


@pytest.fixture(params=["sync", "pipelined"])
def new_collector(request: Any) -> Any:
    """Every test runs against a synchronous intake, and against one that answers late (submit_async)."""
    return Collector if request.param == "sync" else AsyncCollector


@pytest.fixture
def tail(plugin_set: Any, tmp_path: Path, new_collector: Any) -> Iterator[Any]:
    made: list[TailSource] = []
    collectors: list[Collector] = []

    def make(col: Collector | None = None, **options: Any) -> tuple[TailSource, Collector]:
        col = col or new_collector()
        collectors.append(col)
        cfg = {"paths": [str(tmp_path / "logs" / "*.log")], "exclude": [], "read_from": "beginning", "decoder": "json",
               "max_line_bytes": 1024, "partial_flush_s": 0, "rotate_wait_s": 0.3, "poll_interval_s": 0.02,
               "batch_lines": 100, "multiline": {}, **options}
        ctx = SourceContext(name="t", logger=logger, state_dir=tmp_path / "state", submit=col.submit,
                            build_decoder=lambda spec: plugin_set.registry.get("decoder", spec).cls({}),
                            submit_pending=getattr(col, "submit_async", None))
        src = TailSource("t", cfg, ctx)
        src.start()
        made.append(src)
        return src, col

    (tmp_path / "logs").mkdir()
    yield make
    for s in made:
        s.stop()
    for c in collectors:
        if isinstance(c, AsyncCollector):
            c.close()


def write(path: Path, text: str | bytes, mode: str = "ab") -> None:
    with open(path, mode) as fh:
        fh.write(text.encode() if isinstance(text, str) else text)


def test_globs_exclude_new_files_crlf_and_partial_lines(tail: Any, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    write(logs / "a.log", "a1\r\na2\n")
    write(logs / "skip.log", "nope\n")
    src, col = tail(exclude=["*/skip.log"])
    wait_for(lambda: col.lines() == ["a1", "a2"], what="a.log")
    write(logs / "b.log", "b1\n")  # appears while running
    wait_for(lambda: "b1" in col.lines(), what="the new file")
    write(logs / "a.log", "a3 partial")
    time.sleep(0.2)
    assert "a3 partial" not in col.lines()  # held until completed
    write(logs / "a.log", " done\n")
    wait_for(lambda: "a3 partial done" in col.lines(), what="the completed line")
    assert "nope" not in col.lines()


def test_partial_line_is_flushed_after_partial_flush_s(tail: Any, tmp_path: Path) -> None:
    write(tmp_path / "logs" / "a.log", "x1\nno newline")
    src, col = tail(partial_flush_s=0.3)
    wait_for(lambda: col.lines() == ["x1", "no newline"], what="the flushed partial line")


def test_read_from_end_only_for_files_present_at_start(tail: Any, tmp_path: Path) -> None:
    write(tmp_path / "logs" / "old.log", "old\n")
    src, col = tail(read_from="end")
    wait_for(lambda: "old.log" in str([f.path for f in src.files.values()]), what="the file to be followed")
    write(tmp_path / "logs" / "old.log", "new\n")
    write(tmp_path / "logs" / "later.log", "later1\n")
    wait_for(lambda: sorted(col.lines()) == ["later1", "new"], what="new lines only")


def test_long_lines_truncated_and_invalid_utf8_flagged(tail: Any, tmp_path: Path) -> None:
    write(tmp_path / "logs" / "a.log", b"z" * 3000 + b"\ncaf\xe9\nok\n")
    src, col = tail()
    wait_for(lambda: len(col.records) == 3, what="three records")
    long, bad, ok = col.records
    assert len(long.data) == 1024 and long.origin["flags"] == ["truncated"]
    assert bad.data == "caf\ufffd".encode() and bad.origin["flags"] == ["invalid_utf8"]
    assert "flags" not in ok.origin and src.stats["truncated"] == 1 and src.stats["invalid_utf8"] == 1


def test_utf8_is_checked_per_chunk_and_per_line_only_where_needed(tail: Any, tmp_path: Path) -> None:
    # valid UTF-8 throughout (one check for the chunk), then a bad byte among plain lines
    # (each line checked); later a line cut at max_line_bytes inside a two-byte character
    log = tmp_path / "logs" / "a.log"
    write(log, "café\nnaïve\n".encode())
    src, col = tail()
    wait_for(lambda: len(col.records) == 2, what="two records")
    write(log, b"plain\ncaf\xe9\nplain\n")
    wait_for(lambda: len(col.records) == 5, what="five records")
    write(log, b"x" * 1023 + "é\n".encode())
    wait_for(lambda: len(col.records) == 6, what="six records")
    flags = [r.origin.get("flags") for r in col.records]
    assert [r.data for r in col.records[:5]] == ["café".encode(), "naïve".encode(), b"plain", "caf\ufffd".encode(), b"plain"]
    assert flags == [None, None, None, ["invalid_utf8"], None, ["truncated", "invalid_utf8"]]
    assert col.records[5].data == b"x" * 1023 + "\ufffd".encode()
    assert (src.stats["lines"], src.stats["truncated"], src.stats["invalid_utf8"]) == (6, 1, 2)


def test_multiline_joins_stack_traces(tail: Any, tmp_path: Path) -> None:
    write(tmp_path / "logs" / "a.log", "2025-01-15 ERROR boom\n  at a()\n  at b()\n2025-01-15 INFO next\n")
    src, col = tail(multiline={"start_pattern": r"^\d{4}-\d\d-\d\d ", "max_lines": 50, "flush_s": 0.3})
    wait_for(lambda: len(col.lines()) == 2, what="two joined records")
    assert col.lines() == ["2025-01-15 ERROR boom\n  at a()\n  at b()", "2025-01-15 INFO next"]


def test_restart_resumes_at_the_checkpoint_without_skipping_or_rereading(tail: Any, tmp_path: Path) -> None:
    log = tmp_path / "logs" / "a.log"
    write(log, "".join(f"l{i}\n" for i in range(500)))
    src, col = tail()
    wait_for(lambda: len(col.records) == 500, what="first 500")
    src.stop()
    write(log, "".join(f"l{i}\n" for i in range(500, 700)))
    src2, col2 = tail()
    wait_for(lambda: len(col2.records) == 200, what="the 200 new lines")
    time.sleep(0.1)
    assert col2.lines() == [f"l{i}" for i in range(500, 700)]


def test_full_spool_does_not_advance_the_checkpoint(tail: Any, tmp_path: Path, new_collector: Any) -> None:
    write(tmp_path / "logs" / "a.log", "one\ntwo\n")
    col = new_collector()
    col.full = True
    src, _ = tail(col)
    time.sleep(0.2)
    assert col.records == [] and all(f.offset == 0 for f in src.files.values())
    col.full = False
    wait_for(lambda: col.lines() == ["one", "two"], what="lines after the spool drained")


def test_lines_refused_by_a_full_spool_are_counted_once_when_accepted(tail: Any, tmp_path: Path, new_collector: Any) -> None:
    col = new_collector()
    col.full = True
    write(tmp_path / "logs" / "a.log", b"ok\n" + b"x" * 2000 + b"\n" + b"bad \xff\n")
    src, _ = tail(col, max_line_bytes=1000)
    wait_for(lambda: col.refused >= 3, what="the spool refusing the lines a few times")
    assert src.stats["lines"] == 0 and src.stats["truncated"] == 0 and src.stats["invalid_utf8"] == 0
    col.full = False
    wait_for(lambda: len(col.lines()) == 3, what="the lines after the spool drained")
    assert {k: src.stats[k] for k in ("lines", "bytes", "truncated", "invalid_utf8")} == {
        "lines": 3, "bytes": 2 + 1000 + len("bad \ufffd".encode()), "truncated": 1, "invalid_utf8": 1}


def test_reused_inode_with_other_content_is_read_from_the_start(tail: Any, tmp_path: Path) -> None:
    log = tmp_path / "logs" / "a.log"
    write(log, "first file line\n")
    src, col = tail()
    wait_for(lambda: len(col.records) == 1, what="first file")
    src.stop()
    st = os.stat(log)
    log.write_bytes(b"X\n")  # same inode, truncated and rewritten: the fingerprint differs
    assert os.stat(log).st_ino == st.st_ino
    src2, col2 = tail()
    wait_for(lambda: col2.lines() == ["X"], what="the rewritten file from offset 0")


def following(src: Any, path: Path) -> bool:
    """Whether the source follows the file now at ``path`` (not only its rotated predecessor)."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    return any(not f.rotated and f.key == f"{st.st_dev}:{st.st_ino}" for f in list(src.files.values()))


def _writer(path: Path, n: int, rotate: Any, every: int) -> None:
    fh = open(path, "ab", buffering=0)
    for i in range(n):
        fh.write(f"line {i:06d}\n".encode())
        if i and i % every == 0:
            fh = rotate(fh)
    fh.close()


def test_rename_rotation_while_writing_at_full_speed_loses_nothing(tail: Any, tmp_path: Path) -> None:
    log = tmp_path / "logs" / "app.log"
    count = [0]
    src: Any = None

    def rotate(fh: Any) -> Any:
        # the next rotation waits until the source saw this one (a polling tailer cannot see two
        # rotations inside one poll); the writer never pauses between the rename and its writes
        wait_for(lambda: src.stats["rotations"] == count[0] and following(src, log), what="the previous rotation to be seen")
        count[0] += 1
        os.rename(log, tmp_path / "logs" / f"app.log.{count[0]}")  # not matched by *.log
        for j in range(300):  # a writer that has not reopened yet keeps writing to the old file
            fh.write(f"late {count[0]} {j:04d}\n".encode())
        fh.close()
        return open(log, "ab", buffering=0)

    write(log, "")
    src, col = tail()
    _writer(log, 20000, rotate, 4000)
    want = sorted([f"line {i:06d}" for i in range(20000)] + [f"late {r} {j:04d}" for r in range(1, 5) for j in range(300)])
    wait_for(lambda: len(col.records) >= len(want), timeout=30, what="every line")
    assert sorted(col.lines()) == want and src.stats["rotations"] == 4
    wait_for(lambda: len(src.files) == 1, what="the rotated files to be let go")


def test_copytruncate_while_writing_loses_nothing_that_was_in_a_file(tail: Any, tmp_path: Path) -> None:
    log = tmp_path / "logs" / "app.log"
    copies: list[Path] = []
    src: Any = None

    def rotate(fh: Any) -> Any:
        # a polling tailer must have seen the file's content once before it is truncated (it cannot
        # know that a copy made within one poll interval is related), and each truncation before the next
        wait_for(lambda: src.stats["truncations"] == len(copies) and any(
            f.path == str(log) and f.offset > 0 for f in list(src.files.values())), what="the previous truncation to be seen")
        dst = tmp_path / "logs" / f"app.log.{len(copies) + 1}"
        shutil.copyfile(log, dst)  # logrotate's copytruncate: copy, then truncate in place
        os.truncate(log, 0)
        copies.append(dst)
        return fh

    write(log, "")
    src, col = tail()
    _writer(log, 20000, rotate, 5000)
    on_disk: set[str] = set()
    for p in [log, *copies]:
        on_disk |= set(p.read_text().splitlines())
    wait_for(lambda: set(col.lines()) >= on_disk, timeout=30, what="every line that reached a file")
    assert src.stats["truncations"] == 3 and len(on_disk) > 19000


def test_deleted_file_is_read_to_its_end_then_let_go(tail: Any, tmp_path: Path) -> None:
    log = tmp_path / "logs" / "a.log"
    write(log, "d1\n")
    src, col = tail()
    wait_for(lambda: col.lines() == ["d1"], what="first line")
    with open(log, "ab") as fh:
        os.unlink(log)
        fh.write(b"d2 after unlink\n")
    wait_for(lambda: col.lines() == ["d1", "d2 after unlink"], what="the line written after deletion")
    wait_for(lambda: not src.files, what="the deleted file to be released")


def test_file_rotated_while_stopped_is_finished_after_restart(tail: Any, tmp_path: Path) -> None:
    log = tmp_path / "logs" / "app.log"
    write(log, "r1\n")
    src, col = tail()
    wait_for(lambda: col.lines() == ["r1"], what="first line")
    src.stop()
    write(log, "r2 before rotation\n")
    os.rename(log, tmp_path / "logs" / "app.log.1")
    write(log, "n1 new file\n")
    src2, col2 = tail()
    wait_for(lambda: sorted(col2.lines()) == ["n1 new file", "r2 before rotation"], what="the rest of the old file and the new one")


def test_double_star_matches_directories_at_any_depth(tail: Any, tmp_path: Path) -> None:
    deep = tmp_path / "logs" / "a" / "b"
    deep.mkdir(parents=True)
    write(deep / "x.log", "deep\n")
    write(tmp_path / "logs" / "top.log", "top\n")
    src, col = tail(paths=[str(tmp_path / "logs" / "**" / "*.log")])
    wait_for(lambda: sorted(col.lines()) == ["deep", "top"], what="files at every depth")


def test_unreadable_file_is_reported_once_and_read_when_it_becomes_readable(tail: Any, tmp_path: Path, monkeypatch: Any) -> None:
    blocked = str(tmp_path / "logs" / "b.log")
    write(tmp_path / "logs" / "b.log", "later readable\n")
    real_open = os.open

    def fake_open(path: Any, flags: int, *a: Any) -> int:
        if str(path) == blocked:
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, *a)

    lines: list[str] = []
    sink = logger.add(lines.append, level="WARNING", format="{message}")
    try:
        monkeypatch.setattr(os, "open", fake_open)
        src, col = tail()
        time.sleep(0.3)  # ~15 polls of a file that cannot be opened
        assert col.lines() == []
        monkeypatch.setattr(os, "open", real_open)
        wait_for(lambda: "later readable" in col.lines(), what="the file once readable")
    finally:
        logger.remove(sink)
    assert sum("cannot open" in line for line in lines) == 1


@pytest.mark.parametrize("notify", [True, False], ids=["inotify", "polling"])
def test_a_rotated_file_still_matched_by_the_glob_keeps_its_offset(tail: Any, tmp_path: Path, notify: bool) -> None:
    logs = tmp_path / "logs"
    log = logs / "app.log"
    write(log, "a1\na2\n")
    src, col = tail(paths=[str(logs / "app.log*")], notify=notify)
    wait_for(lambda: col.lines() == ["a1", "a2"], what="the first lines")
    os.rename(log, logs / "app.log.1")
    write(logs / "app.log.1", "a3 late\n")
    write(log, "b1\n")
    os.rename(logs / "app.log.1", logs / "app.log.2")  # shifted again, as logrotate does
    wait_for(lambda: sorted(col.lines()) == ["a1", "a2", "a3 late", "b1"], what="the late line and the new file")
    time.sleep(0.3 + 0.3)  # past rotate_wait_s: a released file would be found through the glob and read again
    assert sorted(col.lines()) == ["a1", "a2", "a3 late", "b1"]
    assert sorted(f.path for f in list(src.files.values())) == [str(log), str(logs / "app.log.2")]
    assert src.stats["rotations"] == 0  # never lost from the globs: nothing to finish


def test_a_copy_under_the_glob_is_not_read_again_and_is_finished_after_the_truncate(tail: Any, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    log = logs / "app.log"
    write(log, "".join(f"c{i:03d} some padding to pass the fingerprint length\n" for i in range(10)))
    src, col = tail(paths=[str(logs / "app.log*")])
    wait_for(lambda: len(col.lines()) == 10, what="the first lines")
    shutil.copyfile(log, logs / "app.log.bak")  # a copy taken while the original lives on
    wait_for(lambda: any(f.path.endswith(".bak") and f.shadow_of for f in list(src.files.values())), what="the copy to be recognised")
    write(log, "c010 written after the copy, read from the original\n")
    wait_for(lambda: len(col.lines()) == 11, what="the new line")
    shutil.copyfile(log, logs / "app.log.1")
    write(logs / "app.log.1", "c011 only in the copy (written between copy and truncate)\n")
    os.truncate(log, 0)
    write(log, "d000 after the truncate\n")
    wait_for(lambda: len(col.lines()) == 13, what="the copy's last line and the truncated file's new one")
    time.sleep(0.3)
    assert sorted(col.lines())[-3:] == ["c010 written after the copy, read from the original",
                                        "c011 only in the copy (written between copy and truncate)", "d000 after the truncate"]
    assert len(col.lines()) == len(set(col.lines())) == 13


def test_a_file_created_and_renamed_away_between_two_polls_is_read(tail: Any, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    log = logs / "app.log"
    write(log, "")
    src, col = tail(paths=[str(log)], poll_interval_s=5.0)  # polls cannot see the short-lived files
    wait_for(lambda: src.files, what="app.log to be followed")
    for gen in range(1, 4):  # each generation lives a few milliseconds under the followed name
        os.rename(log, logs / f"app.log.{gen}")
        with open(log, "ab") as fh:
            fh.write(f"gen {gen}\n".encode())
        time.sleep(0.01)
    wait_for(lambda: sorted(col.lines()) == ["gen 1", "gen 2", "gen 3"], what="every generation")
