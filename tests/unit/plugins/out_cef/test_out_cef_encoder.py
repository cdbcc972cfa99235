"""CEF and LEEF encoding: escaping, severity, extension mapping, limits, truncation."""

from __future__ import annotations

import pytest

from agent.sdk import TRUNCATION_MARKER
from agent.testing import make_event, spooled
from plugins.out_cef.encoder import CefFormat, cef_severity, encode_cef, encode_leef, escape_header, escape_value
from plugins.out_cef.sink import CefSink, build_line
from tests.peers.sink_factory import make_sink, sink_config

FMT = CefFormat("Acme", "Relay", "1.0")


def test_header_escaping() -> None:
    assert escape_header("a|b\\c", 63) == "a\\|b\\\\c"
    assert escape_header("line\nbreak", 63) == "line break"
    assert escape_header("x" * 100, 63) == "x" * 63


def test_extension_escaping() -> None:
    assert escape_value("a=b\\c\r\nd|e") == "a\\=b\\\\c\\r\\nd|e"


@pytest.mark.parametrize("score,sid,expected", [(95, 5, 10), (80, 4, 8), (25, 2, 3), (0, 3, 5), (0, 0, 0), (100, 5, 10)])
def test_severity_0_to_10(score: int, sid: int, expected: int) -> None:
    assert cef_severity({"score": score, "severity_id": sid}) == expected


def test_golden_minimal_event() -> None:
    e = make_event(id="e-1", title="SQLi", description="", raw=None)
    assert encode_cef(FMT, e.to_dict()) == ("CEF:0|Acme|Relay|1.0|finding.new|SQLi|8|rt=1736951400000 externalId=e-1 cat=TEST "
                                            "cs5=test cs5Label=Source cn1=80 cn1Label=Score")


def test_length_limits() -> None:
    e = make_event(id="i" * 60, title="t" * 600, description="d" * 2000, finding={"id": "f" * 5000})
    text = encode_cef(FMT, e.to_dict())
    assert "|" + "t" * 512 + "|" in text and "t" * 513 not in text
    assert "externalId=" + "i" * 40 + " " in text
    assert "msg=" + "d" * 1023 in text and "d" * 1024 not in text
    assert "cs1=" + "f" * 4000 + " " in text


def test_ipv6_is_not_written_as_dst() -> None:
    assert "dst=" not in encode_cef(FMT, make_event(asset={"ip": "::1"}).to_dict())


def test_request_falls_back_to_asset_url() -> None:
    assert "request=https://app/x?a\\=1" in encode_cef(FMT, make_event(asset={"url": "https://app/x?a=1"}).to_dict())


def test_leef_2() -> None:
    e = make_event(title="T|x", description="tab\there\nnew", finding={"id": "F1"})
    text = encode_leef(FMT, e.to_dict())
    head, _, attrs = text.partition("|x09|")
    assert head == "LEEF:2.0|Acme|Relay|1.0|finding.new"
    pairs = dict(a.split("=", 1) for a in attrs.split("\t"))
    assert pairs["sev"] == "8" and pairs["devTime"] == "Jan 15 2025 14:30:00.000 UTC" and pairs["findingId"] == "F1"
    assert pairs["devTimeFormat"] == "MMM dd yyyy HH:mm:ss.SSS z"
    assert pairs["name"] == "T|x" and pairs["description"] == "tab here new"


def test_udp_limit_shortens_msg_first() -> None:
    e = make_event(description="word " * 2000, finding={"id": "keep-me"})
    line = build_line(e.to_dict(), FMT, header="rfc5424", leef=False, facility=16, hostname="h", app_name="a", max_bytes=900)
    assert len(line) <= 900 and b"cs1=keep-me" in line and b"msg=word" in line


def test_cut_never_leaves_half_an_escape() -> None:
    """A hard cut inside a run of escaped backslashes must not end on a lone escape character."""
    from agent.sdk import parse_cef

    doc = make_event(description="d", title="t", finding={"id": "\\" * 800}).to_dict()
    for max_bytes in range(480, 560):
        line = build_line(doc, FMT, header="none", leef=False, facility=16, hostname="h", app_name="a",
                          max_bytes=max_bytes)
        assert len(line) <= max_bytes
        marker = TRUNCATION_MARKER.encode("utf-8")
        assert line.endswith(marker)  # the cut is visible
        cut = line[:-len(marker)]
        trailing = len(cut) - len(cut.rstrip(b"\\"))
        assert trailing % 2 == 0, (max_bytes, trailing)
        value = parse_cef(line.decode("utf-8"))["extensions"]["cs1"]
        assert value.endswith(TRUNCATION_MARKER) and set(value[:-len(TRUNCATION_MARKER)]) == {"\\"}


def test_sink_frames_lf_by_default_and_octet_on_request() -> None:
    lf = make_sink(CefSink, {"address": "127.0.0.1:1", "header": "none"})
    octet = make_sink(CefSink, {"address": "127.0.0.1:1", "header": "none", "framing": "octet"})
    batch = spooled([make_event()])
    a, b = lf.encode_batch(batch)[0], octet.encode_batch(batch)[0]
    assert a.endswith(b"\n") and a.startswith(b"CEF:0|siemrelay|siemrelay|")
    assert b == b"%d %s" % (len(a) - 1, a[:-1])


def test_file_transport(tmp_path) -> None:  # type: ignore[no-untyped-def]
    sink = make_sink(CefSink, {"transport": "file", "path": str(tmp_path / "cef.log"), "header": "none"})
    assert sink.send(spooled([make_event(), make_event()])).ok
    sink.close()
    sink.close()
    lines = (tmp_path / "cef.log").read_text().splitlines()
    assert len(lines) == 2 and all(line.startswith("CEF:0|") for line in lines)


def test_config() -> None:
    assert sink_config(CefSink, {"address": "10.0.0.1:514"})["framing"] == "lf"
    with pytest.raises(ValueError, match="allowed"):
        sink_config(CefSink, {"address": "10.0.0.1:514", "format": "json"})
