"""Offsets of followed files, kept in the source's state directory.

Keyed by file identity: device and inode, plus a fingerprint (hash of the first
bytes, with their length) so that a new file reusing a deleted file's inode is not
mistaken for it. Written atomically (temp file + rename) after each batch the
spool accepted; losing the latest write only means that batch is read again (at
least once), never that anything is skipped.

Two files, because a crash and a power loss ask for different things:

- ``checkpoints.json`` is rewritten after every acknowledged batch, without an
  fsync. A crash or ``kill -9`` of the agent loses nothing the kernel was given, so
  after one the source reads again at most the batches that were in flight.
- ``checkpoints.synced.json`` is the same content written with an fsync before its
  rename and of the directory after it, at most once per ``sync_interval_s`` (and
  when the agent stops). After a power loss the first file may be empty or torn (its
  rename can reach the disk before its data); then this one is read, and what was
  acknowledged since it was written is read again (at least once).

An fsync per batch used to pace the reader while a backlog drained: it waits behind
the spool's own writes (a quarter of the reader's time, measured). Once per second
keeps a power loss's re-reading to about a second of input.

A file added or let go changes the set of files, which must not come back after a
power loss: a file missing from the checkpoint at start-up may be read from its end
(``read_from: end``), and one let go must not be found again. Such a save, and any
the caller asks to be durable (a copy's starting offset, a truncation), writes the
synced copy at once.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Any, Callable

import orjson

__all__ = ["Checkpoints", "fingerprint", "FINGERPRINT_BYTES"]

FINGERPRINT_BYTES = 256


def fingerprint(fd: int, length: int = FINGERPRINT_BYTES) -> tuple[str, int]:
    """Hash of the first ``length`` bytes (fewer if the file is shorter) and how many were hashed."""
    head = os.pread(fd, length, 0)
    if not head:
        return "", 0
    return hashlib.blake2b(head, digest_size=8).hexdigest(), len(head)


class Checkpoints:
    """``dev:ino`` → ``{path, offset, fp, fp_len}``, plus ``copy`` and ``copy_of`` for a copytruncate copy.

    A copy must stay a copy across a restart: its offset is the original's, which can
    lie past the copy's end (the original grew after the copy was taken, and those
    lines were read from it), and a file followed as the live one with its size below
    its offset reads as truncated and is read again from 0. ``copy_of`` names the
    original a copy still shadows (it was not truncated yet), so the two are not both
    read after the restart.
    """

    def __init__(self, state_dir: Path, *, sync_interval_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path = state_dir / "checkpoints.json"
        self.synced_path = state_dir / "checkpoints.synced.json"
        self.sync_interval_s = sync_interval_s
        self.clock = clock
        self.data: dict[str, dict[str, Any]] = {}
        self.dirty = False
        self._behind = False  # checkpoints.json holds offsets the synced copy does not
        self._synced_at = clock()
        self._durable_keys: frozenset[str] = frozenset()  # the files of the last synced copy
        loaded = self._load(self.path)
        if loaded is None:  # no checkpoint, or one a power loss left empty or torn: the synced copy
            loaded = self._load(self.synced_path)
        if loaded is not None:
            self.data = loaded
            if self.synced_path.exists():  # (an earlier version kept no synced copy: the first save writes one)
                self._durable_keys = frozenset(loaded)

    @staticmethod
    def _load(path: Path) -> dict[str, dict[str, Any]] | None:
        """The checkpoints in ``path``; None if it is missing or unreadable (an unreadable one is set aside)."""
        try:
            raw = orjson.loads(path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, orjson.JSONDecodeError):
            try:
                path.rename(path.with_suffix(".corrupt"))  # kept for a human; starting over re-reads, which loses nothing
            except OSError:
                pass
            return None
        if not isinstance(raw, dict):
            return None
        return {k: v for k, v in raw.items() if isinstance(v, dict) and isinstance(v.get("offset"), int)}

    @staticmethod
    def key(st: os.stat_result) -> str:
        return f"{st.st_dev}:{st.st_ino}"

    def get(self, key: str) -> dict[str, Any] | None:
        return self.data.get(key)

    def set(self, key: str, path: str, offset: int, fp: str, fp_len: int, *, copy: bool = False,
            copy_of: str | None = None) -> None:
        entry: dict[str, Any] = {"path": path, "offset": offset, "fp": fp, "fp_len": fp_len}
        if copy:  # only on copies: the other entries keep the format earlier versions wrote
            entry["copy"] = True
            if copy_of is not None:
                entry["copy_of"] = copy_of
        self.data[key] = entry
        self.dirty = True

    def drop(self, key: str) -> None:
        if self.data.pop(key, None) is not None:
            self.dirty = True

    def save(self, durable: bool = False) -> None:
        """Write what changed; the synced copy too when ``durable``, the set of files changed, or it is due.

        Called with nothing changed, it still writes the synced copy once it is due, so
        an idle reader's last offsets reach it too.
        """
        now = self.clock()
        elapsed = now - self._synced_at >= self.sync_interval_s
        if not self.dirty and not (self._behind and (elapsed or durable)):
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        blob = orjson.dumps(self.data)
        keys = frozenset(self.data)
        if self.dirty:
            self._write(self.path, blob, fsync=False)
            self.dirty = False
            self._behind = True
        if durable or elapsed or keys != self._durable_keys:
            self._write(self.synced_path, blob, fsync=True)
            self._synced_at = now
            self._durable_keys = keys
            self._behind = False

    @staticmethod
    def _write(path: Path, blob: bytes, fsync: bool) -> None:
        """Replace ``path`` with ``blob`` through a temporary file and a rename (fsynced: data, then directory)."""
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, blob)
            if fsync:
                os.fsync(fd)  # before the rename: after a power loss the name holds the old or the new copy
        finally:
            os.close(fd)
        os.replace(tmp, path)
        if fsync:
            dir_fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)  # the rename itself (and checkpoints.json's before it) survive a power loss
            finally:
                os.close(dir_fd)
