"""Helpers for testing siemrelay and its plugins: events, a fake clock, records, a sink
context whose logs are captured, and capturing receivers on loopback.

Plugin authors import these in their own tests (or use the fixtures of the pytest
plugin, :mod:`agent.testing.pytest_plugin`); siemrelay's suite uses them too.
"""

from __future__ import annotations

import itertools
import tempfile
import threading
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from agent.sdk.decoder import Decoder
from agent.model import Event, Severity, content_id, score_from_severity
from agent.sdk.record import RawRecord
from agent.testing.receivers import CapturedRequest, HTTPReceiver, Reply, TCPReceiver
from agent.sdk.sink import SinkContext, SpooledEvent

if TYPE_CHECKING:
    from loguru import Message

__all__ = ["make_event", "spooled", "FakeClock", "make_record", "make_sink_context", "CapturedLogs",
           "HTTPReceiver", "TCPReceiver", "Reply", "CapturedRequest", "sample_events"]

_counter = itertools.count(1)
T0 = datetime(2025, 1, 15, 14, 30, 0, tzinfo=timezone.utc)


def make_event(**fields: Any) -> Event:  # Any: any Event field by name, each of its own type
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


def make_record(data: bytes, decoder: Decoder, **origin: object) -> RawRecord:
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


def stable_id(source: str, payload: object) -> str:
    """The id an event without a vendor id gets (re-exported for tests)."""
    return content_id(source, payload)


def sample_events() -> list[Event]:
    """A varied batch: every severity, non-ASCII text, nested groups, links and tags.

    Encoders meet these in the conformance suite; they are the shapes that break naive
    formatting (empty description, ``|`` and ``=`` in CEF, emoji in chat cards).
    """
    return [
        make_event(severity="critical", title="SQL injection in /login", description="Parameter `user` is injectable.",
                   asset={"name": "shop.example.com", "type": "web", "url": "https://shop.example.com/login"},
                   finding={"id": "F-1", "cve": "CVE-2024-0001", "cwe": "CWE-89", "cvss": 9.8},
                   links={"vendor": "https://vendor.example/findings/F-1"}, tags=["pci", "web"]),
        make_event(severity="high", title="Déjà vu: naïve café ☕ = | \\ ] \" ' <b>", description="multi\nline\ttext"),
        make_event(severity="medium", type="scan.completed", vendor_type="SCAN_COMPLETE",
                   scan={"id": "S-9", "status": "completed", "findings": 3}),
        make_event(severity="low", repository={"name": "acme/api", "branch": "main", "commit": "abc123"}),
        make_event(severity="info", title="", raw={"nested": {"list": [1, 2, {"k": None}]}}),
        make_event(severity="unknown", source="syslog", type="log", title="x" * 5000),
    ]


class CapturedLogs:
    """Collects what a component logs through its context's logger.

    Only records from loggers made by :meth:`logger` are kept (they carry a private
    marker), so tests running in parallel threads do not see each other's lines.
    """

    def __init__(self) -> None:
        self._id = uuid.uuid4().hex
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self._handler: int | None = None

    def start(self) -> "CapturedLogs":
        from loguru import logger

        if self._handler is None:
            self._handler = logger.add(self._write, level=0, format="{message}", backtrace=False, diagnose=False,
                                       filter=lambda r: r["extra"].get("_capture") == self._id)
        return self

    def stop(self) -> None:
        from loguru import logger

        if self._handler is not None:
            try:
                logger.remove(self._handler)
            except ValueError:  # someone called logger.remove() meanwhile
                pass
            self._handler = None

    def __enter__(self) -> "CapturedLogs":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _write(self, message: "Message") -> None:
        rec = message.record
        parts = [rec["level"].name, rec["message"]]
        parts += [f"{k}={v}" for k, v in rec["extra"].items() if k != "_capture"]
        if rec["exception"] is not None:
            parts.append(str(message))  # includes the formatted traceback
        with self._lock:
            self._lines.append(" ".join(str(p) for p in parts))

    def logger(self, **extra: object) -> Any:
        """A loguru logger bound to ``extra`` whose records this capture keeps."""
        from loguru import logger

        return logger.bind(**extra, _capture=self._id)

    @property
    def lines(self) -> list[str]:
        with self._lock:
            return list(self._lines)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def make_sink_context(name: str = "test", *, state_dir: Path | str | None = None, secrets: Iterable[str] = (),
                      logs: CapturedLogs | None = None, clock: Callable[[], float] | None = None) -> SinkContext:
    """A :class:`SinkContext` as the agent builds one, for tests.

    :param secrets: values the context's ``redact`` hides, as the agent's redactor
        does for every value of a key the sink declared in ``SECRET_KEYS``.
    :param logs: capture what the sink logs (see :class:`CapturedLogs`).
    """
    from loguru import logger

    from agent.logging import Redactor

    redactor = Redactor(secrets)
    log = logs.logger(component="sink", name=name) if logs is not None else logger.bind(component="sink", name=name)
    directory = Path(state_dir) if state_dir is not None else Path(tempfile.mkdtemp(prefix=f"siemrelay-{name}-"))
    ctx = SinkContext(name=name, logger=log, state_dir=directory, redact=redactor)
    if clock is not None:
        ctx.clock = clock
    return ctx
