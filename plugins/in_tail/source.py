"""The ``file`` source: follow files, submit lines in batches, checkpoint after the spool commits.

A followed file is its identity (device, inode, and a fingerprint of its first
bytes), not its name: it keeps its offset and checkpoint for as long as it exists
under any name the globs match (``app.log`` renamed to ``app.log.1`` under
``paths: [app.log*]`` is the same file, read on from where it was).

Rotation by rename (and deletion): a file no longer found under any matching name is
read to its end through the descriptor already open, and let go ``rotate_wait_s``
after it last grew. Change notifications (inotify, :mod:`plugins.in_tail.watch`) open
a new file the moment its name appears, so a file created and renamed away between
two polls is read too; polling (``poll_interval_s``) stays the fallback.

Copytruncate: a size below the offset, or first bytes that no longer match, mean the
file was truncated. Its copy is a file whose first bytes are the truncated file's:
found through the globs (then it is never read from 0: until the truncation it only
tracks the original's offset) or, when the globs do not name it, in the same
directory; it is read from the old offset to its end, then the truncated file from 0.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import time
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, Iterable

from agent.sdk.decoder import Decoder
from agent.sdk import utcnow
from agent.sdk.record import RawRecord
from agent.sdk.source import Source, SourceContext
from plugins.in_tail.checkpoint import FINGERPRINT_BYTES, Checkpoints
from plugins.in_tail.config import CONFIG_SCHEMA, check_config
from plugins.in_tail.files import find_copy, find_inode
from plugins.in_tail.inflight import Batch, InFlight
from plugins.in_tail.lines import Lines, cut_lines, group_multiline, lines_of, split_lines
from plugins.in_tail.paths import PathMatcher
from plugins.in_tail.watch import Pinner

READ_CHUNK = 1 << 20
STOP_WAIT_S = 5.0  # at stop, how long batches in flight may still take to be answered (then: read again later)
_data = attrgetter("data")


@dataclass(eq=False)  # compared and hashed by identity: one object per followed file
class _File:
    path: str
    key: str
    fd: int
    offset: int
    head: bytes  # the first bytes (up to FINGERPRINT_BYTES): identity and copy detection
    skipping: bool = False  # inside an over-long line whose head was already emitted
    rotated: bool = False  # no matching name holds this file any more: read it to its end, then let go
    grew_at: float = 0.0  # monotonic time the file last grew (rotate_wait, flush timers)
    seen_size: int = -1
    fresh: bool = False  # nothing read yet: checked against the other files' heads (a copy?) before reading
    copy: bool = False  # a copy of another followed file: never checked for truncation
    shadow_of: str | None = None  # key of the original this copy tracks until the original is truncated
    truncated_from: tuple[str, int, int] | None = None  # fingerprint, its length and offset before the last truncation
    # ``offset`` is what the spool acknowledged (the checkpoint); ``pos`` is where reading
    # goes on, past the batches still in flight; ``acked_skipping`` is ``skipping`` at ``offset``
    pos: int = -1
    acked_skipping: bool = False

    def __post_init__(self) -> None:
        if self.pos < 0:
            self.pos = self.offset

    def move_to(self, offset: int, skipping: bool = False) -> None:
        """Set both the acknowledged and the reading position (nothing of this file is in flight)."""
        self.offset = self.pos = offset
        self.skipping = self.acked_skipping = skipping

    def rewind(self) -> None:
        """Read again from the acknowledged offset (its batches after it were refused)."""
        self.pos, self.skipping = self.offset, self.acked_skipping

    @property
    def fp(self) -> tuple[str, int]:
        return _fp(self.head)


def _fp(head: bytes) -> tuple[str, int]:
    return (hashlib.blake2b(head, digest_size=8).hexdigest(), len(head)) if head else ("", 0)


def _flag_counts(flagged: list[RawRecord]) -> dict[str, int]:
    """How many records of a batch carry each flag (counted once the batch is accepted)."""
    counts: dict[str, int] = {}
    for r in flagged:
        for flag in r.origin["flags"]:
            counts[flag] = counts.get(flag, 0) + 1
    return counts


def _same_start(a: bytes, b: bytes) -> bool:
    n = min(len(a), len(b))
    return n > 0 and a[:n] == b[:n]


class TailSource(Source):
    type_name = "file"
    description = "Follow files matching globs, line by line, with checkpoints that survive restarts and rotation."
    CONFIG_SCHEMA = CONFIG_SCHEMA
    check_config = staticmethod(check_config)

    def __init__(self, name: str, config: dict[str, Any], ctx: SourceContext) -> None:
        super().__init__(name, config, ctx)
        self.decoder: Decoder = ctx.build_decoder(config["decoder"])
        self.paths = PathMatcher(list(config["paths"]), list(config["exclude"]))
        self.read_from = config["read_from"]
        self.max_line = int(config["max_line_bytes"])
        self.poll = float(config["poll_interval_s"])
        self.batch_lines = int(config["batch_lines"])
        self.max_inflight = int(config.get("max_inflight_batches", 4))
        self.partial_flush = float(config["partial_flush_s"])
        self.rotate_wait = float(config["rotate_wait_s"])
        self.checkpoint_sync = float(config.get("checkpoint_sync_s", 1.0))
        ml = config.get("multiline") or {}
        self.start_re = re.compile(ml["start_pattern"].encode()) if ml.get("start_pattern") else None
        self.ml_max = int(ml.get("max_lines", 500))
        self.ml_flush = float(ml.get("flush_s", 2.0))
        self.clock = time.monotonic
        self.files: dict[str, _File] = {}  # by identity key
        self.inflight = InFlight()
        self.stats = {"lines": 0, "bytes": 0, "truncated": 0, "invalid_utf8": 0, "rotations": 0, "truncations": 0}
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._unreadable: set[str] = set()
        self._thread: threading.Thread | None = None
        self.checkpoints: Checkpoints | None = None
        self.pinner = Pinner(self.paths.wanted, self._wake, self._stop) if config.get("notify", True) else None

    def start(self) -> None:
        self.ctx.state_dir.mkdir(parents=True, exist_ok=True)
        self.checkpoints = Checkpoints(self.ctx.state_dir, sync_interval_s=self.checkpoint_sync, clock=self.clock)
        if self.pinner is not None:
            self.pinner.watch(self.paths.static_dirs())
            if not self.pinner.available:
                self.ctx.logger.info("change notifications unavailable ({}); polling every {} s", self.pinner.watcher.error, self.poll)
            self.pinner.start(self.name)
        self._thread = threading.Thread(target=self._run, name=f"source-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self.checkpoints is not None:
            self._sync_checkpoints(durable=True)  # the offsets of the last batches survive a power loss too
        if self.pinner is not None:
            self.pinner.close()
        for f in self.files.values():
            os.close(f.fd)
        self.files.clear()

    # ----------------------------------------------------------------- discovery
    def _open(self, path: str) -> int | None:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError as exc:
            if path not in self._unreadable:  # once per path, not at every poll
                self._unreadable.add(path)
                self.ctx.logger.warning("cannot open {}: {} (will keep trying)", path, exc.strerror)
            return None
        self._unreadable.discard(path)
        return fd

    def _follow(self, path: str, fd: int, start_at_end: bool = False, rotated: bool = False,
                offset: int | None = None) -> _File | None:
        """Follow the file open as ``fd``, from its checkpoint (if the fingerprint agrees), its end or its start."""
        assert self.checkpoints is not None
        st = os.fstat(fd)
        key = Checkpoints.key(st)
        if key in self.files:
            os.close(fd)
            return None
        head = os.pread(fd, FINGERPRINT_BYTES, 0)
        saved = self.checkpoints.get(key)
        fresh = False
        truncated_from = None
        copy_of: str | None = None
        is_copy = False
        if offset is None and saved is not None:
            n = int(saved.get("fp_len") or 0)
            if _fp(head[:n]) == (saved.get("fp"), n):
                offset = int(saved["offset"])
                is_copy = saved.get("copy") is True  # its offset may lie past its end: never "truncated"
                copy_of = saved.get("copy_of") if is_copy and isinstance(saved.get("copy_of"), str) else None
            else:  # same inode, other content: truncated (copytruncate?) while the agent was down
                offset = 0
                truncated_from = (str(saved.get("fp")), n, int(saved["offset"]))
        if offset is None:
            offset = st.st_size if start_at_end else 0
            fresh = not start_at_end
        f = _File(path, key, fd, offset, head, rotated=rotated, grew_at=self.clock(), fresh=fresh, copy=is_copy,
                  shadow_of=copy_of, truncated_from=truncated_from)
        self.files[key] = f
        self.ctx.logger.info("following {} from offset {}{}", path, f.offset, " (rotated)" if rotated else "")
        if truncated_from is not None and n:
            self._follow_copy(f, truncated_from)
        return f

    def _discover(self, first: bool) -> None:
        """Match the globs: followed files get their current name, vanished ones are finished, new ones followed."""
        found: dict[str, str] = {}
        for path in self.paths.matches():
            try:
                found.setdefault(Checkpoints.key(os.stat(path)), path)
            except OSError:
                continue
        for f in list(self.files.values()):
            now_at = found.get(f.key)
            if now_at is None and not f.rotated:
                # listing the globs and stat-ing what they list is not atomic: a file renamed
                # again between the two (logrotate shifting .1 to .2) is in neither; look for
                # its inode before calling it rotated away
                moved = find_inode(os.path.dirname(f.path), int(f.key.split(":")[1]))
                if moved is not None and self.paths.wanted(moved):
                    now_at = moved
            if now_at is not None:
                if now_at != f.path:
                    self.ctx.logger.info("{} is now {}; reading on from offset {}", f.path, now_at, f.offset)
                    f.path = now_at
                f.rotated = False
            elif not f.rotated:  # moved to a name the globs do not match, or deleted: finish it
                f.rotated = True
                f.grew_at = self.clock()
                self.stats["rotations"] += 1
                self.ctx.logger.info("{} was rotated or deleted; reading it to its end", f.path)
        for key, path in found.items():
            if key not in self.files:
                fd = self._open(path)
                if fd is not None:
                    self._follow(path, fd, start_at_end=first and self.read_from == "end" and self._unknown(key))
        if self.pinner is not None:
            self.pinner.watch({os.path.dirname(f.path) for f in self.files.values()})
        if first:
            self._recover_rotated()
            self._resume_copies()

    def _unknown(self, key: str) -> bool:
        assert self.checkpoints is not None
        return self.checkpoints.get(key) is None

    def _adopt_pinned(self) -> None:
        """Follow files a notification opened: under a matching name, or already moved away (read to the end)."""
        if self.pinner is None:
            return
        for item in self.pinner.drain():
            try:
                ino = os.fstat(item.fd).st_ino
            except OSError:
                os.close(item.fd)
                continue
            path = find_inode(os.path.dirname(item.path), ino) or item.path
            self._follow(path, item.fd, rotated=not (os.path.exists(path) and self.paths.wanted(path)))

    def _recover_rotated(self) -> None:
        """Finish files rotated while the agent was down; forget checkpoints of files gone for good."""
        assert self.checkpoints is not None
        for key, saved in list(self.checkpoints.data.items()):
            if key in self.files:
                continue
            found = find_inode(os.path.dirname(saved.get("path", "")), int(key.split(":")[1]))
            fd = self._open(found) if found is not None else None
            if fd is None or self._follow(found or "", fd, rotated=True) is None:
                self.checkpoints.drop(key)
        self.checkpoints.save()

    # ----------------------------------------------------------------- copies
    def _resume_copies(self) -> None:
        """At start-up: a copy that shadowed an original truncated while the agent was down reads on.

        The copy's checkpoint offset is the original's acknowledged one, so it reads what
        the original held past it (lines that reached the copy, not the agent). An
        original still untruncated keeps its copy in its shadow, as before the restart;
        one gone altogether lets it go in :meth:`_read`, as at any other time.
        """
        for f in self.files.values():
            original = self.files.get(f.shadow_of) if f.shadow_of is not None else None
            if original is not None and original.truncated_from is not None:
                f.shadow_of = None
                self.ctx.logger.info("reading the copy {} of a file truncated while stopped from offset {}", f.path, f.offset)

    def _is_copy(self, f: _File, size: int) -> bool | None:
        """Whether fresh ``f`` is a copy of a followed file (and where it starts); None: too early to tell."""
        head = os.pread(f.fd, FINGERPRINT_BYTES, 0)
        if not head:
            return None
        undecided = False
        for g in self.files.values():
            if g is f or g.fresh:
                continue
            if g.truncated_from is not None and g.truncated_from[1] and _fp(head[:g.truncated_from[1]]) == g.truncated_from[:2]:
                f.move_to(g.truncated_from[2])
                f.copy = True
                self.ctx.logger.info("reading the copy {} of truncated {} from offset {}", f.path, g.path, f.offset)
                return True
            if not g.copy and _same_start(head, g.head):
                if len(head) < len(g.head) and self.clock() - f.grew_at < max(4 * self.poll, 0.5):
                    undecided = True  # a copy being written, or a new file whose first line looks alike
                    continue
                if len(head) >= len(g.head):
                    f.move_to(g.offset)
                    f.copy, f.shadow_of = True, g.key
                    self.ctx.logger.info("{} is a copy of {}; it follows that file's offset until it is truncated", f.path, g.path)
                    return True
        return None if undecided else False

    def _check_truncated(self, f: _File, size: int) -> None:
        head_changed = False
        n = len(f.head)
        if n and size >= n:
            head_changed = os.pread(f.fd, n, 0) != f.head
        if size >= f.pos and not head_changed:
            if n < FINGERPRINT_BYTES and size > n:
                f.head = os.pread(f.fd, FINGERPRINT_BYTES, 0)  # the file grew past its fingerprint: widen it
            return
        # the batches in flight were read from the content before the truncation: settle
        # them first, so the offset the copy is read from is the acknowledged one
        self._collect(0)
        self.ctx.logger.warning("{} was truncated (copytruncate?); reading it again from the start", f.path)
        shadows = [s for s in self.files.values() if s.shadow_of == f.key]
        for s in shadows:  # its copy, already followed: read on from where the original was
            s.shadow_of = None
            self.ctx.logger.info("reading the copy {} of {} from offset {}", s.path, f.path, s.offset)
        f.truncated_from = (*f.fp, f.offset) if f.head else None  # for a copy not yet recognised, or one that shows up later
        if not shadows and f.truncated_from is not None:
            self._follow_copy(f, f.truncated_from)
        f.move_to(0)
        f.head = os.pread(f.fd, FINGERPRINT_BYTES, 0)
        self._save(f)
        self.stats["truncations"] += 1

    def _follow_copy(self, f: _File, before: tuple[str, int, int]) -> bool:
        """Find the copy of a truncated file in its directory (same first bytes, another inode), read it from the old offset."""
        fp, fp_len, offset = before
        found = find_copy(os.path.dirname(f.path), fp, fp_len, offset, set(self.files))
        if found is None:
            return False
        fd = self._open(found)
        if fd is None:
            return False
        copy = self._follow(found, fd, rotated=not self.paths.wanted(found), offset=offset)
        if copy is not None:
            copy.copy = True
            self._save(copy)
            self.ctx.logger.info("reading the copy {} of {} from offset {}", found, f.path, offset)
        return copy is not None

    # ----------------------------------------------------------------- reading
    def _run(self) -> None:
        first = True
        last_scan = 0.0
        while not self._stop.is_set():
            now = self.clock()
            woken = self._wake.is_set()
            self._wake.clear()
            try:
                self._adopt_pinned()
                if first or woken or now - last_scan >= self.poll:
                    self._discover(first)
                    first = False
                    last_scan = now
            except Exception as exc:
                self.ctx.logger.error("file discovery failed: {}", exc)
                first = False
            busy = False
            for f in list(self.files.values()):
                if self._stop.is_set():
                    break
                try:
                    busy |= self._read(f)
                except OSError as exc:
                    self.ctx.logger.warning("reading {} failed: {}", f.path, exc.strerror or exc)
            if not busy:
                if len(self.inflight):  # nothing more to read: the checkpoints catch up meanwhile
                    self._collect(0, self.poll)
                else:
                    self._sync_checkpoints()
                    self._wake.wait(self.poll)
        self._collect(0)  # stopping: the answers of the batches in flight (bounded by STOP_WAIT_S)

    def _read(self, f: _File) -> bool:
        """Read and submit what is new in ``f``; True if anything was consumed."""
        size = os.fstat(f.fd).st_size
        now = self.clock()
        if size != f.seen_size:
            f.seen_size, f.grew_at = size, now
        if f.fresh:
            decided = self._is_copy(f, size)
            if decided is None:
                return False
            f.fresh = False
            if decided:
                self._save(f)  # a copy's start offset must survive a restart, or the copy is read from 0 again
        if f.shadow_of is not None:
            original = self.files.get(f.shadow_of)
            if original is not None:
                f.move_to(max(f.offset, original.offset))  # its bytes up to there were read from the original
                return False
            f.shadow_of = None  # the original is gone: read the rest of the copy
        if not f.rotated and not f.copy:
            self._check_truncated(f, size)
        if size <= f.pos:
            # a rotated file is let go only once every batch read from it is answered
            # (its checkpoint must stay until then: a crash meanwhile reads the rest again)
            if f.rotated and now - f.grew_at >= self.rotate_wait and not self.inflight.holds(f.key):
                self._release(f)
            return False
        quiet = now - f.grew_at
        final = f.rotated and quiet >= self.rotate_wait
        chunk = os.pread(f.fd, READ_CHUNK, f.pos)
        at_eof = f.pos + len(chunk) >= size
        take_tail = at_eof and (final or (self.partial_flush > 0 and quiet >= self.partial_flush))
        if self.start_re is None:
            lines = cut_lines(chunk, self.max_line, f.skipping, take_tail)
        else:
            pieces, consumed, skipping = split_lines(chunk, self.max_line, f.skipping, take_tail)
            flush = at_eof and (final or quiet >= self.ml_flush)
            grouped = group_multiline(pieces, self.start_re, self.ml_max, flush)
            if pieces and (not grouped or grouped[-1].end < pieces[-1].end):
                consumed = grouped[-1].end if grouped else 0  # the last group may still grow: read it again later
                skipping = False
            lines = lines_of(grouped, consumed, skipping)
        if not lines.consumed:
            return False
        start = f.pos
        if not lines.datas:  # nothing to submit, but its place in the order of acknowledgements is kept
            return self._submit(f, Batch(f.key, start + lines.consumed, lines.skipping), [])
        records, flagged = self._records(f, lines, chunk)
        for i in range(0, len(records), self.batch_lines):
            if self._stop.is_set():
                return False
            part = records[i:i + self.batch_lines]
            last = i + len(part) >= len(records)
            end = start + (lines.consumed if last else lines.end(i + len(part)))
            # a batch ends after a whole record, so only the last one may end inside an over-long line
            batch = Batch(f.key, end, lines.skipping if last else False, len(part), sum(map(len, map(_data, part))),
                          _flag_counts([r for j, r in flagged if i <= j < i + len(part)]))
            if not self._submit(f, batch, part):
                return False  # spool full or stopping: the offset stays, the rest is read again (backpressure)
        return True

    def _submit(self, f: _File, batch: Batch, records: list[RawRecord]) -> bool:
        """Submit one batch and read on from its end; False on a refusal (then ``f`` was rewound).

        Up to ``max_inflight_batches`` batches wait for their commit at once: at the
        limit, this waits for the oldest answer before returning, so the reader prepares
        the next batch while the spool commits the one before.
        """
        if records:
            batch.pending = self.ctx.submit_async(records, timeout=1.0)
        self.inflight.push(batch)
        f.pos, f.skipping = batch.end, batch.skipping
        refused = batch.pending is not None and batch.pending.done() and not batch.accepted()
        self._collect(0 if refused else self.max_inflight - 1)
        return f.pos == batch.end and not refused

    def _collect(self, keep: int, wait_s: float | None = None) -> None:
        """Acknowledge answered batches in submission order, waiting while more than ``keep`` are in flight.

        ``wait_s`` bounds that wait (None: until answered, or ``STOP_WAIT_S`` once stopping).
        Every file whose offset moved is written in one checkpoint save. A refusal
        waits for everything still in flight (so nothing of that file is acknowledged
        past it), then rewinds the refused files to their acknowledged offset.
        """
        inflight = self.inflight
        moved = self._acknowledge(inflight.take(keep, self._stop, STOP_WAIT_S, wait_s))
        if inflight.refused:
            moved |= self._acknowledge(inflight.take(0, self._stop, STOP_WAIT_S))
            for key in inflight.forgive():
                f = self.files.get(key)
                if f is not None:
                    f.rewind()
        if moved:
            assert self.checkpoints is not None
            for f in moved:
                if f.key in self.files:
                    self._mark(f)
            self.checkpoints.save()

    def _acknowledge(self, batches: list[Batch]) -> set[_File]:
        """Move the offset of each accepted batch's file to the batch's end, count its lines; the files moved."""
        moved: set[_File] = set()
        stats = self.stats
        for b in batches:
            f = self.files.get(b.key)
            if f is None:  # cannot happen: a file is released only when nothing of it is in flight
                continue
            f.offset, f.acked_skipping = b.end, b.skipping
            stats["lines"] += b.lines
            stats["bytes"] += b.size
            for flag, n in b.flags.items():
                stats[flag] += n
            moved.add(f)
        return moved

    def _records(self, f: _File, lines: Lines, chunk: bytes) -> tuple[list[RawRecord], list[tuple[int, RawRecord]]]:
        """One raw record per line, and the flagged ones (truncated, invalid UTF-8) by index.

        Whether a line is valid UTF-8 is settled for the whole chunk at once when it
        can be: an LF byte never occurs inside a UTF-8 sequence, so if the chunk decodes,
        every line does (except a line cut at ``max_line_bytes``, which is checked alone).
        """
        received = utcnow()
        base: dict[str, Any] = {"input": self.name, "file": f.path}
        dec = self.decoder
        records = [RawRecord(data, dec, base, received) for data in lines.datas]
        cut = set(lines.truncated)
        suspect: Iterable[int] = cut
        if not chunk.isascii():
            try:
                chunk[:lines.consumed].decode("utf-8")
            except UnicodeDecodeError:
                suspect = range(len(records))
        flagged: list[tuple[int, RawRecord]] = []
        for index in sorted(suspect):
            rec = records[index]
            flags = ["truncated"] if index in cut else []
            data = rec.data
            if not data.isascii():
                try:
                    data.decode("utf-8")
                except UnicodeDecodeError:
                    rec.data = data.decode("utf-8", "replace").encode("utf-8")
                    flags.append("invalid_utf8")
            if flags:
                rec.origin = {**base, "flags": flags}
                flagged.append((index, rec))
        return records, flagged

    def _save(self, f: _File) -> None:
        """Save ``f``'s checkpoint durably at once: a copy's start or a truncation must survive a power loss."""
        assert self.checkpoints is not None
        self._mark(f)
        self.checkpoints.save(durable=True)

    def _sync_checkpoints(self, durable: bool = False) -> None:
        """While idle (the synced copy catches up once it is due) and at stop (``durable``: now)."""
        assert self.checkpoints is not None
        try:
            self.checkpoints.save(durable)
        except OSError as exc:
            self.ctx.logger.warning("writing the checkpoint failed: {} (what it would have covered is read again)",
                                    exc.strerror or exc)

    def _mark(self, f: _File) -> None:
        """Put ``f``'s acknowledged offset (and its copies' that shadow it) in the checkpoints, unsaved."""
        assert self.checkpoints is not None
        for s in self.files.values():
            if s.shadow_of == f.key:  # a copy's bytes up to the original's offset are delivered too
                s.move_to(max(s.offset, f.offset))
                self.checkpoints.set(s.key, s.path, s.offset, *s.fp, copy=True, copy_of=f.key)
        self.checkpoints.set(f.key, f.path, f.offset, *f.fp, copy=f.copy, copy_of=f.shadow_of)

    def _release(self, f: _File) -> None:
        assert self.checkpoints is not None
        for s in self.files.values():
            if s.shadow_of == f.key:
                s.move_to(max(s.offset, f.offset))
                s.shadow_of = None
        os.close(f.fd)
        del self.files[f.key]
        self.checkpoints.drop(f.key)
        self.checkpoints.save()
        self.ctx.logger.info("finished rotated file {} at offset {}", f.path, f.offset)
