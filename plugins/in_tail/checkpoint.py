"""Offsets of followed files, kept in the source's state directory.

Keyed by file identity (device, inode) with the path it was last seen at. Written
atomically (temp file + rename) after each batch the spool accepted; losing the
latest write (crash) only means that batch is read again (at-least-once).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson


class Checkpoints:
    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "checkpoints.json"
        self.data: dict[str, dict[str, Any]] = {}
        try:
            raw = orjson.loads(self.path.read_bytes())
            if isinstance(raw, dict):
                self.data = {k: v for k, v in raw.items() if isinstance(v, dict)}
        except FileNotFoundError:
            pass
        except (OSError, orjson.JSONDecodeError):
            aside = self.path.with_suffix(".corrupt")
            try:
                self.path.rename(aside)
            except OSError:
                pass

    @staticmethod
    def key(st: os.stat_result) -> str:
        return f"{st.st_dev}:{st.st_ino}"

    def get(self, key: str) -> dict[str, Any] | None:
        return self.data.get(key)

    def set(self, key: str, path: str, offset: int, fingerprint: str) -> None:
        self.data[key] = {"path": path, "offset": offset, "fp": fingerprint}

    def drop(self, key: str) -> None:
        self.data.pop(key, None)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_bytes(orjson.dumps(self.data))
        os.replace(tmp, self.path)
