"""Finding a followed file again after it moved: by inode, or by fingerprint (copytruncate's copy)."""

from __future__ import annotations

import os

from plugins.in_tail.checkpoint import fingerprint

__all__ = ["find_inode", "find_copy", "same_head"]


def find_inode(directory: str, ino: int) -> str | None:
    """The path in ``directory`` of the regular file with inode ``ino`` (a rename keeps the inode)."""
    try:
        for entry in os.scandir(directory or "."):
            if entry.inode() == ino and entry.is_file():
                return entry.path
    except OSError:
        pass
    return None


def same_head(fd: int, fp: str, fp_len: int) -> bool:
    """Whether the file open as ``fd`` starts with the bytes fingerprinted as ``fp``."""
    return bool(fp_len) and fingerprint(fd, fp_len) == (fp, fp_len)


def find_copy(directory: str, fp: str, fp_len: int, min_size: int, skip: set[str]) -> str | None:
    """A file in ``directory`` that starts like the fingerprint and holds at least ``min_size`` bytes.

    ``skip`` holds ``dev:ino`` keys of files already followed (the truncated file itself).
    """
    try:
        entries = list(os.scandir(directory or "."))
    except OSError:
        return None
    for entry in entries:
        try:
            if not entry.is_file():
                continue
            st = entry.stat()
            if f"{st.st_dev}:{st.st_ino}" in skip or st.st_size < min_size:
                continue
            fd = os.open(entry.path, os.O_RDONLY)
        except OSError:
            continue
        try:
            if same_head(fd, fp, fp_len):
                return entry.path
        finally:
            os.close(fd)
    return None
