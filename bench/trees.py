"""The code a benchmark runs: a git ref exported for an A/B, and bytecode compiled ahead.

An installed agent runs from compiled bytecode (the Debian package compiles it in its
``postinst``, pip when it installs). A source tree run where ``PYTHONDONTWRITEBYTECODE``
is set (some CI and container images set it) compiles every module it imports at every
start instead, and a tree exported for an A/B has no bytecode at all: measured on the file
workload, the first byte left 0.85-0.92 s after the agent's start without bytecode against
0.49-0.53 s with it. Every script that runs versions side by side compiles both first
(:func:`compile_tree`), so neither pays for compiling and the start-up is an installed
agent's.
"""

from __future__ import annotations

import compileall
import subprocess
import tarfile
from io import BytesIO
from pathlib import Path

__all__ = ["ROOT", "compile_tree", "export"]

ROOT = Path(__file__).resolve().parent.parent


def compile_tree(root: Path, parts: tuple[str, ...] = ("agent", "plugins")) -> Path:
    """Compile ``root``'s packages to bytecode (what is current is left alone); ``root``."""
    for part in parts:
        if (root / part).is_dir():
            compileall.compile_dir(str(root / part), quiet=1, workers=0)
    return root


def export(ref: str, into: Path, parts: tuple[str, ...] = ("agent", "plugins")) -> Path:
    """``parts`` of git ref ``ref`` under ``into``, compiled (version A of an A/B); ``into``."""
    blob = subprocess.run(["git", "-C", str(ROOT), "archive", ref, *parts], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(blob)) as tar:
        tar.extractall(into, filter="data")
    return compile_tree(into)
