"""The processes under a process, from ``/proc``: the agent's preparing and encoding
children (what the agent costs in CPU and memory is theirs too; until 2026-12-07 also
multiprocessing's resource tracker). Standard library only; the benchmarks and the tests share it."""

from __future__ import annotations

from pathlib import Path

__all__ = ["children", "descendants"]


def children(pid: int) -> list[int]:
    """Direct children of ``pid``; none when it has ended (or ends while being read)."""
    out: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except FileNotFoundError:
        return out
    for task in tasks:
        try:
            out.extend(int(c) for c in (task / "children").read_text().split())
        except FileNotFoundError:
            pass
    return out


def descendants(pid: int) -> list[int]:
    """``pid`` and every process under it."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(children(p))
    return found
