"""The syslog decoder: RFC 5424 with structured data, RFC 3164, CEF inside, and never a drop."""

from __future__ import annotations

from datetime import datetime, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from agent.model import Severity
from agent.sdk.record import RawRecord
from plugins.dec_syslog.config import check_config
from plugins.dec_syslog.decoder import SyslogDecoder
from plugins.dec_syslog.parser import SyslogParseError, parse_syslog

RECEIVED = datetime(2025, 1, 15, 15, 0, 0, tzinfo=timezone.utc)
RFC5424_EXAMPLE = ('<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 '
                   '[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"]'
                   '[examplePriority@32473 class="high"] \ufeffAn application event log entry...')


def decoder(**options: object) -> SyslogDecoder:
    return SyslogDecoder({"source": "syslog", "event_type": "log", "timezone": "UTC", "cef": True, **options})


def decode(data: bytes | str, **options: object) -> list:
    raw = data.encode() if isinstance(data, str) else data
    rec = RawRecord(raw, decoder(**options), {"input": "sl", "peer": "127.0.0.1"}, RECEIVED)
    return rec.decoder.decode(rec)


def test_rfc5424_header_structured_data_and_bom_are_parsed() -> None:
    [ev] = decode(RFC5424_EXAMPLE)
    assert ev.time == datetime(2003, 10, 11, 22, 14, 15, 3000, tzinfo=timezone.utc)
    assert ev.title == "An application event log entry..."
    assert ev.asset == {"host": "mymachine.example.com"}
    assert ev.vendor_type == "ID47"
    assert ev.severity_id == Severity.UNKNOWN and ev.raw["severity"] == "notice"  # a level is not a security severity
    assert ev.raw["facility"] == "local4" and ev.raw["app_name"] == "evntslog" and "procid" not in ev.raw
    assert ev.raw["structured_data"] == {"exampleSDID@32473": {"iut": "3", "eventSource": "Application", "eventID": "1011"},
                                         "examplePriority@32473": {"class": "high"}}
    assert ev.origin is None  # nothing to flag: intake attaches the record's origin


def test_rfc5424_escapes_repeated_params_nil_values_and_offsets() -> None:
    m = parse_syslog('<13>1 2025-01-15T14:30:00.5+02:00 - - - - [x@1 a="q\\"u\\\\o\\]te" a="2" b=""] body', RECEIVED)
    assert m.structured_data == {"x@1": {"a": ['q"u\\o]te', "2"], "b": ""}}
    assert m.hostname == m.app_name == m.procid == m.msgid == ""
    assert m.timestamp == datetime(2025, 1, 15, 12, 30, 0, 500000, tzinfo=timezone.utc)
    assert m.message == "body"
    assert parse_syslog("<13>1 - - - - - -", RECEIVED).timestamp is None


def test_rfc3164_with_and_without_hostname_pri_and_year() -> None:
    m = parse_syslog("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick", RECEIVED)
    assert (m.format, m.facility, m.severity, m.hostname, m.app_name) == ("rfc3164", 4, 2, "mymachine", "su")
    assert m.timestamp.year == 2024  # October seen in January is last year's
    m = parse_syslog("<13>Jan  5 14:30:00 sshd[123]: Accepted password for root", RECEIVED)
    assert (m.hostname, m.app_name, m.procid, m.message) == ("", "sshd", "123", "Accepted password for root")
    m = parse_syslog("Jan 15 14:30:00 web1 nginx: GET /", RECEIVED)  # a line from /var/log/syslog
    assert (m.has_pri, m.facility, m.severity, m.hostname, m.timestamp.year) == (False, 1, 5, "web1", 2025)
    m = parse_syslog("<13>2025-01-15T14:30:00.123+01:00 host app: iso", RECEIVED)
    assert m.timestamp == datetime(2025, 1, 15, 13, 30, 0, 123000, tzinfo=timezone.utc) and m.app_name == "app"


def test_rfc3164_timezone_option() -> None:
    [ev] = decode("<13>Jan 15 14:30:00 h app: x", timezone="Europe/Paris")
    assert ev.time == datetime(2025, 1, 15, 13, 30, tzinfo=timezone.utc)
    assert check_config({"timezone": "Europe/Paris"}) == []
    assert "unknown time zone" in check_config({"timezone": "Mars/Olympus"})[0]


def test_syslog_severity_maps_to_ocsf_only_when_asked() -> None:
    sev = [decode(f"<{8 + s}>1 - h a - - - m", severity_from_priority=True)[0].severity_id for s in range(8)]
    assert sev == [5, 5, 5, 4, 3, 2, 1, 1]
    plain = [decode(f"<{8 + s}>1 - h a - - - m")[0] for s in range(8)]
    assert [(e.severity_id, e.score) for e in plain] == [(0, 0)] * 8
    assert [e.raw["severity"] for e in plain][:3] == ["emerg", "alert", "crit"]


