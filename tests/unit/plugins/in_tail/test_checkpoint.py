"""Checkpoints survive a crash and a power loss: the file is the old one or the new one."""

from __future__ import annotations

import os
from pathlib import Path

from plugins.in_tail.checkpoint import Checkpoints


def test_save_fsyncs_the_data_and_the_rename(tmp_path: Path, mocker) -> None:
    cp = Checkpoints(tmp_path)
    cp.set("1:2", "/var/log/a.log", 4096, "abcd", 256)
    synced: list[str] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    mocker.patch("plugins.in_tail.checkpoint.os.fsync", side_effect=spy)
    cp.save()
    assert synced[0].endswith("checkpoints.tmp")  # the data before the rename
    assert synced[-1] == str(tmp_path)  # then the directory, so the rename is durable
    again = Checkpoints(tmp_path)
    assert again.get("1:2")["offset"] == 4096
    assert not (tmp_path / "checkpoints.tmp").exists()
