"""The operational actions behind the admin API: test a sink, read history and dead letters.

``send_test`` builds a *fresh* instance of the sink from its running configuration
and sends one test event through it: the real encoder and transport, exactly what
the worker would do, without sharing the worker's connection or socket (sinks are
not required to be thread-safe) and without touching its queue, circuit or
retries. The attempt is recorded in the sink's delivery history like any other,
as the pentest platform's "test webhook" does.
"""

from __future__ import annotations

import socket
import time
import uuid
from typing import Any, Callable

from loguru import logger

from agent.admin.state import AgentView, iso
from agent.sdk.outcome import Delivery
from agent.model import Event, Severity, utcnow
from agent.sdk.sink import SinkContext, SpooledEvent
from agent.spool.views import DeadLetter

__all__ = ["send_test", "test_event", "delivery_view", "dead_letter_view"]


def test_event() -> Event:
    """The event ``send-test`` delivers: recognisable, harmless, info severity."""
    now = utcnow()
    host = socket.gethostname()
    return Event(id=f"siemrelay-test-{uuid.uuid4().hex[:16]}", time=now, received_at=now, source="siemrelay",
                 type="agent.test", vendor_type="TEST", severity_id=int(Severity.INFO), score=0,
                 title="siemrelay test event", description=f"Sent on request by siemrelay on {host} to check this destination.",
                 asset={"name": host, "type": "host"}, tags=["siemrelay-test"], raw={"test": True},
                 origin={"input": "admin-api"})


def send_test(agent: AgentView, name: str) -> dict[str, Any]:
    """Deliver one test event to sink ``name`` and record the attempt.

    :raises KeyError: no enabled sink of that name.
    """
    ct, conf = agent.cfg.sinks[name]
    if not conf.get("enabled", True) or name not in agent.sinks:
        raise KeyError(name)
    redact = agent.redactor
    ctx = SinkContext(name=name, logger=logger.bind(component="sink", name=name),
                      state_dir=agent.cfg.state_dir / "sinks" / name, redact=redact)
    ev = test_event()
    started = time.monotonic()
    when = time.time()
    sink = None
    try:
        sink = ct.cls(name, conf, ctx)
        sink.open()
        outcome = sink.send([SpooledEvent(0, ev.to_json(), ev)])
        if not isinstance(outcome, Delivery):
            outcome = Delivery.retry(f"plugin error: send() returned {type(outcome).__name__}")
    except Exception as exc:  # a plugin bug or an unreachable peer: report it, never crash the API
        outcome = Delivery.retry(f"{type(exc).__name__}: {redact(str(exc))}")
    finally:
        if sink is not None:
            try:
                sink.close()
            except Exception:
                pass
    latency_ms = (time.monotonic() - started) * 1000.0
    try:
        agent.spool.record_delivery(name, when, [ev.id], outcome.status.value, outcome.code, outcome.ok, 1, latency_ms,
                                    None if outcome.ok else f"test: {redact(outcome.reason)}")
    except Exception:
        pass  # the spool is closing: the answer still tells the caller what happened
    ctx.logger.info("test event {} to sink {}: {} {}", ev.id, name, outcome.status.value, redact(outcome.reason))
    return {"sink": name, "status": outcome.status.value, "ok": outcome.ok, "reason": redact(outcome.reason or ""),
            "code": outcome.code, "latency_ms": round(latency_ms, 3), "event_id": ev.id}


def delivery_view(row: dict[str, Any], redact: Callable[[str], str]) -> dict[str, Any]:
    """A delivery-history row as the API shows it."""
    ids = [i for i in (row.get("event_ids") or "").split(",") if i]
    return {"id": row.get("id"), "time": iso(row["time"]), "batch_size": row["batch_size"], "event_ids": ids,
            "status": row["status"], "code": row.get("code"), "success": bool(row["success"]), "attempt": row["attempt"],
            "latency_ms": round(float(row["latency_ms"]), 3),
            "error": redact(row["error"]) if row.get("error") else None}


def dead_letter_view(d: DeadLetter, redact: Callable[[str], str], max_data: int = 65536) -> dict[str, Any]:
    """A dead letter as the API shows it (data as text, truncated, secrets redacted)."""
    data = d.data.decode("utf-8", "replace")
    if len(data) > max_data:
        data = data[:max_data] + "…"
    return {"id": d.id, "sink": d.sink, "input": d.input, "event_id": d.event_id, "reason": redact(d.reason),
            "attempts": d.attempts, "first_attempt": iso(d.first_attempt), "last_attempt": iso(d.last_attempt),
            "last_error": redact(d.last_error) if d.last_error else None, "created": iso(d.created) or "",
            "data": redact(data)}
