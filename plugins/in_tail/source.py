"""The ``file`` source: follow files, submit lines in batches, checkpoint after the spool commits.

Rotation by rename (and deletion): the old file stays open, is read to its end, and
is let go ``rotate_wait_s`` after it last grew; the new file at the path is read from
its start. Copytruncate: a size below the offset, or first bytes that no longer
match the fingerprint, mean the file was truncated; the copy (a file in the same
directory with the old fingerprint) is read from the old offset to its end, so the
lines written between the last read and the copy are not lost, then the truncated
file is read from 0. At start-up, a checkpointed file that was rotated while the
agent was down is found again by its inode in the same directory and finished.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

from agent.decoders import Decoder
from agent.model import utcnow
from agent.records import RawRecord
from agent.sources import Source, SourceContext, SubmitStatus
from plugins.in_tail.checkpoint import FINGERPRINT_BYTES, Checkpoints, fingerprint
from plugins.in_tail.config import CONFIG_SCHEMA, check_config
from plugins.in_tail.files import find_copy, find_inode, same_head
from plugins.in_tail.lines import Piece, group_multiline, split_lines

READ_CHUNK = 1 << 20


@dataclass
class _File:
    path: str
    key: str
    fd: int
    offset: int
    fp: str
    fp_len: int
    skipping: bool = False  # inside an over-long line whose head was already emitted
    rotated: bool = False  # the path no longer names this file: read it to its end, then let go
    grew_at: float = 0.0  # monotonic time the file last grew (rotate_wait, flush timers)
    seen_size: int = -1


class TailSource(Source):
    type_name = "file"
    description = "Follow files matching globs, line by line, with checkpoints that survive restarts and rotation."
    CONFIG_SCHEMA = CONFIG_SCHEMA
    check_config = staticmethod(check_config)

    def __init__(self, name: str, config: dict[str, Any], ctx: SourceContext) -> None:
        super().__init__(name, config, ctx)
        self.decoder: Decoder = ctx.build_decoder(config["decoder"])
        self.patterns = list(config["paths"])
        self.exclude = list(config["exclude"])
        self.read_from = config["read_from"]
        self.max_line = int(config["max_line_bytes"])
        self.poll = float(config["poll_interval_s"])
        self.batch_lines = int(config["batch_lines"])
        self.partial_flush = float(config["partial_flush_s"])
        self.rotate_wait = float(config["rotate_wait_s"])
        ml = config.get("multiline") or {}
        self.start_re = re.compile(ml["start_pattern"].encode()) if ml.get("start_pattern") else None
        self.ml_max = int(ml.get("max_lines", 500))
        self.ml_flush = float(ml.get("flush_s", 2.0))
        self.clock = time.monotonic
        self.files: dict[str, _File] = {}  # by identity key
        self.stats = {"lines": 0, "bytes": 0, "truncated": 0, "invalid_utf8": 0, "rotations": 0, "truncations": 0}
        self._stop = threading.Event()
        self._unreadable: set[str] = set()
        self._thread: threading.Thread | None = None
        self.checkpoints: Checkpoints | None = None

    def start(self) -> None:
        self.ctx.state_dir.mkdir(parents=True, exist_ok=True)
        self.checkpoints = Checkpoints(self.ctx.state_dir)
        self._thread = threading.Thread(target=self._run, name=f"source-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        for f in self.files.values():
            os.close(f.fd)
        self.files.clear()

    # ----------------------------------------------------------------- discovery
    def _matches(self) -> list[str]:
        found: set[str] = set()
        for pattern in self.patterns:
            for p in glob.glob(pattern, recursive=True):
                if not any(fnmatch.fnmatch(p, ex) for ex in self.exclude) and os.path.isfile(p):
                    found.add(p)
        return sorted(found)

    def _open(self, path: str, key: str, offset: int | None, rotated: bool = False) -> _File | None:
        """Open ``path`` and decide where to start: checkpoint (if the fingerprint agrees), start or end."""
        assert self.checkpoints is not None
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError as exc:
            if path not in self._unreadable:  # once per path, not at every poll
                self._unreadable.add(path)
                self.ctx.logger.warning("cannot open {}: {} (will keep trying)", path, exc.strerror)
            return None
        self._unreadable.discard(path)
        if self.checkpoints.get(key) is not None and offset is None:
            saved = self.checkpoints.get(key) or {}
            fp, fp_len = fingerprint(fd, int(saved.get("fp_len") or FINGERPRINT_BYTES))
            if saved.get("fp") == fp and fp_len == saved.get("fp_len"):
                offset = int(saved["offset"])
            else:
                offset = 0  # same inode, other content: a new file
        fp, fp_len = fingerprint(fd)
        f = _File(path, key, fd, offset or 0, fp, fp_len, rotated=rotated, grew_at=self.clock())
        self.files[key] = f
        self.ctx.logger.info("following {} from offset {}{}", path, f.offset, " (rotated)" if rotated else "")
        return f

    def _discover(self, first: bool) -> None:
        assert self.checkpoints is not None
        by_path = {f.path: f for f in self.files.values() if not f.rotated}
        for f in by_path.values():  # moved away or deleted: finish it
            try:
                st = os.stat(f.path)
                gone = Checkpoints.key(st) != f.key
            except OSError:
                gone = True
            if gone:
                f.rotated = True
                f.grew_at = self.clock()
                self.stats["rotations"] += 1
                self.ctx.logger.info("{} was rotated or deleted; reading it to its end", f.path)
        for path in self._matches():
            try:
                st = os.stat(path)
            except OSError:
                continue
            key = Checkpoints.key(st)
            if key in self.files:
                continue
            if self.checkpoints.get(key) is None and self._is_copy_of_truncated(path):
                continue  # copytruncate's copy: the truncated file's reader opens it at its offset
            start = None
            if first and self.read_from == "end" and self.checkpoints.get(key) is None:
                start = st.st_size
            self._open(path, key, start)
        if first:
            self._recover_rotated()

    def _is_copy_of_truncated(self, path: str) -> bool:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return False
        try:
            return any(not g.rotated and same_head(fd, g.fp, g.fp_len)
                       and (os.fstat(g.fd).st_size < g.offset or not same_head(g.fd, g.fp, g.fp_len)) for g in self.files.values())
        finally:
            os.close(fd)

    def _recover_rotated(self) -> None:
        """Finish files rotated while the agent was down; forget checkpoints of files gone for good."""
        assert self.checkpoints is not None
        for key, saved in list(self.checkpoints.data.items()):
            if key in self.files:
                continue
            found = find_inode(os.path.dirname(saved.get("path", "")), int(key.split(":")[1]))
            if found is None or self._open(found, key, None, rotated=True) is None:
                self.checkpoints.drop(key)
        self.checkpoints.save()

    # ----------------------------------------------------------------- reading
    def _run(self) -> None:
        first = True
        last_scan = 0.0
        while not self._stop.is_set():
            now = self.clock()
            if first or now - last_scan >= self.poll:
                try:
                    self._discover(first)
                except Exception as exc:
                    self.ctx.logger.error("file discovery failed: {}", exc)
                first = False
                last_scan = now
            busy = False
            for f in list(self.files.values()):
                if self._stop.is_set():
                    break
                try:
                    busy |= self._read(f)
                except OSError as exc:
                    self.ctx.logger.warning("reading {} failed: {}", f.path, exc.strerror or exc)
            if not busy:
                self._stop.wait(self.poll)

    def _check_truncated(self, f: _File, size: int) -> None:
        head_changed = False
        if f.fp_len and size >= f.fp_len:
            fp, _ = fingerprint(f.fd, f.fp_len)
            head_changed = fp != f.fp
        if size >= f.offset and not head_changed:
            if f.fp_len < FINGERPRINT_BYTES and size > f.fp_len:
                f.fp, f.fp_len = fingerprint(f.fd)  # the file grew past its fingerprint: widen it
            return
        self.ctx.logger.warning("{} was truncated (copytruncate?); reading it again from the start", f.path)
        self._follow_copy(f)
        f.offset, f.skipping = 0, False
        f.fp, f.fp_len = fingerprint(f.fd)
        self._save(f)
        self.stats["truncations"] += 1

    def _follow_copy(self, f: _File) -> None:
        """Find the copy of a truncated file (same fingerprint, another inode) and read it from the old offset."""
        found = find_copy(os.path.dirname(f.path), f.fp, f.fp_len, f.offset, set(self.files))
        if found is not None:
            self.ctx.logger.info("reading the copy {} of {} from offset {}", found, f.path, f.offset)
            self._open(found, Checkpoints.key(os.stat(found)), f.offset, rotated=True)

    def _read(self, f: _File) -> bool:
        """Read and submit what is new in ``f``; True if anything was consumed."""
        size = os.fstat(f.fd).st_size
        now = self.clock()
        if size != f.seen_size:
            f.seen_size, f.grew_at = size, now
        if not f.rotated:
            self._check_truncated(f, size)
        if size <= f.offset:
            if f.rotated and now - f.grew_at >= self.rotate_wait:
                self._release(f)
            return False
        quiet = now - f.grew_at
        final = f.rotated and quiet >= self.rotate_wait
        chunk = os.pread(f.fd, READ_CHUNK, f.offset)
        at_eof = f.offset + len(chunk) >= size
        take_tail = at_eof and (final or (self.partial_flush > 0 and quiet >= self.partial_flush))
        pieces, consumed, skipping = split_lines(chunk, self.max_line, f.skipping, take_tail)
        if self.start_re is not None:
            flush = at_eof and (final or quiet >= self.ml_flush)
            grouped = group_multiline(pieces, self.start_re, self.ml_max, flush)
            if pieces and (not grouped or grouped[-1].end < pieces[-1].end):
                consumed = grouped[-1].end if grouped else 0  # the last group may still grow: read it again later
                skipping = False
            pieces = grouped
        if not consumed:
            return False
        start = f.offset
        records = self._records(f, pieces)
        if not records:
            f.skipping = skipping
            self._advance(f, start + consumed)
            return True
        for i in range(0, len(records), self.batch_lines):
            if self._stop.is_set():
                return False
            part = records[i:i + self.batch_lines]
            result = self.ctx.submit([r for r, _ in part], timeout=1.0)
            if result.status is not SubmitStatus.ACCEPTED:
                return False  # spool full or stopping: the offset stays, the rest is read again (backpressure)
            self._count(part)
            last = i + len(part) >= len(records)
            if last:
                f.skipping = skipping
            self._advance(f, start + (consumed if last else part[-1][1]))
        return True

    def _records(self, f: _File, pieces: list[Piece]) -> list[tuple[RawRecord, int]]:
        received = utcnow()
        base: dict[str, Any] = {"input": self.name, "file": f.path}
        dec = self.decoder
        out = []
        for p in pieces:
            data = p.data
            if not data:
                continue
            origin = base
            flags = None
            if p.truncated:
                flags = ["truncated"]
            if not data.isascii():
                try:
                    data.decode("utf-8")
                except UnicodeDecodeError:
                    data = data.decode("utf-8", "replace").encode("utf-8")
                    flags = (flags or []) + ["invalid_utf8"]
            if flags:
                origin = {**base, "flags": flags}
            out.append((RawRecord(data, dec, origin, received), p.end))
        return out

    def _count(self, part: list[tuple[RawRecord, int]]) -> None:
        """Count lines the spool accepted (a batch refused while it is full is read, and counted, again later)."""
        stats = self.stats
        stats["lines"] += len(part)
        for r, _ in part:
            stats["bytes"] += len(r.data)
            flags = r.origin.get("flags")
            if flags:
                for flag in flags:
                    stats[flag] += 1

    def _advance(self, f: _File, new_offset: int) -> None:
        f.offset = new_offset
        self._save(f)

    def _save(self, f: _File) -> None:
        assert self.checkpoints is not None
        self.checkpoints.set(f.key, f.path, f.offset, f.fp, f.fp_len)
        self.checkpoints.save()

    def _release(self, f: _File) -> None:
        assert self.checkpoints is not None
        os.close(f.fd)
        del self.files[f.key]
        self.checkpoints.drop(f.key)
        self.checkpoints.save()
        self.ctx.logger.info("finished rotated file {} at offset {}", f.path, f.offset)
