"""``GET /metrics``: Prometheus text exposition through ``prometheus_client``.

A custom collector reads the live counters at scrape time (nothing is double
counted, nothing drifts from the API). Each server owns its own
``CollectorRegistry``: no process-global metric state.

The delivery-latency histogram is built from the spool's delivery history (one
row per attempt, written by the workers): new rows since the last scrape are
folded into cumulative buckets, so the histogram costs the delivery path nothing.

Every labelled family has a series for each configured source, sink and route from
the first scrape on, at 0 until something happens: ``rate()`` and alert rules never
meet a missing series. The standard ``process_*`` and ``python_*`` families come from
``prometheus_client``'s own collectors. Renamed families keep their old name for one
release (:data:`DEPRECATED`), documented in docs/operations.md.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, InfoMetricFamily
from prometheus_client.registry import Collector

from agent.delivery.worker import SinkWorker
from agent.version import __version__
from agent.admin.state import AgentView, SpoolSnapshot, intake_counts, route_names, spool_snapshot

__all__ = ["AgentCollector", "LatencyHistograms", "render_metrics", "register_runtime_collectors", "CONTENT_TYPE",
           "BUCKETS_S", "DEPRECATED"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
CIRCUIT_STATES = ("closed", "half_open", "open")

#: old family name → the name that replaces it; the old one is still exported, with the same value, until the next release
DEPRECATED = {
    "siemrelay_source_events_failed_total": "siemrelay_source_records_failed_total",
    "siemrelay_sink_events_failed_total": "siemrelay_sink_failed_attempts_total",
}


def register_runtime_collectors(registry: CollectorRegistry) -> None:
    """The standard ``process_*`` (CPU, memory, file descriptors, start time) and ``python_*``
    (``python_info``, garbage collector) families, as every Python exporter has them."""
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)


class LatencyHistograms:
    """Cumulative per-sink latency buckets fed from the ``deliveries`` table."""

    def __init__(self, buckets: tuple[float, ...] = BUCKETS_S) -> None:
        self.buckets = buckets
        self.last_id: int | None = None
        self.counts: dict[str, list[int]] = {}
        self.sums: dict[str, float] = {}
        self._lock = threading.Lock()

    def update(self, db: Path) -> None:
        """Fold delivery attempts recorded since the previous call into the buckets.

        The first call only notes where history ends, so attempts of earlier runs
        are not counted as this process's.
        """
        if not Path(db).exists():
            return
        with self._lock:
            conn = sqlite3.connect(str(db), timeout=5.0, isolation_level=None)
            try:
                if self.last_id is None:
                    self.last_id = int(conn.execute("SELECT coalesce(max(id), 0) FROM deliveries").fetchone()[0])
                    return
                rows = conn.execute("SELECT id, sink, latency_ms FROM deliveries WHERE id > ? ORDER BY id LIMIT 100000",
                                    (self.last_id,)).fetchall()
            except sqlite3.Error:
                return
            finally:
                conn.close()
            for rid, sink, ms in rows:
                self.last_id = rid
                secs = float(ms) / 1000.0
                counts = self.counts.setdefault(sink, [0] * (len(self.buckets) + 1))
                for i, bound in enumerate(self.buckets):
                    if secs <= bound:
                        counts[i] += 1
                counts[-1] += 1
                self.sums[sink] = self.sums.get(sink, 0.0) + secs

    def families(self, sinks: Iterable[str] = ()) -> HistogramMetricFamily:
        """The histogram, with an empty series for each of ``sinks`` that has no attempt yet."""
        fam = HistogramMetricFamily("siemrelay_sink_delivery_latency_seconds",
                                    "Time one delivery attempt (encode and send a batch) took, per sink.", labels=["sink"])
        with self._lock:
            for sink in sinks:
                self.counts.setdefault(sink, [0] * (len(self.buckets) + 1))
            for sink, counts in sorted(self.counts.items()):
                buckets = [(repr(b), counts[i]) for i, b in enumerate(self.buckets)] + [("+Inf", counts[-1])]
                fam.add_metric([sink], buckets, self.sums.get(sink, 0.0))
        return fam


class AgentCollector(Collector):
    """Reads a supervisor's state at each scrape."""

    def __init__(self, agent: AgentView, histograms: LatencyHistograms,
                 extra: Callable[[], dict[str, Any]] | None = None) -> None:
        """:param extra: returns ``reloads_ok``, ``reloads_failed``, ``last_reload_ok`` (bool),
            ``last_reload_at`` (epoch seconds) and ``tap_watchers``."""
        self.agent = agent
        self.histograms = histograms
        self.extra = extra

    def collect(self) -> Iterator[Any]:
        agent = self.agent
        snap = spool_snapshot(agent.spool.path)
        self.histograms.update(agent.spool.path)

        info = InfoMetricFamily("siemrelay_build", "siemrelay version.")
        info.add_metric([], {"version": __version__})
        yield info
        yield from self._sources(snap)
        yield from self._sinks(snap)
        yield from self._routes()
        spool = agent.spool
        yield GaugeMetricFamily("siemrelay_spool_pending_bytes", "Bytes of events not yet delivered to every sink.", value=spool.pending_bytes)
        yield GaugeMetricFamily("siemrelay_spool_max_bytes", "Spool quota (agent.spool.max_bytes).", value=spool.max_bytes)
        yield GaugeMetricFamily("siemrelay_spool_full", "1 while the spool is over quota and sources are pushed back.", value=1.0 if spool.is_full else 0.0)
        if self.extra is not None:
            yield from self._operations(self.extra())

    def _sources(self, snap: SpoolSnapshot) -> Iterator[Any]:
        agent = self.agent
        by_input, last, _ = intake_counts(agent)
        names = sorted(set(by_input) | set(agent.cfg.sources))
        counters = {
            "records": ("siemrelay_source_records_total", "Raw records received (lines, datagrams, HTTP bodies)."),
            "bytes": ("siemrelay_source_bytes_in_total", "Bytes of the raw records received and accepted, as they arrived."),
            "events": ("siemrelay_source_events_in_total", "Events decoded and spooled."),
            "decode_errors": ("siemrelay_source_records_failed_total",
                              "Records (not events) that could not be decoded; each went to dead letters."),
            "duplicates": ("siemrelay_source_duplicates_total", "Events skipped as duplicates within the de-duplication window."),
            "unrouted": ("siemrelay_source_unrouted_total", "Events that matched no route."),
            "refused_full": ("siemrelay_source_refused_total", "Records refused because the spool was full (backpressure)."),
        }
        for key, (metric, doc) in counters.items():
            fam = CounterMetricFamily(metric, doc, labels=["source"])
            for src in names:
                fam.add_metric([src], by_input.get(src, {}).get(key, 0))
            yield fam
            if metric == "siemrelay_source_records_failed_total":
                yield _deprecated_copy("siemrelay_source_events_failed_total", "source", names,
                                       [by_input.get(n, {}).get(key, 0) for n in names])
        seen = GaugeMetricFamily("siemrelay_source_last_event_timestamp_seconds",
                                 "When the source last received a record (Unix time; 0: nothing since the agent started).",
                                 labels=["source"])
        dec = GaugeMetricFamily("siemrelay_decode_dead_letters", "Undecodable records stored as dead letters, per source.", labels=["source"])
        for src in names:
            seen.add_metric([src], last.get(src, 0.0))
        for inp in sorted(set(names) | set(snap.dead_by_input)):
            dec.add_metric([inp], snap.dead_by_input.get(inp, 0))
        yield from (seen, dec)

    def _sinks(self, snap: SpoolSnapshot) -> Iterator[Any]:
        agent = self.agent
        workers = dict(agent.workers)
        names = sorted(set(workers) | set(agent.cfg.sinks))
        counters = {
            "events_sent": ("siemrelay_sink_events_out_total", "Events the sink acknowledged."),
            "bytes_sent": ("siemrelay_sink_bytes_out_total",
                           "Bytes of the events the sink acknowledged, as spooled (normalised event JSON, before the "
                           "sink's own encoding)."),
            "failures": ("siemrelay_sink_failed_attempts_total",
                         "Delivery attempts (one batch each, not events) that failed, retried or not."),
            "retries": ("siemrelay_sink_retries_total", "Delivery attempts scheduled again after a retryable failure."),
            "dead_lettered": ("siemrelay_sink_dead_lettered_total", "Events moved to dead letters (rejected or retries exhausted)."),
            "batches_sent": ("siemrelay_sink_batches_out_total", "Batches the sink acknowledged."),
        }
        for key, (metric, doc) in counters.items():
            fam = CounterMetricFamily(metric, doc, labels=["sink"])
            values = [getattr(workers[n].stats, key) if n in workers else 0 for n in names]
            for name, value in zip(names, values):
                fam.add_metric([name], value)
            yield fam
            if metric == "siemrelay_sink_failed_attempts_total":
                yield _deprecated_copy("siemrelay_sink_events_failed_total", "sink", names, values)
        success = GaugeMetricFamily("siemrelay_sink_last_success_timestamp_seconds",
                                    "When the sink last acknowledged a batch (Unix time; 0: not since the agent started).",
                                    labels=["sink"])
        depth = GaugeMetricFamily("siemrelay_sink_queue_depth", "Events waiting in the spool for this sink.", labels=["sink"])
        age = GaugeMetricFamily("siemrelay_sink_queue_oldest_age_seconds", "Age of the oldest event waiting for this sink (0 when empty).", labels=["sink"])
        dead = GaugeMetricFamily("siemrelay_dead_letters", "Dead letters stored, per sink.", labels=["sink"])
        circuit = GaugeMetricFamily("siemrelay_sink_circuit_state", "Circuit breaker state: 1 for the current state.", labels=["sink", "state"])
        up = GaugeMetricFamily("siemrelay_sink_up", "1 when the sink's worker runs and its circuit is not open.", labels=["sink"])
        for name in sorted(set(names) | set(snap.depth)):
            depth.add_metric([name], snap.depth.get(name, 0))
            age.add_metric([name], snap.oldest_age_s.get(name, 0.0))
            dead.add_metric([name], snap.dead_by_sink.get(name, 0))
        disabled = {n for n, (_, conf) in list(agent.cfg.sinks.items()) if not conf.get("enabled", True)}
        for name in names:
            w = workers.get(name)
            success.add_metric([name], w.stats.last_success if w is not None else 0.0)
            if name in disabled:
                continue  # switched off on purpose: no health series to alert on
            state = w.circuit.state if w is not None else "closed"
            for s in CIRCUIT_STATES:
                circuit.add_metric([name, s], 1.0 if state == s else 0.0)
            up.add_metric([name], 1.0 if w is not None and w.alive and state != "open" else 0.0)
        yield from (success, depth, age, dead, circuit, up)
        yield from _heads(workers, names)
        yield self.histograms.families(names)

    def _routes(self) -> Iterator[Any]:
        _, _, counts = intake_counts(self.agent)
        matched = CounterMetricFamily("siemrelay_route_matched_total",
                                      "Events the route matched (an event matching several routes counts for each).",
                                      labels=["route"])
        queued = CounterMetricFamily("siemrelay_route_queued_total",
                                     "Events the route queued for its sinks (matched minus those its transform dropped).",
                                     labels=["route"])
        for name in sorted({n for n, _ in route_names(self.agent)} | set(counts)):
            matched.add_metric([name], counts.get(name, {}).get("matched", 0))
            queued.add_metric([name], counts.get(name, {}).get("queued", 0))
        yield from (matched, queued)

    def _operations(self, ex: dict[str, Any]) -> Iterator[Any]:
        c = CounterMetricFamily("siemrelay_reloads_total", "Configuration reloads (SIGHUP), by result.", labels=["result"])
        c.add_metric(["ok"], ex.get("reloads_ok", 0))
        c.add_metric(["failed"], ex.get("reloads_failed", 0))
        yield c
        yield GaugeMetricFamily("siemrelay_config_last_reload_successful",
                                "1 when the last configuration load (start-up or reload) succeeded, 0 when it was refused.",
                                value=1.0 if ex.get("last_reload_ok", True) else 0.0)
        yield GaugeMetricFamily("siemrelay_config_last_reload_success_timestamp_seconds",
                                "When the configuration was last loaded successfully (Unix time).",
                                value=float(ex.get("last_reload_at", 0.0)))
        yield GaugeMetricFamily("siemrelay_tap_watchers", "Live `siemrelay tap` sessions.", value=ex.get("tap_watchers", 0))


