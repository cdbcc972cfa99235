"""``GET /metrics``: Prometheus text exposition through ``prometheus_client``.

A custom collector reads the live counters at scrape time (nothing is double
counted, nothing drifts from the API). Each server owns its own
``CollectorRegistry``: no process-global metric state.

The delivery-latency histogram is built from the spool's delivery history (one
row per attempt, written by the workers): new rows since the last scrape are
folded into cumulative buckets, so the histogram costs the delivery path nothing.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, InfoMetricFamily
from prometheus_client.registry import Collector

from agent.version import __version__
from agent.admin.state import AgentView, spool_snapshot

__all__ = ["AgentCollector", "LatencyHistograms", "render_metrics", "CONTENT_TYPE", "BUCKETS_S"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
CIRCUIT_STATES = ("closed", "half_open", "open")


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

    def families(self) -> HistogramMetricFamily:
        fam = HistogramMetricFamily("siemrelay_sink_delivery_latency_seconds",
                                    "Time one delivery attempt (encode and send a batch) took, per sink.", labels=["sink"])
        with self._lock:
            for sink, counts in sorted(self.counts.items()):
                buckets = [(repr(b), counts[i]) for i, b in enumerate(self.buckets)] + [("+Inf", counts[-1])]
                fam.add_metric([sink], buckets, self.sums.get(sink, 0.0))
        return fam


class AgentCollector(Collector):
    """Reads a supervisor's state at each scrape."""

    def __init__(self, agent: AgentView, histograms: LatencyHistograms,
                 extra: Callable[[], dict[str, Any]] | None = None) -> None:
        self.agent = agent
        self.histograms = histograms
        self.extra = extra  # callable returning {"reloads_ok": n, "reloads_failed": n, "tap_watchers": n}

    def collect(self) -> Iterator[Any]:
        agent = self.agent
        spool = agent.spool
        snap = spool_snapshot(spool.path)
        self.histograms.update(spool.path)

        info = InfoMetricFamily("siemrelay_build", "siemrelay version.")
        info.add_metric([], {"version": __version__})
        yield info

        stats = getattr(agent.intake, "stats", None)
        by_input: dict[str, dict[str, int]] = {}
        if stats is not None:
            with stats.lock:
                by_input = {k: dict(v) for k, v in stats.by_input.items()}
        names = {"records": ("siemrelay_source_records_total", "Raw records received (lines, datagrams, HTTP bodies)."),
                 "events": ("siemrelay_source_events_in_total", "Events decoded and spooled."),
                 "decode_errors": ("siemrelay_source_events_failed_total", "Records that could not be decoded (sent to dead letters)."),
                 "duplicates": ("siemrelay_source_duplicates_total", "Events skipped as duplicates within the de-duplication window."),
                 "unrouted": ("siemrelay_source_unrouted_total", "Events that matched no route."),
                 "refused_full": ("siemrelay_source_refused_total", "Records refused because the spool was full (backpressure).")}
        for key, (metric, doc) in names.items():
            fam = CounterMetricFamily(metric, doc, labels=["source"])
            for src in sorted(set(by_input) | set(agent.cfg.sources)):
                fam.add_metric([src], by_input.get(src, {}).get(key, 0))
            yield fam

        workers = dict(agent.workers)
        sink_counters = {"events_sent": ("siemrelay_sink_events_out_total", "Events the sink acknowledged."),
                         "failures": ("siemrelay_sink_events_failed_total", "Failed delivery attempts (batches)."),
                         "retries": ("siemrelay_sink_retries_total", "Delivery attempts scheduled again after a retryable failure."),
                         "dead_lettered": ("siemrelay_sink_dead_lettered_total", "Events moved to dead letters (rejected or retries exhausted)."),
                         "batches_sent": ("siemrelay_sink_batches_out_total", "Batches the sink acknowledged.")}
        for key, (metric, doc) in sink_counters.items():
            fam = CounterMetricFamily(metric, doc, labels=["sink"])
            for name, w in sorted(workers.items()):
                fam.add_metric([name], getattr(w.stats, key))
            yield fam

        depth = GaugeMetricFamily("siemrelay_sink_queue_depth", "Events waiting in the spool for this sink.", labels=["sink"])
        age = GaugeMetricFamily("siemrelay_sink_queue_oldest_age_seconds", "Age of the oldest event waiting for this sink (0 when empty).", labels=["sink"])
        dead = GaugeMetricFamily("siemrelay_dead_letters", "Dead letters stored, per sink.", labels=["sink"])
        circuit = GaugeMetricFamily("siemrelay_sink_circuit_state", "Circuit breaker state: 1 for the current state.", labels=["sink", "state"])
        up = GaugeMetricFamily("siemrelay_sink_up", "1 when the sink's worker runs and its circuit is not open.", labels=["sink"])
        for name in sorted(set(workers) | set(snap.depth)):
            depth.add_metric([name], snap.depth.get(name, 0))
            age.add_metric([name], snap.oldest_age_s.get(name, 0.0))
            dead.add_metric([name], snap.dead_by_sink.get(name, 0))
        for name, w in sorted(workers.items()):
            state = w.circuit.state
            for s in CIRCUIT_STATES:
                circuit.add_metric([name, s], 1.0 if state == s else 0.0)
            up.add_metric([name], 1.0 if w.alive and state != "open" else 0.0)
        yield from (depth, age, dead, circuit, up)

        dec = GaugeMetricFamily("siemrelay_decode_dead_letters", "Undecodable records stored as dead letters, per source.", labels=["source"])
        for inp, n in sorted(snap.dead_by_input.items()):
            dec.add_metric([inp], n)
        yield dec

        yield GaugeMetricFamily("siemrelay_spool_pending_bytes", "Bytes of events not yet delivered to every sink.", value=spool.pending_bytes)
        yield GaugeMetricFamily("siemrelay_spool_max_bytes", "Spool quota (agent.spool.max_bytes).", value=spool.max_bytes)
        yield GaugeMetricFamily("siemrelay_spool_full", "1 while the spool is over quota and sources are pushed back.", value=1.0 if spool.is_full else 0.0)
        yield self.histograms.families()
        if self.extra is not None:
            ex = self.extra()
            c = CounterMetricFamily("siemrelay_reloads_total", "Configuration reloads (SIGHUP), by result.", labels=["result"])
            c.add_metric(["ok"], ex.get("reloads_ok", 0))
            c.add_metric(["failed"], ex.get("reloads_failed", 0))
            yield c
            yield GaugeMetricFamily("siemrelay_tap_watchers", "Live `siemrelay tap` sessions.", value=ex.get("tap_watchers", 0))


def render_metrics(registry: CollectorRegistry) -> bytes:
    """The exposition text for ``registry``."""
    return generate_latest(registry)
