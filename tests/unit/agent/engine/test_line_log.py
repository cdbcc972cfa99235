"""The preparing child's intake log (:class:`agent.engine.prepare_child.LineLog`).

The child keeps its intake's log lines and sends them back with the batch, where the
agent writes them with its own logger; it does so without loguru (loguru's imports were
6 MB of the child's RSS). What it keeps must be what loguru's ``{message}`` gives for the
same calls, so the agent's log reads the same wherever a batch was prepared.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from loguru import logger

from agent.engine.intake import Intake
from agent.engine.prepare_child import LineLog
from agent.spool.store import Spool
from tests.unit.agent.engine.test_intake import rec, router


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[Spool]:
    s = Spool(tmp_path, max_bytes=1 << 20, sync="normal")
    s.open(["siem", "chat"])
    yield s
    s.close()


def _loguru_lines(call) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """What a loguru sink with ``{message}`` receives for ``call(logger)``, as ``(level, text)``."""
    lines: list[tuple[str, str]] = []

    def keep(message) -> None:  # type: ignore[no-untyped-def]
        lines.append((message.record["level"].name, str(message).rstrip("\n")))

    handler = logger.add(keep, level="WARNING", format="{message}", backtrace=False, diagnose=False)
    try:
        call(logger)
    finally:
        logger.remove(handler)
    return lines


def test_a_decoder_that_raises_is_logged_with_its_traceback_as_loguru_would(spool: Spool) -> None:
    log = LineLog()
    batch = Intake(spool, router(), log).prepare([rec("f1"), rec("boom"), rec("f2")], dedup=False)
    assert [index for index, _ in batch.failed] == [1] and len(batch.rows) == 2
    [(level, text)] = log.lines
    assert level == "ERROR"
    assert text.startswith("decoder list raised on a record from ")
    assert "Traceback (most recent call last):" in text and text.endswith("RuntimeError: decoder bug")
    # the same text but for Python 3.11's column markers (``^^^^``) under a frame's line, which loguru leaves out
    assert _without_markers(log.lines) == _loguru_lines(lambda lg: Intake(spool, router(), lg).prepare([rec("boom")], dedup=False))


def _without_markers(lines: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(level, "\n".join(line for line in text.split("\n") if line.strip(" ^~"))) for level, text in lines]


def test_messages_are_formatted_with_their_arguments_and_levels_kept() -> None:
    log = LineLog()
    log.warning("events from {} matched no route", "edr")
    log.error("spool write failed: {}", OSError("disk full"))
    log.log("WARNING", "braces {{kept}} and {}", 3)
    log.warning("no arguments: {left} as written")
    assert log.lines == [("WARNING", "events from edr matched no route"),
                         ("ERROR", "spool write failed: disk full"),
                         ("WARNING", "braces {kept} and 3"),
                         ("WARNING", "no arguments: {left} as written")]
    assert log.lines == _loguru_lines(lambda lg: (lg.warning("events from {} matched no route", "edr"),
                                                  lg.error("spool write failed: {}", OSError("disk full")),
                                                  lg.log("WARNING", "braces {{kept}} and {}", 3),
                                                  lg.warning("no arguments: {left} as written")))
