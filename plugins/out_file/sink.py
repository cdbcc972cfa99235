"""The ``file`` sink: append JSON lines, rotate by size, fsync before acknowledging."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any, Sequence

from agent.sdk import Delivery, Sink, SinkContext, SpooledEvent, encode_lines
from plugins.out_file.config import CONFIG_SCHEMA
from agent.sdk.endpoint import ConformanceEndpoint


class FileSink(Sink):
    type_name = "file"
    description = "Append events as JSON lines to a file, with size-based rotation."
    CONFIG_SCHEMA = CONFIG_SCHEMA
    DEFAULTS = {"batch": {"max_events": 2000, "max_wait_s": 0.05}, "retry": {"initial_backoff_s": 0.5, "max_backoff_s": 30.0}}
    SECRET_KEYS = frozenset()

    @classmethod
    def conformance_config(cls, endpoint: ConformanceEndpoint) -> dict[str, Any]:
        """For the sink conformance suite: write into the suite's temporary file."""
        return {"path": endpoint.path, "fsync": False}

    def __init__(self, name: str, config: dict[str, Any], ctx: SinkContext) -> None:
        super().__init__(name, config, ctx)
        self.path = Path(config["path"])
        self.rotate_bytes = int(config["rotate_bytes"])
        self.keep = int(config["keep"])
        self.fsync = bool(config["fsync"])
        self.schema = str(config["schema"])
        self._fd: int | None = None
        self._size = 0

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        st = os.fstat(self._fd)
        self._size = st.st_size
        if stat.S_ISREG(st.st_mode) and self._size:  # not a pipe or a device (/dev/stdout)
            self._drop_torn_line()

    def _drop_torn_line(self) -> None:
        """Move a last line without its newline to ``<path>.torn``: a write a crash (kill -9) interrupted.

        The sink writes whole lines only, and the batch that write belonged to was not
        acknowledged, so it is sent again; appended after the fragment, its first
        event would be glued to it into one forged, unparseable line. The fragment is
        kept aside, not deleted (the file may not have been only ours).
        """
        assert self._fd is not None
        try:
            reader = os.open(self.path, os.O_RDONLY)
        except OSError:
            return  # written but not readable by us: nothing to check, as before
        try:
            if os.pread(reader, 1, self._size - 1) == b"\n":
                return
            keep = self._size
            while keep > 0:
                start = max(0, keep - (1 << 16))
                block = os.pread(reader, keep - start, start)
                newline = block.rfind(b"\n")
                if newline >= 0:
                    keep = start + newline + 1
                    break
                keep = start
            fragment = os.pread(reader, self._size - keep, keep)
        finally:
            os.close(reader)
        torn = self.path.with_name(self.path.name + ".torn")
        with open(torn, "ab") as aside:
            aside.write(fragment + b"\n")
            aside.flush()
            os.fsync(aside.fileno())
        os.ftruncate(self._fd, keep)
        self.ctx.logger.warning("{}: a line a crash left half written ({} bytes) moved to {}; its events are sent again",
                                self.path, self._size - keep, torn)
        self._size = keep

    def _rotate(self) -> None:
        self.close()
        oldest = self.path.with_name(f"{self.path.name}.{self.keep}")
        if oldest.exists():
            oldest.unlink()
        for i in range(self.keep - 1, 0, -1):
            src = self.path.with_name(f"{self.path.name}.{i}")
            if src.exists():
                os.replace(src, self.path.with_name(f"{self.path.name}.{i + 1}"))
        if self.path.exists():
            os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
        self._open()

    def encode_batch(self, batch: Sequence[SpooledEvent]) -> bytes:
        """The pure encoder: the JSON lines (in the configured schema) this sink writes for ``batch``."""
        return encode_lines(batch, self.schema)

    def send(self, batch: Sequence[SpooledEvent]) -> Delivery:
        if not batch:
            return Delivery.success("nothing to write")
        data = self.encode_batch(batch)
        try:
            if self._fd is None:
                self._open()
            if self.rotate_bytes and self._size and self._size + len(data) > self.rotate_bytes:
                self._rotate()
            assert self._fd is not None
            view = memoryview(data)
            while view:
                n = os.write(self._fd, view)
                view = view[n:]
            self._size += len(data)
            if self.fsync:
                os.fsync(self._fd)
        except OSError as exc:
            self.close()
            return Delivery.retry(f"cannot write {self.path}: {exc.strerror or exc}")
        return Delivery.success(f"{len(batch)} events written")

    def close(self) -> None:
        if self._fd is not None:
            try:
                os.close(self._fd)
            finally:
                self._fd = None
