"""OpenTelemetry logs end to end: the agent as a subprocess, loopback only.

- ``otlp`` sink through the real worker against a scripted OTLP/HTTP receiver, every
  retry class of the OTLP specification (429/502/503/504 with Retry-After, a closed
  connection, a stall), the refusals that must not be retried (400, 500), and partial
  success; bodies read back with the official ``opentelemetry-proto`` messages.
- ``otlp`` source fed by the official OpenTelemetry Python SDK's OTLP/HTTP exporter,
  and by hand-built OTLP/JSON requests (bad bodies, undecodable records, auth).
- Both together: agent A's ``otlp`` sink into agent B's ``otlp`` source gives back the
  events A received.
"""

from __future__ import annotations

import gzip
import logging
from pathlib import Path
from typing import Any

import orjson
import pytest
import requests
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (ExportLogsServiceRequest,
                                                                    ExportLogsServiceResponse)

from agent.sdk.otlp import attributes_dict
from tests.conftest import json_lines, pick_port, run_cli, wait_for, wait_for_port
from tests.peers.http_capture import Captured, HttpCapture

pytestmark = pytest.mark.e2e


def relay_config(tmp_path: Path, port: int, url: str, extra: str = "", to: str = "otel") -> Path:
    path = tmp_path / "relay.yaml"
    path.write_text(f"""
agent:
  state_dir: {tmp_path}/relay-state
  shutdown_timeout_s: 3
  spool: {{sync: normal}}
sources:
  web: {{type: http, address: "127.0.0.1:{port}"}}
sinks:
  otel:
    type: otlp
    url: "{url}"
    service_name: relay-a
    batch: {{max_events: 50, max_wait_s: 0.05}}
    retry: {{jitter: none, initial_backoff_s: 0.1, multiplier: 2, max_backoff_s: 0.4, timeout_s: 1}}
    circuit_breaker: {{failure_threshold: 50, cooldown_s: 1}}
{extra}
routes:
  - {{name: all, to: [{to}]}}
""")
    return path


def receiver_config(tmp_path: Path, port: int, extra: str = "") -> Path:
    path = tmp_path / "receiver.yaml"
    path.write_text(f"""
agent:
  state_dir: {tmp_path}/receiver-state
  shutdown_timeout_s: 3
  spool: {{sync: normal}}
sources:
  otel: {{type: otlp, address: "127.0.0.1:{port}"{extra}}}
sinks:
  out: {{type: file, path: "{tmp_path}/out.jsonl", batch: {{max_wait_s: 0.05}}}}
routes:
  - {{name: all, to: [out]}}
""")
    return path


def native(i: int, **fields: Any) -> dict[str, Any]:
    return {"id": f"ev-{i}", "time": "2025-01-15T14:30:00.123Z", "received_at": "2025-01-15T14:30:01Z",
            "source": "zeropath", "type": "finding.new", "vendor_type": "NEW_FINDING", "severity": "high",
            "title": f"finding {i}", "description": "SQL injection", "asset": {"host": "web1", "ip": "192.0.2.7"},
            "finding": {"cwe": "CWE-89", "cvss": 8.1}, "tags": ["pci", "prod"], "raw": {"n": i}, **fields}


def post(port: int, events: list[dict[str, Any]]) -> None:
    assert requests.post(f"http://127.0.0.1:{port}/events", data=orjson.dumps(events),
                         headers={"Content-Type": "application/json"}, timeout=10).status_code == 200


def exported(req: Captured) -> ExportLogsServiceRequest:
    assert req.path == "/v1/logs" and req.headers["Content-Type"] == "application/x-protobuf"
    assert req.headers["Content-Encoding"] == "gzip"
    message = ExportLogsServiceRequest()
    message.ParseFromString(gzip.decompress(req.body))
    return message


def delivered_ids(rx: HttpCapture) -> list[str]:
    out = []
    for req in rx.requests:
        if req.status == 200:
            for rl in exported(req).resource_logs:
                for sl in rl.scope_logs:
                    out += [attributes_dict(r.attributes)["siemrelay.id"] for r in sl.log_records]
    return out


def partial_success(rejected: int, message: str) -> bytes:
    answer = ExportLogsServiceResponse()
    answer.partial_success.rejected_log_records = rejected
    answer.partial_success.error_message = message
    return answer.SerializeToString()


