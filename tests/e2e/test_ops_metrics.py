"""``/metrics`` of a running agent, scraped over HTTP and read with prometheus_client's own parser.

Every labelled family has a series per configured source, sink and route from the
first scrape (at 0), the new byte counters and timestamps move with real traffic
through a real peer, the renamed failure counters keep their old names, the standard
``process_*``/``python_*`` families are there, and a refused reload shows in
``siemrelay_config_last_reload_successful``.
"""

from __future__ import annotations

import signal
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import pick_port, wait_for, wait_for_port
from tests.unit.agent.admin_support import Receiver

pytestmark = pytest.mark.e2e

READ = "metrics-read-token-123456"

#: every family whose series are labelled per source, sink or route, and the label
PER_SOURCE = ["siemrelay_source_records_total", "siemrelay_source_bytes_in_total", "siemrelay_source_events_in_total",
              "siemrelay_source_records_failed_total", "siemrelay_source_events_failed_total",
              "siemrelay_source_duplicates_total", "siemrelay_source_unrouted_total", "siemrelay_source_refused_total",
              "siemrelay_source_last_event_timestamp_seconds", "siemrelay_decode_dead_letters"]
PER_SINK = ["siemrelay_sink_events_out_total", "siemrelay_sink_bytes_out_total", "siemrelay_sink_failed_attempts_total",
            "siemrelay_sink_events_failed_total", "siemrelay_sink_retries_total", "siemrelay_sink_dead_lettered_total",
            "siemrelay_sink_batches_out_total", "siemrelay_sink_last_success_timestamp_seconds", "siemrelay_sink_queue_depth",
            "siemrelay_sink_queue_oldest_age_seconds", "siemrelay_dead_letters", "siemrelay_sink_up"]
PER_ROUTE = ["siemrelay_route_matched_total", "siemrelay_route_queued_total"]


def scrape(port: int) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """``{sample name: {sorted labels: value}}`` as Prometheus would store it."""
    r = requests.get(f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {READ}"}, timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def value(metrics: dict[str, Any], name: str, **labels: str) -> float:
    return float(metrics[name][tuple(sorted(labels.items()))])


def test_metrics_of_a_running_agent(tmp_path: Path, agent_process: Any) -> None:
    receiver = Receiver(200)
    admin_port, hook_port, scan_port = pick_port(), pick_port(), pick_port()
    config = tmp_path / "siemrelay.yaml"
    body = textwrap.dedent(f"""\
        agent:
          state_dir: {tmp_path}/state
          admin: {{enabled: true, address: "127.0.0.1:{admin_port}", read_token: "{READ}"}}
        sources:
          hooks: {{type: http, address: "127.0.0.1:{hook_port}", paths: {{/events: {{decoder: json}}}}}}
          scanner: {{type: http, address: "127.0.0.1:{scan_port}", paths: {{/events: {{decoder: json}}}}}}
        sinks:
          archive: {{type: file, path: {tmp_path}/out.jsonl}}
          siem: {{type: webhook, url: "http://127.0.0.1:{receiver.port}/siem", batch: {{max_wait_s: 0}}}}
          old: {{type: file, path: {tmp_path}/old.jsonl, enabled: false}}
        routes:
          - {{name: critical-to-siem, when: {{severity: ">= critical"}}, to: [siem], continue: true}}
          - {{name: everything, to: [archive]}}
        """)
    config.write_text(body)
    try:
        started = time.time()
        agent = agent_process(config)
        for port in (admin_port, hook_port, scan_port):
            wait_for_port(port, timeout=30)

        first = scrape(admin_port)
        for name in PER_SOURCE:
            assert {dict(k)["source"] for k in first[name]} >= {"hooks", "scanner"}, name
            assert value(first, name, source="scanner") == 0, name
        for name in PER_SINK:
            # a sink switched off on purpose has its counters, but no health series to alert on
            want = {"archive", "siem"} if name == "siemrelay_sink_up" else {"archive", "siem", "old"}
            assert {dict(k)["sink"] for k in first[name]} == want, name
        for name in ("siemrelay_sink_events_out_total", "siemrelay_sink_bytes_out_total",
                     "siemrelay_sink_last_success_timestamp_seconds", "siemrelay_sink_queue_depth"):
            assert value(first, name, sink="siem") == 0, name
        for name in PER_ROUTE:
            assert {dict(k)["route"] for k in first[name]} == {"critical-to-siem", "everything"}, name
            assert all(v == 0 for v in first[name].values()), name
        assert {dict(k)["sink"] for k in first["siemrelay_sink_delivery_latency_seconds_count"]} == {"archive", "siem", "old"}
        assert value(first, "siemrelay_config_last_reload_successful") == 1
        assert value(first, "siemrelay_config_last_reload_success_timestamp_seconds") >= started
        for name in ("process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds",
                     "process_start_time_seconds", "python_gc_collections_total"):
            assert name in first, name
        assert any(dict(k).get("implementation") == "CPython" for k in first["python_info"])

        events = [{"id": "m-1", "title": "low", "severity": "low"}, {"id": "m-2", "title": "crit", "severity": "critical"}]
        sent_bytes = 0
        for ev in events:
            r = requests.post(f"http://127.0.0.1:{hook_port}/events", json=ev, timeout=10)
            assert r.status_code == 200
            sent_bytes += len(r.request.body or b"")
        wait_for(lambda: value(scrape(admin_port), "siemrelay_sink_events_out_total", sink="archive") == 2
                 and value(scrape(admin_port), "siemrelay_sink_events_out_total", sink="siem") == 1,
                 20, what="both events delivered")
        after = scrape(admin_port)
        assert value(after, "siemrelay_source_bytes_in_total", source="hooks") == sent_bytes
        assert value(after, "siemrelay_source_bytes_in_total", source="scanner") == 0
        assert value(after, "siemrelay_source_last_event_timestamp_seconds", source="hooks") >= started
        assert value(after, "siemrelay_source_last_event_timestamp_seconds", source="scanner") == 0
        archived = (tmp_path / "out.jsonl").read_bytes()
        assert value(after, "siemrelay_sink_bytes_out_total", sink="archive") > 0
        assert value(after, "siemrelay_sink_bytes_out_total", sink="siem") > 0
        assert value(after, "siemrelay_sink_bytes_out_total", sink="archive") <= len(archived) + 2 * 64
        assert value(after, "siemrelay_sink_last_success_timestamp_seconds", sink="siem") >= started
        assert value(after, "siemrelay_route_matched_total", route="critical-to-siem") == 1
        assert value(after, "siemrelay_route_matched_total", route="everything") == 2
        assert value(after, "siemrelay_route_queued_total", route="everything") == 2

        # a bad reload is refused: the old configuration keeps running, and the metric says so
        config.write_text(body.replace("type: file", "type: no-such-sink-type"))
        agent.send_signal(signal.SIGHUP)
        wait_for(lambda: value(scrape(admin_port), "siemrelay_config_last_reload_successful") == 0, 20,
                 what="the refused reload to show")
        refused = scrape(admin_port)
        assert value(refused, "siemrelay_reloads_total", result="failed") == 1
        assert value(refused, "siemrelay_config_last_reload_success_timestamp_seconds") == value(
            first, "siemrelay_config_last_reload_success_timestamp_seconds")
        assert agent.stop() == 0
    finally:
        receiver.close()