def _heads(workers: Mapping[str, SinkWorker], names: list[str]) -> Iterator[CounterMetricFamily]:
    """How many events of each sink came with their head rendered ahead (agent.sdk.heads), and
    how many the sink rendered itself: where a sink's per-event work ran, for sinks that offer it."""
    ahead = CounterMetricFamily("siemrelay_sink_heads_rendered_ahead_total",
                                "Events whose message head the intake rendered before they were stored (often in the "
                                "preparing child); the sink only joined bytes.", labels=["sink"])
    here = CounterMetricFamily("siemrelay_sink_heads_rendered_by_sink_total",
                               "Events of a sink that can take heads rendered ahead whose head it rendered itself "
                               "(none was rendered: the child had no time to spare, a restart, a backlog, a retry).",
                               labels=["sink"])
    for name in names:
        w = workers.get(name)
        memo = w.sink.rendered_heads if w is not None else None
        ahead.add_metric([name], memo.used if memo is not None else 0)
        here.add_metric([name], memo.missed if memo is not None else 0)
    yield from (ahead, here)


def _deprecated_copy(old: str, label: str, names: list[str], values: list[int]) -> CounterMetricFamily:
    """A counter under its old name, for one release (its help text names the new one)."""
    copy = CounterMetricFamily(old, f"Deprecated: renamed {DEPRECATED[old]}; this name goes in the next release.",
                               labels=[label])
    for name, value in zip(names, values):
        copy.add_metric([name], value)
    return copy


def render_metrics(registry: CollectorRegistry) -> bytes:
    """The exposition text for ``registry``."""
    return generate_latest(registry)
