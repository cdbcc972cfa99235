"""Helpers for testing siemrelay and its plugins: events, a fake clock, records.

Plugin authors import these in their own tests; siemrelay's suite uses them too.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timezone
from typing import Any, Sequence

from agent.decoders import Decoder
from agent.model import Event, Severity, content_id, score_from_severity
from agent.records import RawRecord
from agent.sinks import SpooledEvent

__all__ = ["make_event", "spooled", "FakeClock", "make_record"]

_counter = itertools.count(1)
T0 = datetime(2025, 1, 15, 14, 30, 0, tzinfo=timezone.utc)


def make_event(**fields: Any) -> Event:
    """Return a valid Event with sensible defaults; any field can be overridden."""
    n = next(_counter)
    sev = fields.pop("severity", Severity.HIGH)
    sev = Severity[sev.upper()] if isinstance(sev, str) else Severity(sev)
    base: dict[str, Any] = {
        "id": f"evt-{n}", "time": T0, "received_at": T0, "source": "test", "type": "finding.new",
        "vendor_type": "TEST", "severity_id": int(sev), "score": score_from_severity(sev),
        "title": f"Test finding {n}", "description": "", "raw": {"n": n},
    }
    base.update(fields)
    return Event(**base)


def spooled(events: Sequence[Event], start: int = 1) -> list[SpooledEvent]:
    """Wrap events as the spool hands them to a sink."""
    return [SpooledEvent(start + i, e.to_json(), e) for i, e in enumerate(events)]


def make_record(data: bytes, decoder: Decoder, **origin: Any) -> RawRecord:
    """A raw record as a source would build it (``origin.input`` defaults to ``test``)."""
    origin.setdefault("input", "test")
    return RawRecord(data=data, decoder=decoder, origin=origin, received_at=T0)


class FakeClock:
    """A clock tests move by hand; ``sleep`` advances it and records the delay."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def stable_id(source: str, payload: Any) -> str:
    """The id an event without a vendor id gets (re-exported for tests)."""
    return content_id(source, payload)
