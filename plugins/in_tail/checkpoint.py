"""Offsets of followed files, kept in the source's state directory.

Keyed by file identity: device and inode, plus a fingerprint (hash of the first
bytes, with their length) so that a new file reusing a deleted file's inode is not
mistaken for it. Written atomically (temp file + rename) after each batch the
spool accepted; losing the latest write (crash) only means that batch is read
again (at-least-once), never that anything is skipped.

Each save fsyncs the new file before the rename (so the name never points at an
empty or half-written file), but fsyncs the directory (which makes the rename
itself survive a power loss) only when the set of files changed: when only offsets
moved, losing the rename brings back the previous checkpoint, whose offsets are
lower, so the lines between are read again (at least once, allowed). A file added
or let go must not come back that way: a file missing from the checkpoint at
start-up may be read from its end (``read_from: end``), and one let go must not be
found again; those saves fsync the directory too.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

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

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "checkpoints.json"
        self.data: dict[str, dict[str, Any]] = {}
        self.dirty = False
        self._durable_keys: frozenset[str] = frozenset()  # the files of the last save whose rename was fsynced
        try:
            raw = orjson.loads(self.path.read_bytes())
            if isinstance(raw, dict):
                self.data = {k: v for k, v in raw.items() if isinstance(v, dict) and isinstance(v.get("offset"), int)}
                self._durable_keys = frozenset(self.data)
        except FileNotFoundError:
            pass
        except (OSError, orjson.JSONDecodeError):
            aside = self.path.with_suffix(".corrupt")
            try:
                self.path.rename(aside)  # kept for a human; starting over re-reads, which loses nothing
            except OSError:
                pass

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

    def save(self) -> None:
        if not self.dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        # fsync before the rename: after a power loss the file is the old or the new
        # checkpoint, never an empty one (which would read as "no checkpoint" and make
        # read_from: end skip what was written meanwhile)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, orjson.dumps(self.data))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        keys = frozenset(self.data)
        if keys != self._durable_keys:  # a file added or let go: the rename must survive a power loss
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
            self._durable_keys = keys
        self.dirty = False