def test_sshd_failed_password_is_an_authentication_failure_with_its_context() -> None:
    [ev] = decode("<34>Jan 15 14:30:00 bastion-1 sshd[1234]: Failed password for root from 198.51.100.23 port 40022 ssh2")
    assert (ev.type, ev.severity_id, ev.score) == ("auth.failed", Severity.UNKNOWN, 0)  # auth.crit is not critical
    assert ev.actor == {"user": "root"}
    assert ev.network == {"src_ip": "198.51.100.23", "src_port": 40022, "protocol": "ssh"}
    assert ev.outcome is not None and ev.outcome["name"] == "failure"
    assert ev.process == {"name": "sshd", "pid": 1234} and ev.device == {"hostname": "bastion-1"}
    [ok] = decode("<38>Jan 15 14:31:00 bastion-1 sshd[99]: Accepted publickey for alice from 2001:db8::7 port 51000 ssh2: ED25519 SHA256:x")
    assert (ok.type, ok.actor, ok.outcome["name"]) == ("auth.succeeded", {"user": "alice"}, "success")


def test_sudo_lines_carry_the_user_and_the_verdict() -> None:
    [ev] = decode("<85>Jan 15 14:32:00 web-1 sudo: bob : TTY=pts/0 ; PWD=/home/bob ; USER=root ; COMMAND=/usr/bin/id")
    assert (ev.type, ev.actor, ev.outcome["name"], ev.process["name"]) == ("auth.sudo", {"user": "bob"}, "success", "/usr/bin/id")
    [bad] = decode("<85>Jan 15 14:32:00 web-1 sudo: eve : 3 incorrect password attempts ; TTY=pts/1 ; PWD=/ ; USER=root ; COMMAND=/bin/sh")
    assert bad.outcome == {"name": "failure", "original": "3 incorrect password attempts"}


def test_unparseable_message_becomes_a_flagged_event_not_a_drop() -> None:
    [ev] = decode("this is not syslog at all")
    assert ev.origin["flags"] == ["parse_error"] and "no <PRI>" in ev.origin["parse_error"]
    assert ev.origin["input"] == "sl" and ev.title == "this is not syslog at all"
    assert ev.raw == {"format": "unparsed", "message": "this is not syslog at all"}
    for bad in ("<999>1 - - - - - - x", '<13>1 2025-01-15T14:30:00Z h a p m [x@1 a="open', "<13>1 notatime h a p m - x"):
        [ev] = decode(bad)
        assert "parse_error" in ev.origin["flags"], bad


def test_invalid_utf8_is_replaced_and_flagged() -> None:
    [ev] = decode(b"<13>1 - h app - - - caf\xe9 au lait")
    assert ev.title == "caf\ufffd au lait" and ev.origin["flags"] == ["invalid_utf8"]


def test_cef_in_syslog_is_handed_to_the_cef_parser() -> None:
    [ev] = decode("<13>1 2025-01-15T14:30:00Z fw1 CEF - - - CEF:0|Acme|IDS|1.0|100|Port scan|8|src=10.0.0.1 dst=10.0.0.2 dhost=web1 msg=many ports")
    assert (ev.source, ev.type, ev.vendor_type, ev.title, ev.severity_id) == ("acme", "alert", "100", "Port scan", Severity.HIGH)
    assert ev.asset == {"name": "web1", "host": "web1", "ip": "10.0.0.2"} and ev.description == "many ports"
    assert ev.raw["extensions"]["src"] == "10.0.0.1" and ev.raw["syslog_header"].startswith("<13>1 2025-01-15T14:30:00Z fw1")
    assert ev.network == {"src_ip": "10.0.0.1", "dst_ip": "10.0.0.2"} and ev.device["hostname"] == "fw1"
    [ev] = decode("<13>Jan 15 14:30:00 fw1 CEF:0|Acme|IDS|1.0|7|Login|Very-High|")
    assert ev.severity_id == Severity.CRITICAL and ev.title == "Login"


def test_malformed_cef_stays_a_syslog_event_flagged() -> None:
    [ev] = decode("<13>1 - fw1 app - - - CEF:0|only|three")
    assert ev.source == "syslog" and ev.origin["flags"] == ["cef_error"] and ev.origin["parse_error"].startswith("CEF:")
    [ev] = decode("<13>1 - fw1 app - - - CEF:0|Acme|IDS|1.0|100|Port scan|8|", cef=False)
    assert ev.source == "syslog" and ev.title.startswith("CEF:0")


def test_parser_refuses_empty_and_bad_pri() -> None:
    for text in ("", "   ", "<x>hello", "<1000>Jan 15 14:30:00 h a: m"):
        try:
            parse_syslog(text, RECEIVED)
        except SyslogParseError as exc:
            assert str(exc)
        else:
            raise AssertionError(f"{text!r} parsed")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_give_exactly_one_event(data: bytes) -> None:
    events = decode(b"<13>1 " + data) + decode(b"<13>" + data) + decode(data or b"x")
    assert len(events) == 3
    for ev in events:
        ev.to_json()


def test_unicode_digits_in_pri_are_a_parse_error_not_a_crash():
    # '²' passes str.isdigit() but not int(): the parser must say why, and the decoder keep the line
    for text in ("<1²>hello", "<²>x"):
        try:
            parse_syslog(text, RECEIVED)
        except SyslogParseError as exc:
            assert "PRI" in str(exc)
        else:
            raise AssertionError("a PRI of unicode digits parsed")
        (ev,) = decode(text)
        assert "parse_error" in ev.origin["flags"]