def dead_letters(cfg: Path) -> list[dict[str, Any]]:
    res = run_cli("dlq", "-c", str(cfg), "list", "--json")
    assert res.returncode == 0, res.stderr
    return list(orjson.loads(res.stdout))


def test_every_retry_class_then_delivered_once_in_order(tmp_path: Path, agent_process: Any) -> None:
    script = [(503, {"Retry-After": "1"}), (429, {"Retry-After": "0"}), 502, 504, "close", ("hang", 5), 200]
    with HttpCapture(script) as rx:
        port = pick_port()
        agent = agent_process(relay_config(tmp_path, port, rx.url + "/v1/logs"))
        wait_for_port(port)
        post(port, [native(i) for i in range(5)])
        wait_for(lambda: delivered_ids(rx), 30, what="delivery after the retries")
        assert [r.status for r in rx.requests] == [503, 429, 502, 504, None, None, 200]
        assert rx.requests[1].time - rx.requests[0].time >= 0.9  # the 503's Retry-After: 1 was honoured
        assert delivered_ids(rx) == [f"ev-{i}" for i in range(5)]
        bodies = {r.body for r in rx.requests}
        assert len(bodies) == 1  # the same batch, byte for byte, on every attempt
        records = exported(rx.requests[-1]).resource_logs[0].scope_logs[0].log_records
        assert records[0].body.string_value == "finding 0" and records[0].severity_number == 17
        assert records[0].time_unix_nano == 1736951400123000000
        assert agent.stop() == 0


@pytest.mark.parametrize("status", [400, 500])
def test_refusals_otlp_forbids_retrying_go_to_dead_letters(tmp_path: Path, agent_process: Any, status: int) -> None:
    with HttpCapture([status]) as rx:
        port = pick_port()
        cfg = relay_config(tmp_path, port, rx.url + "/v1/logs")
        agent_process(cfg)
        wait_for_port(port)
        post(port, [native(1)])
        rows = wait_for(lambda: dead_letters(cfg), 20, what="a dead letter")
        assert [(d["sink"], d["event_id"]) for d in rows] == [("otel", "ev-1")]
        assert f"HTTP {status}" in rows[0]["reason"] + rows[0].get("last_error", "")
        assert len(rx.requests) == 1  # never retried


def test_partial_success_is_acknowledged_and_logged(tmp_path: Path, agent_process: Any) -> None:
    answer = (200, {"Content-Type": "application/x-protobuf"}, partial_success(1, "attribute too long"))
    with HttpCapture([answer]) as rx:
        port = pick_port()
        cfg = relay_config(tmp_path, port, rx.url + "/v1/logs")
        agent = agent_process(cfg)
        wait_for_port(port)
        post(port, [native(1), native(2)])
        wait_for(lambda: "rejected 1" in agent.log, 20, what="the partial-success warning")
        assert "attribute too long" in agent.log and len(rx.requests) == 1
        assert dead_letters(cfg) == []
        assert agent.stop() == 0


