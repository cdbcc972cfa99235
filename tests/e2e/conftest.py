"""Fixtures shared by the end-to-end tests (a test module may define its own of the same name)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.conftest import pick_port
from tests.peers.syslog_ng import msg_collector


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """syslog-ng with an RFC 5424 TCP listener (octet counting) writing each MSG on a line:
    ``{"port": its port, "out": the file of received MSGs}``."""
    port = pick_port()
    out = tmp_path / "received.jsonl"
    sng = msg_collector(tmp_path / "syslog-ng", port, out)
    sng.start()
    try:
        yield {"port": port, "out": out}
    finally:
        sng.stop()
