"""Which paths the source follows: the ``paths`` globs minus ``exclude``, as a test on one path.

Discovery lists matches with :func:`glob.glob`; a change notification names one path,
which must be judged by the same rules (``*`` stays inside one directory, ``**`` spans
any depth) without listing the directory again.
"""

from __future__ import annotations

import fnmatch
import glob
import os

__all__ = ["PathMatcher"]


def _match_parts(path: list[str], pattern: list[str]) -> bool:
    """Component-wise glob match: ``*`` and ``?`` inside one name, ``**`` any number of names."""
    if not pattern:
        return not path
    if pattern[0] == "**":
        return any(_match_parts(path[i:], pattern[1:]) for i in range(len(path) + 1))
    return bool(path) and fnmatch.fnmatchcase(path[0], pattern[0]) and _match_parts(path[1:], pattern[1:])


class PathMatcher:
    """The followed set: ``paths`` globs, without what ``exclude`` names."""

    def __init__(self, patterns: list[str], exclude: list[str]) -> None:
        self.patterns = patterns
        self.exclude = exclude
        self._parts = [os.path.abspath(p).split("/") for p in patterns]

    def matches(self) -> list[str]:
        found: set[str] = set()
        for pattern in self.patterns:
            for p in glob.glob(pattern, recursive=True):
                if not self._excluded(p) and os.path.isfile(p):
                    found.add(p)
        return sorted(found)

    def wanted(self, path: str) -> bool:
        """Whether ``path`` (absolute or relative) is one the globs name and ``exclude`` does not."""
        full = os.path.abspath(path)
        parts = full.split("/")
        return any(_match_parts(parts, pat) for pat in self._parts) and not self._excluded(path) and not self._excluded(full)

    def _excluded(self, path: str) -> bool:
        return any(fnmatch.fnmatch(path, ex) for ex in self.exclude)

    def static_dirs(self) -> set[str]:
        """The directory part of each pattern before its first wildcard: where new matches appear."""
        out = set()
        for pattern in self.patterns:
            head = []
            for part in os.path.abspath(pattern).split("/")[:-1]:
                if glob.has_magic(part):
                    break
                head.append(part)
            out.add("/".join(head) or "/")
        return out