def file_events(tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "out.jsonl"
    return json_lines(path)


def at_least(items: list[Any], n: int) -> list[Any] | None:
    return items if len(items) >= n else None


def test_official_sdk_exporter_into_the_otlp_source(tmp_path: Path, agent_process: Any) -> None:
    from opentelemetry._logs import SeverityNumber
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
    from opentelemetry.sdk.resources import Resource

    port = pick_port()
    agent = agent_process(receiver_config(tmp_path, port))
    wait_for_port(port)
    provider = LoggerProvider(resource=Resource.create({"service.name": "checkout", "host.name": "app-7"}))
    provider.add_log_record_processor(SimpleLogRecordProcessor(
        OTLPLogExporter(endpoint=f"http://127.0.0.1:{port}/v1/logs", compression=Compression.Gzip, timeout=10)))
    try:
        logger = provider.get_logger("otlp-e2e")
        logger.emit(body="payment failed for order 17\ntraceback here", severity_number=SeverityNumber.ERROR,
                    severity_text="ERROR", attributes={"order.id": 17}, event_name="payment.failed")
        logger.emit(body="user logged in", severity_number=SeverityNumber.INFO, timestamp=1736951400000000000)
        assert provider.force_flush()
    finally:
        provider.shutdown()
    events = wait_for(lambda: at_least(file_events(tmp_path), 2), 20, what="two events in the file")
    first, second = events
    assert (first["title"], first["severity"], first["source"], first["type"]) == \
        ("payment failed for order 17", "high", "otlp", "log")
    assert first["description"] == "payment failed for order 17\ntraceback here"
    assert first["asset"] == {"host": "app-7", "name": "checkout"}
    assert first["raw"]["attributes"]["order.id"] == 17 and first["origin"]["input"] == "otel"
    assert first["vendor_type"] == "payment.failed"
    assert (second["title"], second["severity"], second["time"]) == ("user logged in", "info", "2025-01-15T14:30:00Z")
    assert agent.stop() == 0


def test_source_answers_as_otlp_says(tmp_path: Path, agent_process: Any) -> None:
    port = pick_port()
    cfg = receiver_config(tmp_path, port, extra=", bearer: s3cret-token")
    agent = agent_process(cfg)
    wait_for_port(port)
    url = f"http://127.0.0.1:{port}/v1/logs"
    auth = {"Authorization": "Bearer s3cret-token", "Content-Type": "application/json"}
    good = {"body": {"stringValue": "disk full"}, "severityNumber": 13, "timeUnixNano": "1736951400000000000"}
    bad = {"body": {"kvlistValue": {"values": [{"key": k, "value": {"stringValue": v}} for k, v in
                                               (("id", "x"), ("time", "yesterday"), ("source", "s"), ("type", "t"))]}}}
    body = {"resourceLogs": [{"scopeLogs": [{"logRecords": [good, bad]}]}]}

    assert requests.post(url, json=body, timeout=10).status_code == 401
    wrong = requests.post(url, data=b"{not json", headers=auth, timeout=10)
    assert wrong.status_code == 400 and "ExportLogsServiceRequest" in wrong.json()["message"]
    assert requests.post(url, data=b"x", headers={**auth, "Content-Type": "text/plain"}, timeout=10).status_code == 415
    bomb = requests.post(url, data=gzip.compress(b"\0" * (11 << 20)), headers={**auth, "Content-Encoding": "gzip"},
                         timeout=10)
    assert bomb.status_code == 400 and "exceeds max_body_bytes" in bomb.json()["message"]
    cut = requests.post(url, data=gzip.compress(orjson.dumps(body))[:-12], headers={**auth, "Content-Encoding": "gzip"},
                        timeout=10)
    assert cut.status_code == 400 and "truncated gzip" in cut.json()["message"]
    ok = requests.post(url, data=orjson.dumps(body), headers=auth, timeout=10)
    assert ok.status_code == 200 and ok.headers["Content-Type"] == "application/json"
    assert ok.json()["partialSuccess"]["rejectedLogRecords"] == "1"  # int64 is a string in OTLP/JSON
    events = wait_for(lambda: file_events(tmp_path), 20, what="the good record")
    assert [(e["title"], e["severity"], e["time"]) for e in events] == [("disk full", "medium", "2025-01-15T14:30:00Z")]
    rows = dead_letters(cfg)
    assert len(rows) == 1 and "yesterday" in run_cli("dlq", "-c", str(cfg), "show", str(rows[0]["id"])).stdout
    assert "Traceback" not in agent.log
    assert agent.stop() == 0


def test_otlp_sink_into_otlp_source_gives_back_the_events(tmp_path: Path, agent_process: Any) -> None:
    """Agent A sends to agent B over OTLP and keeps a file copy: B's events are A's, field for field."""
    b_port, a_port = pick_port(), pick_port()
    agent_process(receiver_config(tmp_path, b_port))
    wait_for_port(b_port)
    archive = f'  archive: {{type: file, path: "{tmp_path}/a.jsonl", batch: {{max_wait_s: 0.05}}}}'
    a_cfg = relay_config(tmp_path, a_port, f"http://127.0.0.1:{b_port}/v1/logs", extra=archive, to="otel, archive")
    a_cfg.write_text(a_cfg.read_text().replace("service_name: relay-a", "service_name: relay-a\n    include_raw: true"))
    agent_process(a_cfg)
    wait_for_port(a_port)
    sent = [native(i, severity_id=4) for i in range(3)] + [native(3, severity="low", severity_id=2, tags=[], finding=None),
                                                           native(4, title="no native form: mapped by the json decoder")]
    post(a_port, sent)
    got = wait_for(lambda: at_least(file_events(tmp_path), 5), 20, what="five events at agent B")
    kept = [orjson.loads(line) for line in (tmp_path / "a.jsonl").read_bytes().splitlines()]
    assert [e["id"] for e in kept] == [f"ev-{i}" for i in range(5)]
    assert [{k: v for k, v in e.items() if k != "origin"} for e in got] == \
        [{k: v for k, v in e.items() if k != "origin"} for e in kept]
    assert kept[0]["vendor_type"] == "NEW_FINDING" and kept[4]["raw"]["title"].startswith("no native")


def test_send_test_goes_through_the_otlp_sink(tmp_path: Path, agent_process: Any) -> None:
    with HttpCapture() as rx:
        port, admin = pick_port(), pick_port()
        cfg = relay_config(tmp_path, port, rx.url + "/v1/logs")
        cfg.write_text(cfg.read_text().replace("  spool: {sync: normal}",
                                               f'  spool: {{sync: normal}}\n  admin: {{enabled: true, address: "127.0.0.1:{admin}"}}'))
        agent = agent_process(cfg)
        wait_for_port(admin)
        res = run_cli("send-test", "otel", "-c", str(cfg))
        assert res.returncode == 0 and res.stdout.startswith("√ sink otel: ok"), res.stdout + res.stderr
        [record] = exported(rx.requests[-1]).resource_logs[0].scope_logs[0].log_records
        assert attributes_dict(record.attributes)["siemrelay.id"] in res.stdout
        assert agent.stop() == 0


def test_full_spool_answers_503_and_nothing_accepted_is_lost(tmp_path: Path, agent_process: Any) -> None:
    """The only sink is down: once the spool is at its quota the source answers 503 with
    Retry-After (nothing taken); every record it answered 200 for is delivered later."""
    with HttpCapture(default=503) as rx:
        port = pick_port()
        cfg = receiver_config(tmp_path, port)
        text = cfg.read_text().replace("spool: {sync: normal}", "spool: {sync: normal, max_bytes: 65536, resume_ratio: 0.5}")
        text = text.replace(f'out: {{type: file, path: "{tmp_path}/out.jsonl", batch: {{max_wait_s: 0.05}}}}',
                            f'out: {{type: otlp, url: "{rx.url}/v1/logs", batch: {{max_wait_s: 0.05}}, '
                            "retry: {jitter: none, initial_backoff_s: 0.2, max_backoff_s: 0.2}, "
                            "circuit_breaker: {failure_threshold: 2, cooldown_s: 0.5}}")
        cfg.write_text(text)
        agent = agent_process(cfg)
        wait_for_port(port)
        url = f"http://127.0.0.1:{port}/v1/logs"
        accepted: list[str] = []
        answers: list[int] = []
        for n in range(200):
            ids = [f"r{n}-{i}" for i in range(20)]
            records = [{"body": {"stringValue": rid + " " + "x" * 200}, "timeUnixNano": "1736951400000000000"} for rid in ids]
            res = requests.post(url, json={"resourceLogs": [{"scopeLogs": [{"logRecords": records}]}]}, timeout=10)
            answers.append(res.status_code)
            if res.status_code == 200:
                accepted += ids
            else:
                assert res.status_code == 503 and res.headers["Retry-After"] == "5"
                break
        assert answers[-1] == 503 and len(accepted) >= 20, answers
        rx.set_script([], default=200)  # the destination is back
        wait_for(lambda: len(delivered_titles(rx)) >= len(accepted), 60, what="every accepted record delivered")
        assert sorted(t.split(" ")[0] for t in delivered_titles(rx)) == sorted(accepted)
        assert requests.post(url, json={"resourceLogs": []}, timeout=10).status_code == 200
        assert agent.stop() == 0


def delivered_titles(rx: HttpCapture) -> set[str]:
    return {r.body.string_value for req in rx.requests if req.status == 200
            for rl in exported(req).resource_logs for sl in rl.scope_logs for r in sl.log_records}
