"""The ``file`` source: follow files, submit lines in batches, checkpoint after the spool commits.

Rotation by rename is followed: the old file (same inode, open descriptor) is read
to its end before it is let go, then the new file at the path is read from its start.
Truncation (copytruncate) is detected by the size dropping below the offset, and the
file is read again from 0. A file whose first bytes differ from the recorded
fingerprint is a new file that reuses an old inode and is read from the start.
"""

from __future__ import annotations

import fnmatch
import glob
import hashlib
import os
import threading
from dataclasses import dataclass
from typing import Any

from agent.decoders import Decoder
from agent.model import utcnow
from agent.sources import Source, SourceContext, SubmitStatus
from plugins.in_tail.checkpoint import Checkpoints
from plugins.in_tail.config import CONFIG_SCHEMA

FINGERPRINT_BYTES = 256
READ_CHUNK = 1 << 20


@dataclass
class _File:
    path: str
    key: str
    fd: int
    offset: int
    fingerprint: str
    skipping: bool = False  # inside an over-long line whose head was already emitted
    rotated: bool = False  # the path now names another file; read this one to EOF and drop it


def _fingerprint(fd: int) -> str:
    head = os.pread(fd, FINGERPRINT_BYTES, 0)
    return hashlib.sha1(head).hexdigest()[:16] if len(head) >= 16 else ""


class TailSource(Source):
    type_name = "file"
    description = "Follow files matching globs, line by line, with checkpoints that survive restarts and rotation."
    CONFIG_SCHEMA = CONFIG_SCHEMA

    def __init__(self, name: str, config: dict[str, Any], ctx: SourceContext) -> None:
        super().__init__(name, config, ctx)
        self.decoder: Decoder = ctx.build_decoder(config["decoder"])
        self.patterns = list(config["paths"])
        self.exclude = list(config["exclude"])
        self.read_from = config["read_from"]
        self.max_line = int(config["max_line_bytes"])
        self.poll = float(config["poll_interval_s"])
        self.batch_lines = int(config["batch_lines"])
        self.files: dict[str, _File] = {}  # by identity key
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.checkpoints: Checkpoints | None = None

    def start(self) -> None:
        self.ctx.state_dir.mkdir(parents=True, exist_ok=True)
        self.checkpoints = Checkpoints(self.ctx.state_dir)
        self._thread = threading.Thread(target=self._run, name=f"source-{self.name}")
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
            for p in glob.glob(pattern):
                if os.path.isfile(p) and not any(fnmatch.fnmatch(p, ex) for ex in self.exclude):
                    found.add(p)
        return sorted(found)

    def _discover(self, first: bool) -> None:
        assert self.checkpoints is not None
        by_path = {f.path: f for f in self.files.values() if not f.rotated}
        for path in self._matches():
            try:
                st = os.stat(path)
            except OSError:
                continue
            key = Checkpoints.key(st)
            current = by_path.get(path)
            if current is not None and current.key == key:
                continue
            if current is not None:
                current.rotated = True  # renamed away: finish it, then let it go
            if key in self.files:
                continue
            try:
                fd = os.open(path, os.O_RDONLY)
            except OSError as exc:
                self.ctx.logger.warning("cannot open {}: {}", path, exc.strerror)
                continue
            fp = _fingerprint(fd)
            saved = self.checkpoints.get(key)
            if saved is not None and (not saved.get("fp") or not fp or saved.get("fp") == fp):
                offset = int(saved.get("offset", 0))
            elif saved is None and first and self.read_from == "end":
                offset = os.fstat(fd).st_size
            else:
                offset = 0
            self.files[key] = _File(path, key, fd, offset, fp)
            self.ctx.logger.info("following {} from offset {}", path, offset)

    # ----------------------------------------------------------------- reading
    def _run(self) -> None:
        first = True
        while not self._stop.is_set():
            try:
                self._discover(first)
            except Exception as exc:
                self.ctx.logger.error("file discovery failed: {}", exc)
            first = False
            busy = False
            for f in list(self.files.values()):
                if self._stop.is_set():
                    break
                busy |= self._read(f)
            if not busy:
                self._stop.wait(self.poll)

    def _read(self, f: _File) -> bool:
        """Read and submit what is new in ``f``; True if anything was consumed."""
        try:
            size = os.fstat(f.fd).st_size
        except OSError:
            return False
        if size < f.offset:
            self.ctx.logger.warning("{} was truncated (size {} < offset {}); reading it again from the start", f.path, size, f.offset)
            f.offset = 0
            f.skipping = False
        if size == f.offset:
            if f.rotated:
                self._release(f)
            return False
        chunk = os.pread(f.fd, READ_CHUNK, f.offset)
        if not chunk:
            return False
        lines = chunk.split(b"\n")
        rest = lines.pop()
        tail_is_line = False
        if len(rest) >= max(self.max_line, READ_CHUNK // 2) or (f.rotated and rest and size == f.offset + len(chunk)):
            tail_is_line = True  # an endless line, or the last unterminated line of a rotated file
        received = utcnow()
        records = []
        ends = []
        consumed = 0
        items = [(line, True) for line in lines]
        if tail_is_line:
            items.append((rest, False))
        for line, terminated in items:
            consumed += len(line) + (1 if terminated else 0)
            if f.skipping:  # the rest of an over-long line already emitted truncated
                f.skipping = not terminated
                if records:
                    ends[-1] = consumed
                continue
            if line.endswith(b"\r"):
                line = line[:-1]
            if not line.strip():
                if records:
                    ends[-1] = consumed
                continue
            origin: dict[str, Any] = {"file": f.path}
            if len(line) > self.max_line:
                line = line[: self.max_line]
                origin["flags"] = ["truncated"]
                if not terminated and not f.rotated:
                    f.skipping = True
            records.append(self.make_record(line, self.decoder, origin, received))
            ends.append(consumed)
        if not records:
            if consumed:
                self._advance(f, f.offset + consumed)
            return consumed > 0
        start_offset = f.offset
        pos = 0
        while pos < len(records) and not self._stop.is_set():
            part = records[pos: pos + self.batch_lines]
            result = self.ctx.submit(part, timeout=1.0)
            if result.status is not SubmitStatus.ACCEPTED:
                return False  # spool full or stopping: keep the offset, read again later (backpressure)
            pos += len(part)
            self._advance(f, start_offset + (ends[pos - 1] if pos < len(records) else consumed))
        return True

    def _advance(self, f: _File, new_offset: int) -> None:
        assert self.checkpoints is not None
        f.offset = new_offset
        if not f.fingerprint:
            f.fingerprint = _fingerprint(f.fd)
        self.checkpoints.set(f.key, f.path, f.offset, f.fingerprint)
        self.checkpoints.save()

    def _release(self, f: _File) -> None:
        assert self.checkpoints is not None
        os.close(f.fd)
        del self.files[f.key]
        self.checkpoints.drop(f.key)
        self.checkpoints.save()
        self.ctx.logger.info("finished rotated file {} (inode {})", f.path, f.key)
