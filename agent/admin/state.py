"""Read-only views of a running agent, shared by the admin API, metrics, status page and ``top``.

Every view is computed from the supervisor's live objects (workers' stats, intake
counters, circuit breakers) plus a few read-only queries on the spool database
(queue depth, oldest queued event, dead-letter counts), so the API, ``/metrics``
and the page can never disagree with each other.
"""

from __future__ import annotations

import collections
import datetime as dt
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Protocol

import orjson

from agent.admin.history import MinuteHistory
from agent.config.validate import AgentConfig
from agent.delivery.plain_errors import plain_error
from agent.delivery.worker import SinkWorker
from agent.plugins import PluginSet
from agent.registry import RegistryError
from agent.sdk.running import RunningAgent
from agent.spool import db as spool_db
from agent.spool.store import Spool

__all__ = ["AgentView", "IntakeView", "IntakeCounters", "RateTracker", "SpoolSnapshot", "spool_snapshot", "sink_views",
           "source_views", "route_views", "route_names", "intake_counts", "iso", "event_types", "redact_config",
           "counters_for_history", "FIVE_MINUTES", "ONE_HOUR"]

FIVE_MINUTES, ONE_HOUR = 300.0, 3600.0


class IntakeCounters(Protocol):
    """The intake's per-source counters (``agent.engine.intake.IntakeStats``): read under ``lock``."""

    @property
    def lock(self) -> threading.Lock: ...

    @property
    def by_input(self) -> Mapping[str, Mapping[str, int]]: ...

    @property
    def last_received(self) -> Mapping[str, float]: ...

    @property
    def routes(self) -> Mapping[str, Mapping[str, int]]: ...


class IntakeView(Protocol):
    """What the admin side reads of the intake: its counters."""

    @property
    def stats(self) -> IntakeCounters: ...


class AgentView(RunningAgent, Protocol):
    """What the admin side reads of a running agent (the engine's interface,
    :class:`agent.engine.api.Engine`, extends it): read-only."""

    @property
    def cfg(self) -> AgentConfig: ...

    @property
    def plugins(self) -> PluginSet: ...

    @property
    def spool(self) -> Spool: ...

    @property
    def workers(self) -> Mapping[str, SinkWorker]: ...

    @property
    def intake(self) -> IntakeView | None: ...


