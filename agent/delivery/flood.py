"""Flood control: caps on finding messages per scan and per finding type, per sink.

Detectify caps its webhooks at 100 finding messages per scan and 10 per finding type
so a noisy scan cannot bury a channel. siemrelay applies the same caps per sink, in
the delivery worker just before a batch is sent, so a Slack channel can be capped
while the SIEM behind another sink still receives everything.

When a cap bites, the first event it cuts is replaced by **one summary event**
(type ``flood.suppressed``) that says which scan, which cap and which limit, and the
events cut are kept as dead letters (reason ``flood control: ...``) unless the sink
says ``suppressed: drop``. Nothing disappears without a trace.

Counters live in memory: a restart starts them afresh (a scan may then get another
full quota on that sink). Only events that carry a ``scan.id`` are counted.
"""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Sequence

import orjson

from agent.model import Event, Severity, content_id
from agent.sdk.sink import SpooledEvent

__all__ = ["FloodControl", "FloodResult", "SUMMARY_TYPE"]

SUMMARY_TYPE = "flood.suppressed"
_MAX_SCANS = 10000


@dataclass(slots=True)
class _Scan:
    count: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    summarised: set[str] = field(default_factory=set)
    seen: float = 0.0


@dataclass(slots=True)
class FloodResult:
    """A batch after flood control.

    :ivar batch: what to send: kept events, with a summary event where a cap first bit.
    :ivar suppressed: ``(event, reason)`` for each event cut.
    :ivar summaries: how many summary events were added.
    """

    batch: list[SpooledEvent]
    suppressed: list[tuple[SpooledEvent, str]] = field(default_factory=list)
    summaries: int = 0


def _get(doc: object, path: str) -> object:
    for step in path.split("."):
        if not isinstance(doc, dict):
            return None
        doc = doc.get(step)
    return doc


class FloodControl:
    """Per-sink caps; :meth:`apply` is called once per batch, before its first send."""

    def __init__(self, config: dict[str, Any], sink: str, *, wall: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.sink = sink
        self.per_scan = int(config.get("per_scan", 0))
        self.per_type = int(config.get("per_finding_type", 0))
        self.prefix = str(config.get("finding_types", "finding."))
        self.type_field = str(config.get("type_field", "finding.category"))
        self.window_s = float(config.get("window_s", 86400))
        self.keep_suppressed = config.get("suppressed", "dead_letter") == "dead_letter"
        self.wall = wall
        self.clock = monotonic
        self._scans: collections.OrderedDict[str, _Scan] = collections.OrderedDict()
        self.suppressed_total = 0

    @property
    def enabled(self) -> bool:
        return bool(self.per_scan or self.per_type)

    def apply(self, batch: Sequence[SpooledEvent]) -> FloodResult:
        """Cut what is over a cap, insert one summary per scan and cap that bit."""
        if not self.enabled:
            return FloodResult(list(batch))
        now = self.clock()
        self._expire(now)
        out = FloodResult([])
        for ev in batch:
            try:
                doc = orjson.loads(ev.data)
            except orjson.JSONDecodeError:
                out.batch.append(ev)
                continue
            scan_id = _get(doc, "scan.id")
            etype = str(doc.get("type") or "")
            if scan_id is None:
                out.batch.append(ev)
                continue
            key = str(scan_id)
            if etype.startswith("scan.") and etype != "scan.started" and key in self._scans and etype.endswith(("completed", "finished", "failed")):
                del self._scans[key]  # the scan ended: its counters are done
                out.batch.append(ev)
                continue
            if not etype.startswith(self.prefix):
                out.batch.append(ev)
                continue
            scan = self._scans.get(key)
            if scan is None:
                scan = self._scans[key] = _Scan()
                while len(self._scans) > _MAX_SCANS:
                    self._scans.popitem(last=False)
            self._scans.move_to_end(key)
            scan.seen = now
            ftype = str(_get(doc, self.type_field) or doc.get("title") or "(unknown)")
            cap = None
            if self.per_scan and scan.count >= self.per_scan:
                cap, limit, label = "per_scan", self.per_scan, f"more than {self.per_scan} finding messages in scan {key}"
            elif self.per_type and scan.by_type.get(ftype, 0) >= self.per_type:
                cap, limit, label = (f"per_finding_type:{ftype}", self.per_type,
                                     f"more than {self.per_type} '{ftype}' finding messages in scan {key}")
            if cap is None:
                scan.count += 1
                scan.by_type[ftype] = scan.by_type.get(ftype, 0) + 1
                out.batch.append(ev)
                continue
            self.suppressed_total += 1
            if self.keep_suppressed:
                out.suppressed.append((ev, f"flood control: {label} for sink {self.sink}"))
            if cap not in scan.summarised:
                scan.summarised.add(cap)
                out.batch.append(self._summary(ev, doc, key, cap, limit, label, ftype))
                out.summaries += 1
        return out

    def _expire(self, now: float) -> None:
        while self._scans:
            key, scan = next(iter(self._scans.items()))
            if now - scan.seen < self.window_s:
                break
            del self._scans[key]

    def _summary(self, ev: SpooledEvent, doc: dict[str, Any], scan_id: str, cap: str, limit: int,
                 label: str, ftype: str) -> SpooledEvent:
        when = datetime.fromtimestamp(self.wall(), timezone.utc)
        details = {"sink": self.sink, "scan_id": scan_id, "cap": cap.split(":")[0], "limit": limit,
                   "finding_type": ftype if cap != "per_scan" else None, "first_suppressed_id": doc.get("id"),
                   "suppressed": "dead_letters" if self.keep_suppressed else "dropped"}
        where = (f"see `siemrelay dlq list --sink {self.sink}`" if self.keep_suppressed else "they were dropped")
        summary = Event(
            id=content_id("siemrelay", {"flood": details, "first": doc.get("id")}),
            time=when, received_at=when, source="siemrelay", type=SUMMARY_TYPE, vendor_type="FLOOD_CONTROL",
            severity_id=int(Severity.INFO), score=10,
            title=f"Flood control: {label}; further ones are suppressed",
            description=f"siemrelay's flood control for sink {self.sink} cut {label} (limit {limit}); {where}.",
            scan={"id": scan_id}, organization=doc.get("organization") or None,
            tags=["siemrelay", "flood_control"], raw=details)
        return SpooledEvent(ev.seq, summary.to_json(), summary)
