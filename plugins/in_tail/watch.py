"""Pin files the moment their name appears, so a file created and rotated between two polls is still read.

A thread waits on change notifications for the directories the globs name. When a
followed name is created or moved in, or a followed name is moved away, it opens the
file right away: the open descriptor keeps the file (its inode) readable whatever
happens to its name afterwards, and the reader thread adopts it at its next turn.
Every notification also wakes the reader, so rotation is handled at once rather
than at the next poll. Without inotify the reader polls as before.
"""

from __future__ import annotations

import os
import queue
import threading
from dataclasses import dataclass
from typing import Callable

from agent.sdk import DirectoryWatcher, FsChange

__all__ = ["Pinned", "Pinner"]

MAX_PINNED = 1024  # open descriptors waiting for the reader; beyond that, polling finds the files


@dataclass(frozen=True, slots=True)
class Pinned:
    """A file opened from a notification: the name it had then, and its open descriptor."""

    path: str
    fd: int


class Pinner:
    """Owns the watcher thread; the reader takes :meth:`drain` and waits on :attr:`wake`."""

    def __init__(self, wanted: Callable[[str], bool], wake: threading.Event, stop: threading.Event) -> None:
        self.wanted = wanted
        self.wake = wake
        self.stop = stop
        self.watcher = DirectoryWatcher()
        self.pinned: queue.Queue[Pinned] = queue.Queue(MAX_PINNED)
        self._moved_from: dict[int, str] = {}  # cookie → followed name moved away
        self._thread: threading.Thread | None = None

    @property
    def available(self) -> bool:
        return self.watcher.available

    def watch(self, directories: set[str]) -> None:
        for d in directories:
            if os.path.isdir(d):
                self.watcher.watch(d)

    def start(self, name: str) -> None:
        if self.watcher.available:
            self._thread = threading.Thread(target=self._run, name=f"source-{name}-watch", daemon=True)
            self._thread.start()

    def close(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.watcher.close()
        for item in self.drain():
            os.close(item.fd)

    def drain(self) -> list[Pinned]:
        out = []
        while True:
            try:
                out.append(self.pinned.get_nowait())
            except queue.Empty:
                return out

    def _run(self) -> None:
        while not self.stop.is_set():
            events = self.watcher.read(0.2)
            if not events:
                continue
            for ev in events:
                if ev.change is FsChange.MOVED_FROM and self.wanted(ev.path):
                    self._moved_from[ev.cookie] = ev.path
                elif ev.change in (FsChange.CREATED, FsChange.MOVED_TO):
                    came_from = self._moved_from.pop(ev.cookie, None) if ev.change is FsChange.MOVED_TO else None
                    if came_from is not None or self.wanted(ev.path):
                        self._pin(ev.path)
            if len(self._moved_from) > 256:  # a MOVED_FROM out of the watched directories has no MOVED_TO
                self._moved_from.clear()
            self.wake.set()

    def _pin(self, path: str) -> None:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return  # gone already, or not readable: discovery reports it
        try:
            self.pinned.put_nowait(Pinned(path, fd))
        except queue.Full:
            os.close(fd)
