"""RFC 5424 encoding: header fields, structured data escaping, framing, truncation, config checks."""

from __future__ import annotations

import pytest

from agent.testing import make_event
from plugins.out_syslog.config import check_config
from plugins.out_syslog.encoder import SyslogFormat, encode, escape_param, structured_data
from agent.sdk.syslog_header import frame_lf, frame_octet, header_field, pri, rfc3164_header, truncate_utf8
from plugins.out_syslog.sink import SyslogSink
from tests.peers.sink_factory import make_sink, sink_config


def test_escape_param_is_exactly_rfc5424() -> None:
    assert escape_param('a"b\\c]d[e=f') == 'a\\"b\\\\c\\]d[e=f'
    assert escape_param("plain") == "plain"


def test_header_fields_are_printable_ascii_and_limited() -> None:
    assert header_field("my host", 255) == "my_host"
    assert header_field("é", 48) == "_"
    assert header_field("", 32) == "-" and header_field(None, 32) == "-"
    assert header_field("x" * 100, 32) == "x" * 32


def test_pri_uses_facility_and_event_severity() -> None:
    assert [pri(16, s) for s in (5, 4, 3, 2, 1, 0)] == ["<130>", "<131>", "<132>", "<133>", "<134>", "<133>"]


def test_full_message_golden() -> None:
    e = make_event(id="e1", title="T", finding={"id": 'F"1]'}, links={"vendor": "https://v/x"})
    fmt = SyslogFormat(hostname="h", app_name="app", procid="{{ source }}", msgid="{{ type }}",
                       sd_fields=(("id", "id"), ("finding_id", "finding.id"), ("url", "links.vendor"), ("none", "asset.name")))
    out = encode(fmt, e.to_dict(), b'{"x":1}')
    assert out == b'<131>1 2025-01-15T14:30:00Z h app test finding.new [siemrelay@32473 id="e1" finding_id="F\\"1\\]" url="https://v/x"] {"x":1}'


def test_no_structured_data_is_a_dash() -> None:
    assert structured_data(SyslogFormat(sd_id=""), {}) == "-"


def test_truncation_flags_and_keeps_utf8_valid() -> None:
    e = make_event()
    fmt = SyslogFormat(hostname="h", sd_fields=(("id", "id"),), max_bytes=600)
    out = encode(fmt, e.to_dict(), ("é" * 1000).encode())
    assert len(out) <= 600 and b'truncated="' in out
    out.decode("utf-8")
    assert truncate_utf8("aé".encode(), 2) == b"a"


def test_framings() -> None:
    assert frame_octet(b"abc") == b"3 abc"
    assert frame_octet("é".encode()) == b"2 \xc3\xa9"
    assert frame_lf(b"a\nb") == b"a b\n"


def test_rfc3164_header_pads_the_day() -> None:
    assert rfc3164_header(16, {"time": "2025-01-05T04:03:02Z", "severity_id": 4}, "h") == "<131>Jan  5 04:03:02 h"


def test_text_template_and_octet_framing_from_the_sink() -> None:
    sink = make_sink(SyslogSink, {"address": "127.0.0.1:1", "msg_format": "text", "text_template": "{{ severity }}|{{ asset.name }}|{x}",
                                  "hostname": "h", "sd_id": ""})
    frames = sink.encode_batch(__import__("agent.testing.fakes", fromlist=["spooled"]).spooled([make_event(asset={"name": "web"})]))
    msg = b"<131>1 2025-01-15T14:30:00Z h siemrelay - finding.new - high|web|{x}"
    assert frames == [b"%d %s" % (len(msg), msg)]


@pytest.mark.parametrize("config,problem", [
    ({"transport": "tcp"}, "address"),
    ({"transport": "file"}, "path"),
    ({"address": "h:1", "sd_id": "noat"}, "enterprise number"),
    ({"address": "h:1", "sd_id": "bad id@1"}, "SD-ID"),
    ({"address": "h:1", "sd_fields": {"a=b": "id"}}, "SD-PARAM"),
    ({"address": "h:1", "transport": "tls", "tls": {"ca_file": "/nonexistent/ca.pem"}}, "cannot read"),
])
def test_config_problems(config: dict, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        sink_config(SyslogSink, config)


def test_defaults_validate() -> None:
    doc = sink_config(SyslogSink, {"address": "[::1]:6514"})
    assert doc["framing"] == "octet" and doc["facility"] == "local0" and check_config(doc) == []
