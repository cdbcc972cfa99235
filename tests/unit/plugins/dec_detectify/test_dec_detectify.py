"""The detectify decoder: the current finding payload, the legacy messages, CVSS bands, bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from agent.sdk.decoder import DecodeError
from agent.model import Severity
from agent.testing import make_record
from plugins.dec_detectify.decoder import DetectifyDecoder

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "vendors" / "detectify"


def load(name: str) -> dict[str, Any]:
    return orjson.loads((FIXTURES / name).read_bytes())


@pytest.fixture
def dec() -> DetectifyDecoder:
    return DetectifyDecoder({})


def decode(dec: DetectifyDecoder, payload: Any) -> Any:
    [ev] = dec.decode(make_record(orjson.dumps(payload), dec))
    ev.to_json()
    return ev


def test_current_finding(dec: DetectifyDecoder) -> None:
    ev = decode(dec, load("finding.json"))
    assert (ev.type, ev.vendor_type, ev.severity, ev.score) == ("finding.new", "finding", Severity.CRITICAL, 95)
    assert ev.title == "SQL Injection" and ev.description == "SQL injection detected in the id parameter"
    assert ev.time.isoformat() == "2025-01-15T14:30:00+00:00"
    assert ev.asset == {"name": "app.example.com", "host": "app.example.com"}
    assert ev.finding == {"url": "https://app.example.com/api/users?id=1", "parameter": "id",
                          "remediation": "Use parameterized queries...", "vendor_severity": "critical"}
    # the target URL (with the injected payload) is the finding's, never the "open in Detectify" link
    assert ev.links is None and ev.finding["url"] == "https://app.example.com/api/users?id=1"


def test_legacy_messages(dec: DetectifyDecoder) -> None:
    started = decode(dec, load("legacy-scan-started.json"))
    assert (started.type, started.asset["host"], started.scan) == ("scan.started", "my.domain", {"status": "started"})
    finished = decode(dec, load("legacy-scan-finished.json"))
    assert finished.type == "scan.completed"
    assert finished.scan["counts"] == {"critical": 1, "medium": 2, "info": 4, "total": 7}
    high = decode(dec, load("legacy-finding-high.json"))
    assert (high.type, high.severity, high.score, high.tags) == ("finding.new", Severity.HIGH, 62, ["new"])
    assert high.title == "Login Cross Site Request Forgery (CSRF/XSRF)" and high.finding["cvss"] == 6.2
    medium = decode(dec, load("legacy-finding-medium.json"))
    assert (medium.severity, medium.score) == (Severity.MEDIUM, 43)
    assert medium.links["vendor"] == "https://detectify.com/report/finding/abc123"


@pytest.mark.parametrize("kind,cvss,severity,score", [
    ("event_finding_high", 6.0, Severity.HIGH, 60), ("event_finding_high", 9.3, Severity.CRITICAL, 93),
    ("event_finding_medium", 3.0, Severity.MEDIUM, 30), ("event_finding_medium", 5.9, Severity.MEDIUM, 59),
    ("event_finding_high", None, Severity.HIGH, 80), ("event_finding_medium", None, Severity.MEDIUM, 55),
])
def test_cvss_bands_without_a_severity_word(dec: DetectifyDecoder, kind: str, cvss: float | None,
                                            severity: Severity, score: int) -> None:
    payload = {"type": kind, "domain": "my.domain", "title": "t"}
    if cvss is not None:
        payload["cvss_score"] = cvss
    assert (decode(dec, payload).severity, decode(dec, payload).score) == (severity, score)


def test_current_payload_with_cvss_and_asset_object(dec: DetectifyDecoder) -> None:
    ev = decode(dec, {"event_type": "finding", "finding": {"title": "XSS", "cvss_score": "6.1", "tags": ["a", 1],
                                                           "asset": {"name": "https://shop.example.com:8443/x"}}})
    assert (ev.severity, ev.score, ev.tags) == (Severity.HIGH, 61, ["a", "1"])
    assert ev.asset == {"name": "https://shop.example.com:8443/x", "host": "shop.example.com"}


def test_other_current_types(dec: DetectifyDecoder) -> None:
    ev = decode(dec, {"event_type": "asset_changed", "timestamp": 1736951400, "asset": {"name": "api.example.com"}})
    assert (ev.type, ev.title, ev.severity) == ("asset.changed", "Detectify asset changed: api.example.com", Severity.INFO)
    assert decode(dec, {"event_type": "brand_new"}).type == "detectify.brand_new"


def test_same_payload_same_id(dec: DetectifyDecoder) -> None:
    assert decode(dec, load("finding.json")).id == decode(dec, load("finding.json")).id
    assert decode(dec, load("finding.json")).id != decode(dec, load("legacy-finding-high.json")).id


@pytest.mark.parametrize("payload,reason", [
    ({"hello": 1}, "not a Detectify webhook"),
    ({"event_type": "finding"}, r"^\$\.finding is required and missing$"),
    ({"event_type": "finding", "finding": {"severity": "high"}}, r"^finding\.title is required and missing$"),
    ({"event_type": "finding", "finding": []}, r"^\$\.finding must be an object, found an array$"),
    ({"event_type": "finding", "finding": {"title": "t", "cvss_score": [6]}}, r"finding\.cvss_score must be a number"),
    ({"event_type": 7}, r"^\$\.event_type must be a string, found a number$"),
    ({"type": "event_finding_high", "title": "t"}, r"^\$\.domain is required and missing$"),
    ({"type": "event_finding_high", "domain": "d"}, r"^\$\.title is required and missing$"),
    ({"type": "event_finding_high", "domain": "d", "title": "t", "cvss_score": "high"}, "must be a number"),
    ({"type": "event_scan_finished", "domain": "d", "medium_findings": -1}, "must be a count"),
    ({"type": "event_scan_finished", "domain": "d", "tags": "new"}, r"^\$\.tags must be an array"),
])
def test_bad_input(dec: DetectifyDecoder, payload: Any, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        decode(dec, payload)


def test_legacy_can_be_turned_off() -> None:
    dec = DetectifyDecoder({"legacy": False})
    with pytest.raises(DecodeError, match="legacy messages are disabled"):
        decode(dec, load("legacy-scan-started.json"))
