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


def test_the_directory_is_fsynced_only_when_the_set_of_files_changes(tmp_path: Path, mocker) -> None:
    """Offsets alone moving: losing the rename brings back lower offsets (read again, at least once).

    A file added or let go must survive a power loss: a file missing from the
    checkpoint may be read from its end at start-up (``read_from: end``).
    """
    cp = Checkpoints(tmp_path)
    synced: list[str] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    mocker.patch("plugins.in_tail.checkpoint.os.fsync", side_effect=spy)

    def save() -> list[str]:
        synced.clear()
        cp.save()
        return ["dir" if s == str(tmp_path) else "file" for s in synced]

    cp.set("1:2", "/var/log/a.log", 100, "abcd", 256)
    assert save() == ["file", "dir"]  # a new file
    cp.set("1:2", "/var/log/a.log", 200, "abcd", 256)
    assert save() == ["file"]  # its offset moved
    cp.set("1:3", "/var/log/b.log", 10, "ef01", 256)
    assert save() == ["file", "dir"]  # another file
    cp.drop("1:2")
    assert save() == ["file", "dir"]  # one let go
    reopened = Checkpoints(tmp_path)
    reopened.set("1:3", "/var/log/b.log", 20, "ef01", 256)
    cp = reopened
    assert save() == ["file"]  # the files read at start-up are durable already
    assert Checkpoints(tmp_path).get("1:3")["offset"] == 20


def test_a_copy_is_saved_as_a_copy_and_other_files_in_the_earlier_format(tmp_path: Path) -> None:
    """A copytruncate copy's entry says so (and which original it shadows); a plain file's
    entry is exactly what earlier versions wrote and read."""
    cp = Checkpoints(tmp_path)
    cp.set("1:2", "/var/log/app.log", 9000, "abcd", 256)
    cp.set("1:3", "/var/log/app.log.1", 9000, "abcd", 256, copy=True, copy_of="1:2")
    cp.set("1:4", "/var/log/app.log.2", 5000, "ef01", 256, copy=True)
    cp.save()
    again = Checkpoints(tmp_path)
    assert again.get("1:2") == {"path": "/var/log/app.log", "offset": 9000, "fp": "abcd", "fp_len": 256}
    assert again.get("1:3") == {"path": "/var/log/app.log.1", "offset": 9000, "fp": "abcd", "fp_len": 256,
                                "copy": True, "copy_of": "1:2"}
    assert again.get("1:4") == {"path": "/var/log/app.log.2", "offset": 5000, "fp": "ef01", "fp_len": 256, "copy": True}
