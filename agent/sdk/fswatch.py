"""Directory change notifications (Linux inotify), for sources that must not wait for a poll.

A file tail that only polls cannot see a file that was created and renamed away
between two polls. inotify tells at once that a name appeared, so the file can be
opened (and its inode pinned) before it moves on. Where inotify is unavailable (not
Linux, the library missing, the per-user instance or watch limit reached) the watcher
says so and the caller keeps polling: notifications only make it faster, never the
only way a file is found.
"""

from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass
from enum import Enum

__all__ = ["DirectoryWatcher", "FsChange", "FsEvent"]


class FsChange(Enum):
    CREATED = "created"
    MOVED_FROM = "moved_from"
    MOVED_TO = "moved_to"
    DELETED = "deleted"
    MODIFIED = "modified"
    OVERFLOW = "overflow"  # the kernel dropped events: rescan everything


@dataclass(frozen=True, slots=True)
class FsEvent:
    """One change of a name in a watched directory; ``cookie`` pairs a MOVED_FROM with its MOVED_TO."""

    change: FsChange
    path: str
    cookie: int = 0


class DirectoryWatcher:
    """inotify on a set of directories; :attr:`available` is False where it cannot run."""

    def __init__(self) -> None:
        self._dirs: dict[int, str] = {}
        self.error = ""
        try:
            import inotify_simple
            from inotify_simple import INotify, flags
        except ImportError as exc:  # not Linux, or the library is missing
            self._inotify = None
            self.error = str(exc)
            return
        if getattr(inotify_simple, "_libc", "absent") is None:
            # The library finds the C library with ctypes.util.find_library, which runs
            # `ldconfig -p`: a fork of the agent at every file source's start. The
            # interpreter's own symbols hold the same functions (agent.processes.allocator
            # loads them the same way); a version without this global keeps its own lookup.
            inotify_simple._libc = ctypes.CDLL(None, use_errno=True)
        self._flags = flags
        self._mask = (flags.CREATE | flags.MOVED_FROM | flags.MOVED_TO | flags.DELETE | flags.MODIFY
                      | flags.CLOSE_WRITE)
        try:
            self._inotify = INotify()
        except OSError as exc:  # EMFILE: the per-user limit of inotify instances
            self._inotify = None
            self.error = exc.strerror or str(exc)

    @property
    def available(self) -> bool:
        return self._inotify is not None

    def watch(self, directory: str) -> bool:
        """Watch ``directory`` (idempotent); False if it cannot be watched (missing, limit reached)."""
        if self._inotify is None:
            return False
        directory = os.path.abspath(directory)
        if directory in self._dirs.values():
            return True
        try:
            wd = self._inotify.add_watch(directory, self._mask)
        except OSError as exc:
            self.error = exc.strerror or str(exc)
            return False
        self._dirs[wd] = directory
        return True

    def read(self, timeout_s: float) -> list[FsEvent]:
        """The changes that happened, waiting at most ``timeout_s`` for the first one."""
        if self._inotify is None:
            return []
        f = self._flags
        out: list[FsEvent] = []
        for ev in self._inotify.read(timeout=max(0, int(timeout_s * 1000))):
            if ev.mask & f.Q_OVERFLOW:
                out.append(FsEvent(FsChange.OVERFLOW, ""))
                continue
            directory = self._dirs.get(ev.wd)
            if directory is None or ev.mask & f.ISDIR:
                continue
            if ev.mask & f.IGNORED:  # the directory itself went away
                del self._dirs[ev.wd]
                continue
            path = os.path.join(directory, ev.name)
            if ev.mask & f.CREATE:
                change = FsChange.CREATED
            elif ev.mask & f.MOVED_FROM:
                change = FsChange.MOVED_FROM
            elif ev.mask & f.MOVED_TO:
                change = FsChange.MOVED_TO
            elif ev.mask & f.DELETE:
                change = FsChange.DELETED
            else:
                change = FsChange.MODIFIED
            out.append(FsEvent(change, path, ev.cookie))
        return out

    def close(self) -> None:
        if self._inotify is not None:
            self._inotify.close()
            self._inotify = None
