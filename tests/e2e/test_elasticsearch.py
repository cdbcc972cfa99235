"""``elasticsearch`` sink through the real worker (the agent as a subprocess) against a
strict ``_bulk`` receiver (tests/peers/bulk_receiver.py): whole-request 429/503 are
retried with backoff and Retry-After; items answered 429 are retried and indexed once;
a mapping conflict dead-letters that event alone with Elasticsearch's error; every
other event is indexed exactly once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
import requests

from agent.testing import make_event, spooled
from plugins.out_elasticsearch.sink import ElasticsearchSink
from tests.conftest import pick_port, run_cli, wait_for, wait_for_port
from tests.peers.bulk_receiver import BulkReceiver
from tests.peers.sink_factory import make_sink

pytestmark = pytest.mark.e2e
KEY = "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="


def config(tmp_path: Path, port: int, url: str) -> Path:
    path = tmp_path / "siemrelay.yaml"
    path.write_text(f"""
agent:
  state_dir: {tmp_path}/state
  shutdown_timeout_s: 3
  spool: {{sync: normal}}
sources:
  web: {{type: http, address: "127.0.0.1:{port}"}}
sinks:
  es:
    type: elasticsearch
    url: "{url}"
    api_key: "{KEY}"
    index: "logs-siemrelay-{{{{ source }}}}"
    schema: native
    batch: {{max_events: 50, max_wait_s: 0.1}}
    retry: {{jitter: none, initial_backoff_s: 0.1, multiplier: 2, max_backoff_s: 0.4, timeout_s: 2}}
    circuit_breaker: {{failure_threshold: 50, cooldown_s: 1}}
routes:
  - {{name: all, to: [es]}}
""")
    return path


def native(i: int, **fields: Any) -> dict[str, Any]:
    return {"id": f"ev-{i}", "time": "2025-01-15T14:30:00Z", "received_at": "2025-01-15T14:30:00Z", "source": "zeropath",
            "type": "finding.new", "severity": "high", "severity_id": 4, "title": f"finding {i}",
            "finding": {"cvss": 7.5}, **fields}


def test_retry_classes_and_per_item_results_through_the_worker(tmp_path: Path, agent_process: Any) -> None:
    with BulkReceiver(KEY) as es:
        es.fail_next(503, retry_after="1")
        es.fail_next(429)
        es.throttle(2)  # the first two items of the first accepted request
        port = pick_port()
        cfg = config(tmp_path, port, es.url)
        agent = agent_process(cfg)
        wait_for_port(port)
        events = [native(i) for i in range(6)]
        events[3]["finding"] = {"cvss": "high"}  # a string where the mapping has a number
        assert requests.post(f"http://127.0.0.1:{port}/events", data=orjson.dumps(events),
                             headers={"Content-Type": "application/json"}, timeout=10).status_code == 200
        wait_for(lambda: len(es.docs) == 5, 30, what="five documents indexed")
        res = wait_for(lambda: orjson.loads(run_cli("dlq", "-c", str(cfg), "list", "--json").stdout), 20,
                       what="the conflicting event in dead letters")
        assert [(d["sink"], d["event_id"]) for d in res] == [("es", "ev-3")]
        assert "mapper_parsing_exception" in res[0]["reason"] and "finding.cvss" in res[0]["reason"]
        assert sorted(ident for _, ident in es.docs) == ["ev-0", "ev-1", "ev-2", "ev-4", "ev-5"]
        assert {index for index, _ in es.docs} == {"logs-siemrelay-zeropath"}
        assert all(doc["@timestamp"] == "2025-01-15T14:30:00Z" for doc in es.docs.values())
        times = [r["time"] for r in es.requests]
        assert times[1] - times[0] >= 0.9  # Retry-After: 1 of the 503
        assert es.requests[0]["headers"]["content-encoding"] == "gzip"
        assert agent.stop() == 0


def test_bad_api_key_opens_the_circuit_and_keeps_the_events() -> None:
    with BulkReceiver(KEY) as es:
        sink = make_sink(ElasticsearchSink, {"url": es.url, "api_key": "wrong"})
        try:
            outcome = sink.send(spooled([make_event()]))
        finally:
            sink.close()
    assert not outcome.ok and outcome.code == 401 and outcome.open_circuit and "wrong" not in outcome.reason
    assert es.docs == {}


def test_send_test_indexes_one_document(tmp_path: Path, agent_process: Any) -> None:
    with BulkReceiver(KEY) as es:
        port, admin = pick_port(), pick_port()
        cfg = config(tmp_path, port, es.url)
        cfg.write_text(cfg.read_text().replace("  spool: {sync: normal}",
                                               f'  spool: {{sync: normal}}\n  admin: {{enabled: true, address: "127.0.0.1:{admin}"}}'))
        agent = agent_process(cfg)
        wait_for_port(admin)
        res = run_cli("send-test", "es", "-c", str(cfg))
        assert res.returncode == 0 and res.stdout.startswith("√ sink es: ok"), res.stdout + res.stderr
        [(index, ident)] = list(es.docs)
        assert ident in res.stdout and index.startswith("logs-siemrelay-")
        assert agent.stop() == 0


def test_default_schema_is_ecs_and_is_indexed() -> None:
    with BulkReceiver(KEY) as es:
        sink = make_sink(ElasticsearchSink, {"url": es.url, "api_key": KEY})
        try:
            outcome = sink.send(spooled([make_event(), make_event()]))
        finally:
            sink.close()
    assert outcome.ok, outcome.reason
    assert len(es.docs) == 2
    for doc in es.docs.values():
        assert doc["@timestamp"].startswith("2025-01-15T14:30:00") and "event" in doc and "id" not in doc