def iso(ts: float | None) -> str | None:
    """Epoch seconds → ISO 8601 UTC with ``Z`` (``None`` stays ``None``)."""
    if not ts:
        return None
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class RateTracker:
    """Per-key rates (per second) over a sliding window, from samples of monotonically growing counters.

    A sampler thread feeds it once a second; readers get the average over the last
    ``window_s`` seconds, which is what ``vector top`` shows and what a person
    reading the page expects ("events/s right now", not since start-up).
    """

    def __init__(self, window_s: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s = window_s
        self.clock = clock
        self._lock = threading.Lock()
        self._samples: dict[str, collections.deque[tuple[float, float]]] = {}

    def sample(self, values: dict[str, float]) -> None:
        now = self.clock()
        with self._lock:
            for key, value in values.items():
                dq = self._samples.setdefault(key, collections.deque())
                if dq and value < dq[-1][1]:
                    dq.clear()  # counter reset (sink rebuilt): start over rather than go negative
                dq.append((now, value))
                while len(dq) > 2 and now - dq[1][0] >= self.window_s:
                    dq.popleft()

    def rate(self, key: str) -> float:
        with self._lock:
            dq = self._samples.get(key)
            if not dq or len(dq) < 2:
                return 0.0
            (t0, v0), (t1, v1) = dq[0], dq[-1]
        return (v1 - v0) / (t1 - t0) if t1 > t0 else 0.0


class SpoolSnapshot:
    """Queue depth and oldest queued event per sink, and dead-letter counts, at one instant."""

    def __init__(self) -> None:
        self.depth: dict[str, int] = {}
        self.oldest_age_s: dict[str, float] = {}
        self.dead_by_sink: dict[str, int] = {}
        self.dead_by_input: dict[str, int] = {}

    @property
    def dead_total(self) -> int:
        return sum(self.dead_by_sink.values()) + sum(self.dead_by_input.values())


def _received_at(data: bytes | None) -> Any:
    """The ``received_at`` of a stored event (None when there is none or it does not parse)."""
    if data is None:
        return None
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return doc.get("received_at") if isinstance(doc, dict) else None


def _parse_iso(text: object) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(str(path), timeout=5.0, isolation_level=None)


def spool_snapshot(path: Path, now: float | None = None,
                   connect: Callable[[Path], sqlite3.Connection] = _connect) -> SpoolSnapshot:
    """Query the spool database read-only on a short-lived connection.

    The spool's writer thread keeps its own connection; WAL mode lets this reader
    run next to it without blocking a commit. Every query runs in one read
    transaction, so they all see the same instant: a queue's backlog is read in two
    statements (its segments, then the oldest one's event), and between two
    autocommit statements the writer may delete that segment (every sink passed
    it), which once answered the admin API with a 500 right after start-up.

    :param connect: opens the connection (tests interpose a writer between statements).
    """
    snap = SpoolSnapshot()
    if not Path(path).exists():
        return snap
    now = time.time() if now is None else now
    conn = connect(Path(path))
    try:
        conn.execute("PRAGMA query_only=1")
        conn.execute("BEGIN")  # one snapshot for every statement below (WAL: the writer is never blocked)
        for name, cursor, bit in conn.execute("SELECT name, cursor, bit FROM sinks").fetchall():
            depth, _, first = spool_db.backlog(conn, cursor, bit)
            snap.depth[name] = depth
            oldest = _received_at(first)
            ts = _parse_iso(oldest)
            snap.oldest_age_s[name] = max(0.0, now - ts) if ts is not None and depth else 0.0
        for sink, inp, n in conn.execute("SELECT sink, input, count(*) FROM dead_letters GROUP BY sink, input"):
            if sink is not None:
                snap.dead_by_sink[sink] = snap.dead_by_sink.get(sink, 0) + int(n)
            else:
                key = inp or "?"
                snap.dead_by_input[key] = snap.dead_by_input.get(key, 0) + int(n)
    except sqlite3.Error:
        pass  # a locked or half-created database: report what we have
    finally:
        conn.close()  # ends the read transaction
    return snap


def redact_config(value: object, secret_keys: Iterable[str], key: str = "") -> Any:
    """A copy of a config section with secret values replaced by ``***`` (API answers)."""
    keys = frozenset(secret_keys)
    if isinstance(value, dict):
        return {k: redact_config(v, keys, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_config(v, keys, key) for v in value]
    if key in keys and isinstance(value, str) and value:
        return "***"
    return value


def _sink_state(worker: SinkWorker | None, enabled: bool) -> str:
    if not enabled:
        return "disabled"
    if worker is None or not worker.alive:
        return "stopped"
    circuit = worker.circuit.state
    if circuit == "open":
        return "circuit_open"
    if circuit == "half_open":
        return "half_open"
    return "retrying" if worker.circuit.failures else "ok"


def _next_retry_in(worker: SinkWorker | None) -> float | None:
    """Seconds until the worker's next attempt while it waits (backoff or open circuit), else ``None``."""
    at = float(worker.stats.next_attempt_at) if worker is not None else 0.0
    if worker is None or not at:
        return None
    return round(max(0.0, at - float(worker.clock())), 1)


def _ago(ts: float | None, now: float) -> float | None:
    return round(max(0.0, now - ts), 1) if ts else None


def sink_views(agent: AgentView, snap: SpoolSnapshot, rates: RateTracker, *, detail: bool = False,
               history: MinuteHistory | None = None, now: float | None = None) -> list[dict[str, Any]]:
    """One dict per configured sink (disabled ones included), in configuration order.

    ``last_error`` is the sink's own reason text (what the delivery history holds);
    ``last_error_plain`` says the same in plain words for the status page.
    """
    now = time.time() if now is None else now
    redact = agent.redactor
    workers = dict(agent.workers)
    out: list[dict[str, Any]] = []
    for name, (ct, conf) in list(agent.cfg.sinks.items()):
        enabled = bool(conf.get("enabled", True))
        w = workers.get(name)
        st = w.stats if w is not None else None
        view: dict[str, Any] = {
            "name": name, "type": ct.name, "enabled": enabled, "state": _sink_state(w, enabled),
            "circuit": w.circuit.state if w is not None else "closed",
            "consecutive_failures": w.circuit.failures if w is not None else 0,
            "queue_depth": snap.depth.get(name, 0),
            "oldest_age_s": round(snap.oldest_age_s.get(name, 0.0), 3),
            "events_sent": st.events_sent if st else 0, "batches_sent": st.batches_sent if st else 0,
            "failures": st.failures if st else 0, "retries": st.retries if st else 0,
            "dead_lettered": st.dead_lettered if st else 0,
            "dead_letters_stored": snap.dead_by_sink.get(name, 0),
            "rate_per_s": round(rates.rate(f"sink:{name}"), 2),
            "last_error": redact(st.last_error) if st and st.last_error else None,
            "last_error_plain": plain_error(redact(st.last_error)) if st and st.last_error else None,
            "last_success": iso(st.last_success) if st else None,
            "last_success_age_s": _ago(st.last_success, now) if st else None,
            "last_latency_ms": round(st.last_latency_ms, 3) if st and st.last_success else None,
            "bytes_sent": st.bytes_sent if st else 0,
            "next_retry_in_s": _next_retry_in(w),
            "circuit_opened_at": iso(st.circuit_opened_at) if st else None,
            "oldest_queued_at": iso(now - snap.oldest_age_s[name]) if snap.depth.get(name) and name in snap.oldest_age_s else None,
        }
        if history is not None:
            for window, seconds in (("5m", FIVE_MINUTES), ("1h", ONE_HOUR)):
                view[f"events_{window}"] = int(history.growth(f"sink:{name}:events", seconds, view["events_sent"]))
                view[f"bytes_{window}"] = int(history.growth(f"sink:{name}:bytes", seconds, view["bytes_sent"]))
        if detail:
            secret = set(getattr(ct.cls, "SECRET_KEYS", ())) | {"token", "secret", "password", "url"}
            view["description"] = ct.description
            view["plugin"] = ct.plugin
            view["config"] = redact_config(conf, secret)
        out.append(view)
    return out


def intake_counts(agent: AgentView) -> tuple[dict[str, dict[str, int]], dict[str, float], dict[str, dict[str, int]]]:
    """Copies of the intake's per-source counters, last-received times and per-route counters."""
    stats = getattr(agent.intake, "stats", None)
    if stats is None:
        return {}, {}, {}
    with stats.lock:
        return ({k: dict(v) for k, v in stats.by_input.items()}, dict(stats.last_received),
                {k: dict(v) for k, v in stats.routes.items()})


def source_views(agent: AgentView, rates: RateTracker, *, history: MinuteHistory | None = None,
                 quiet_after_s: float = 900.0, since: float | None = None, now: float | None = None
                 ) -> list[dict[str, Any]]:
    """One dict per configured source with intake counters, its current rate and when it last received.

    ``quiet`` marks a running source that received nothing for ``quiet_after_s`` (or
    nothing at all since ``since``, when watching began, that long ago): the most common
    silent failure of a SOC pipeline is a webhook that stopped arriving.
    """
    now = time.time() if now is None else now
    by_input, last, _ = intake_counts(agent)
    running = dict(agent.sources)
    started = since or now
    out = []
    for name, (ct, conf) in list(agent.cfg.sources.items()):
        c = by_input.get(name, {})
        seen = last.get(name)
        silent_for = now - (seen or started)
        view: dict[str, Any] = {
            "name": name, "type": ct.name, "enabled": bool(conf.get("enabled", True)), "running": name in running,
            "records": c.get("records", 0), "events": c.get("events", 0), "decode_errors": c.get("decode_errors", 0),
            "duplicates": c.get("duplicates", 0), "unrouted": c.get("unrouted", 0), "refused_full": c.get("refused_full", 0),
            "bytes": c.get("bytes", 0),
            "rate_per_s": round(rates.rate(f"source:{name}"), 2),
            "last_event_at": iso(seen), "last_event_age_s": _ago(seen, now),
            "quiet": name in running and silent_for >= quiet_after_s,
        }
        if history is not None:
            for window, seconds in (("5m", FIVE_MINUTES), ("1h", ONE_HOUR)):
                view[f"events_{window}"] = int(history.growth(f"source:{name}:events", seconds, view["events"]))
                view[f"bytes_{window}"] = int(history.growth(f"source:{name}:bytes", seconds, view["bytes"]))
        out.append(view)
    return out


def route_names(agent: AgentView) -> list[tuple[str, tuple[str, ...]]]:
    """Every enabled route's name and sinks, in rule order, the default route last."""
    router = getattr(agent.cfg, "router", None)
    if router is None:
        return []
    routes = list(getattr(router, "routes", ()))
    default = getattr(router, "default", None)
    if default is not None:
        routes.append(default)
    return [(r.name, tuple(r.to)) for r in routes]


def route_views(agent: AgentView) -> list[dict[str, Any]]:
    """Per route: events it matched and events it queued for its sinks ("which rule sends everything to Slack?").

    A matched event is not queued when the route's transform dropped it or the route
    has no ``to:``; an event that matched several routes (``continue: true``) counts
    for each of them.
    """
    _, _, counts = intake_counts(agent)
    return [{"name": name, "to": list(to), "matched": counts.get(name, {}).get("matched", 0),
             "queued": counts.get(name, {}).get("queued", 0)} for name, to in route_names(agent)]


def counters_for_history(agent: AgentView, snap: SpoolSnapshot | None) -> dict[str, float]:
    """What the per-minute history keeps: events and bytes per source and sink, and queue depth per sink."""
    values: dict[str, float] = {}
    for name, w in list(agent.workers.items()):
        values[f"sink:{name}:events"] = float(w.stats.events_sent)
        values[f"sink:{name}:bytes"] = float(w.stats.bytes_sent)
    if snap is not None:
        for name, depth in snap.depth.items():
            values[f"sink:{name}:queue"] = float(depth)
    by_input, _, _ = intake_counts(agent)
    for name, c in by_input.items():
        values[f"source:{name}:events"] = float(c.get("events", 0))
        values[f"source:{name}:bytes"] = float(c.get("bytes", 0))
    return values


def counters_for_rates(agent: AgentView) -> dict[str, float]:
    """The counters the sampler thread feeds to :class:`RateTracker`."""
    values: dict[str, float] = {}
    for name, w in list(agent.workers.items()):
        values[f"sink:{name}"] = float(w.stats.events_sent)
    stats = getattr(agent.intake, "stats", None)
    if stats is not None:
        with stats.lock:
            for name, c in stats.by_input.items():
                values[f"source:{name}"] = float(c.get("events", 0))
    return values


#: What each normalised type means (the vendors' own words vary; these do not).
TYPE_DESCRIPTIONS = {
    "finding.new": "A new finding (vulnerability, issue, CVE) was discovered.",
    "finding.updated": "A finding changed.",
    "finding.status_changed": "A finding's triage status changed (reviewed, ignored, false positive).",
    "finding.resolved": "A finding was fixed or closed.",
    "finding.reopened": "A resolved finding came back.",
    "finding.verified": "A finding was verified with a working proof of concept.",
    "finding.retested": "A retest of findings completed.",
    "scan.scheduled": "A scan was scheduled.",
    "scan.started": "A scan started.",
    "scan.running": "A scan is running.",
    "scan.completed": "A scan finished.",
    "scan.failed": "A scan failed.",
    "scan.cancelled": "A scan was cancelled.",
    "scan.long_running": "A scan has been running for unusually long.",
    "scan.updated": "A scan changed.",
    "asset.added": "An asset (domain, repository, host) was added.",
    "asset.changed": "An asset or the attack surface changed.",
    "asset.removed": "An asset was removed.",
    "report.ready": "A report was generated and can be downloaded.",
    "engagement.phase_changed": "A testing phase started or completed.",
    "engagement.completed": "An engagement finished.",
    "engagement.signed": "The client signed the authorisation.",
    "monitor.alert": "Continuous monitoring raised an alert.",
    "pr.blocked": "A pull request was blocked by findings.",
    "pr.merged_with_issues": "A pull request was merged with open findings.",
    "pr.patch_denied": "A proposed patch pull request was denied.",
    "audit.api_call": "An audit-log entry (API call) from the vendor.",
    "automation.triggered": "An inbound automation webhook fired.",
    "agent.test": "A test event sent by `siemrelay send-test` or the admin API.",
}


def event_types(agent: AgentView) -> list[dict[str, Any]]:
    """The normalised event types the decoders produce, what they mean, and their vendor origins.

    The normalisation table (``agent.sdk.normalize.TYPE_TABLE``: vendor → vendor type →
    normalised type) is imported lazily so the admin API works without it; decoder
    classes may also declare ``EVENT_TYPES`` (type → description).
    """
    found: dict[str, dict[str, Any]] = {}

    def add(type_name: str, description: str = "", vendor: str | None = None, vendor_type: str | None = None) -> None:
        entry = found.setdefault(type_name, {"type": type_name, "description": "", "vendor_types": {}})
        if description and not entry["description"]:
            entry["description"] = description
        if vendor is not None and vendor_type is not None:
            entry["vendor_types"].setdefault(vendor, []).append(vendor_type)

    try:
        import importlib

        table = getattr(importlib.import_module("agent.sdk.normalize"), "TYPE_TABLE", None)
        if isinstance(table, dict):
            for vendor, mapping in table.items():
                if isinstance(mapping, dict):
                    for vendor_type, type_name in mapping.items():
                        add(str(type_name), vendor=str(vendor), vendor_type=str(vendor_type))
    except Exception:
        pass  # not there, or broken: fall back to what the decoders declare
    registry = getattr(agent.plugins, "registry", None)
    if registry is not None:
        for ct in registry:
            if ct.kind != "decoder":
                continue
            try:
                declared = getattr(ct.load(), "EVENT_TYPES", None)  # imports a decoder registered by reference
            except RegistryError:
                continue  # it cannot be imported: `siemrelay plugins` says why
            if isinstance(declared, dict):
                for k, v in declared.items():
                    add(str(k), str(v or ""))
            elif isinstance(declared, (list, tuple, set, frozenset)):
                for k in declared:
                    add(str(k))
    add("agent.test")
    for entry in found.values():
        entry["description"] = entry["description"] or TYPE_DESCRIPTIONS.get(entry["type"], "")
        if not entry["description"]:
            origins = ", ".join(f"{v} {'/'.join(ts)}" for v, ts in sorted(entry["vendor_types"].items()))
            entry["description"] = f"Normalised from {origins}." if origins else ""
    return [found[k] for k in sorted(found)]
