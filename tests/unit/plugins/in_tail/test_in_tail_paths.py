"""A path named by a notification is judged exactly as glob discovery would list it."""

from __future__ import annotations

import glob
from pathlib import Path

import pytest

from plugins.in_tail.paths import PathMatcher

NAMES = ["app.log", "app.log.1", "app.log.2.gz", "other.log", "sub/app.log", "sub/deep/x.log", "sub/deep/x.log.1"]


@pytest.mark.parametrize("pattern", ["app.log", "app.log*", "*.log", "**/*.log", "sub/*/x.log*", "app.log.[0-9]"])
def test_wanted_agrees_with_glob(tmp_path: Path, pattern: str) -> None:
    for name in NAMES:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x\n")
    m = PathMatcher([f"{tmp_path}/{pattern}"], ["*.gz"])
    listed = set(m.matches())
    assert listed == {p for p in glob.glob(f"{tmp_path}/{pattern}", recursive=True) if not p.endswith(".gz")}
    assert {str(tmp_path / n) for n in NAMES if m.wanted(str(tmp_path / n))} == listed


def test_static_dirs_stop_at_the_first_wildcard(tmp_path: Path) -> None:
    m = PathMatcher([f"{tmp_path}/a/app.log*", f"{tmp_path}/b/*/x.log"], [])
    assert m.static_dirs() == {f"{tmp_path}/a", f"{tmp_path}/b"}
