"""Checkpoints survive a crash (written after every batch) and a power loss (a synced copy, fsynced once a second)."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from plugins.in_tail.checkpoint import Checkpoints


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def fsynced(mocker) -> list[str]:
    """What each ``os.fsync`` of the checkpoint module synced: a file's path, or the directory's."""
    calls: list[str] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        calls.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    mocker.patch("plugins.in_tail.checkpoint.os.fsync", side_effect=spy)
    return calls


def _synced_offset(directory: Path) -> int:
    """The offset of file ``1:2`` in the synced copy (what a power loss falls back to)."""
    return int(orjson.loads((directory / "checkpoints.synced.json").read_bytes())["1:2"]["offset"])


def _names(calls: list[str], directory: Path) -> list[str]:
    return ["dir" if c == str(directory) else Path(c).name for c in calls]

def _save_at(cp: Checkpoints, offset: int) -> None:
    """One acknowledged batch: ``/var/log/a.log`` (key ``1:2``) now read up to ``offset``."""
    cp.set("1:2", "/var/log/a.log", offset, "abcd", 256)
    cp.save()



def test_the_synced_copy_is_fsynced_before_its_rename_then_the_directory(tmp_path: Path, fsynced: list[str]) -> None:
    cp = Checkpoints(tmp_path)
    cp.set("1:2", "/var/log/a.log", 4096, "abcd", 256)
    cp.save()  # a new file: the synced copy at once
    assert _names(fsynced, tmp_path) == ["checkpoints.synced.tmp", "dir"]
    for name in ("checkpoints.json", "checkpoints.synced.json"):
        assert Checkpoints(tmp_path).get("1:2")["offset"] == 4096
        assert not (tmp_path / name.replace(".json", ".tmp")).exists()


def test_offsets_are_written_after_every_batch_and_fsynced_once_a_second(tmp_path: Path, fsynced: list[str]) -> None:
    """A crash keeps what the kernel was given, so each batch's offset is written (no fsync);
    a power loss falls back to the synced copy, at most ``sync_interval_s`` behind."""
    clock = Clock()
    cp = Checkpoints(tmp_path, sync_interval_s=1.0, clock=clock)
    _save_at(cp, 100)
    fsynced.clear()
    for offset in (200, 300, 400):
        clock.now += 0.3
        _save_at(cp, offset)
        assert Checkpoints(tmp_path).get("1:2")["offset"] == offset  # what a restart after kill -9 reads
    assert fsynced == []
    assert _synced_offset(tmp_path) == 100
    clock.now += 0.2  # a second since the last sync
    _save_at(cp, 500)
    assert _names(fsynced, tmp_path) == ["checkpoints.synced.tmp", "dir"]
    assert _synced_offset(tmp_path) == 500


def test_an_idle_reader_s_last_offsets_reach_the_synced_copy(tmp_path: Path, fsynced: list[str]) -> None:
    clock = Clock()
    cp = Checkpoints(tmp_path, sync_interval_s=1.0, clock=clock)
    _save_at(cp, 100)
    _save_at(cp, 200)
    fsynced.clear()
    cp.save()  # nothing new, not due: nothing written
    assert fsynced == []
    clock.now += 1.0
    cp.save()  # nothing new since, but the synced copy is behind and due
    assert _names(fsynced, tmp_path) == ["checkpoints.synced.tmp", "dir"]
    assert _synced_offset(tmp_path) == 200
    fsynced.clear()
    clock.now += 5.0
    cp.save()  # caught up: nothing more
    assert fsynced == []


def test_a_file_added_or_let_go_and_a_durable_save_are_synced_at_once(tmp_path: Path, fsynced: list[str]) -> None:
    """A file missing from the checkpoint at start-up may be read from its end (``read_from: end``),
    and one let go must not be found again: neither may come back after a power loss."""
    clock = Clock()
    cp = Checkpoints(tmp_path, sync_interval_s=1.0, clock=clock)

    def save(durable: bool = False) -> list[str]:
        fsynced.clear()
        cp.save(durable)
        return _names(fsynced, tmp_path)

    cp.set("1:2", "/var/log/a.log", 100, "abcd", 256)
    assert save() == ["checkpoints.synced.tmp", "dir"]  # a new file
    cp.set("1:2", "/var/log/a.log", 200, "abcd", 256)
    assert save() == []  # its offset moved
    cp.set("1:3", "/var/log/b.log", 10, "ef01", 256)
    assert save() == ["checkpoints.synced.tmp", "dir"]  # another file
    cp.drop("1:2")
    assert save() == ["checkpoints.synced.tmp", "dir"]  # one let go
    cp.set("1:3", "/var/log/b.log", 20, "ef01", 256, copy=True)
    assert save(durable=True) == ["checkpoints.synced.tmp", "dir"]  # the caller asks (a copy's start)
    assert save(durable=True) == []  # nothing the synced copy lacks
    reopened = Checkpoints(tmp_path, sync_interval_s=1.0, clock=clock)
    reopened.set("1:3", "/var/log/b.log", 30, "ef01", 256)
    cp = reopened
    assert save() == []  # the files read at start-up are in the synced copy already
    assert Checkpoints(tmp_path).get("1:3")["offset"] == 30


@pytest.mark.parametrize("left", [b"", b'{"1:2": {"path": "/var/log/a.log", "off', b"\0" * 64])
def test_a_checkpoint_a_power_loss_left_empty_or_torn_falls_back_to_the_synced_copy(tmp_path: Path, left: bytes) -> None:
    clock = Clock()
    cp = Checkpoints(tmp_path, sync_interval_s=1.0, clock=clock)
    _save_at(cp, 100)
    cp.set("1:2", "/var/log/a.log", 900, "abcd", 256)
    cp.save()  # written, not yet synced
    (tmp_path / "checkpoints.json").write_bytes(left)  # its rename reached the disk, its data did not
    again = Checkpoints(tmp_path)
    assert again.get("1:2")["offset"] == 100  # lower: read again, never skipped
    assert (tmp_path / "checkpoints.corrupt").read_bytes() == left  # set aside for a human


def test_a_checkpoint_of_an_earlier_version_gets_its_synced_copy_at_the_first_save(tmp_path: Path, fsynced: list[str]) -> None:
    (tmp_path / "checkpoints.json").write_bytes(b'{"1:2": {"path": "/var/log/a.log", "offset": 100, "fp": "abcd", "fp_len": 256}}')
    cp = Checkpoints(tmp_path)
    assert cp.get("1:2")["offset"] == 100
    _save_at(cp, 200)
    assert _names(fsynced, tmp_path) == ["checkpoints.synced.tmp", "dir"]
    assert _synced_offset(tmp_path) == 200


def test_sync_interval_zero_fsyncs_every_save(tmp_path: Path, fsynced: list[str]) -> None:
    clock = Clock()
    cp = Checkpoints(tmp_path, sync_interval_s=0.0, clock=clock)
    for offset in (100, 200, 300):
        _save_at(cp, offset)
    assert _names(fsynced, tmp_path) == ["checkpoints.synced.tmp", "dir"] * 3


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
