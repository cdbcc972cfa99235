"""CEF: the parser (header and extension escaping per the spec) and the decoder (syslog prefix, times, severity)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.sdk.decoder import DecodeError, PartialDecodeError
from agent.model import Severity
from agent.testing import make_record
from agent.sdk import cef_severity, cef_time, find_cef, parse_cef
from plugins.dec_cef.decoder import CefDecoder

SAMPLES = Path(__file__).resolve().parents[3] / "fixtures" / "vendors" / "cef" / "samples.cef"


def test_spec_example() -> None:
    out = parse_cef("CEF:0|Security|threatmanager|1.0|100|worm successfully stopped|10|src=10.0.0.1 dst=2.1.2.2 spt=1232")
    assert out == {"version": "0", "device_vendor": "Security", "device_product": "threatmanager",
                   "device_version": "1.0", "signature_id": "100", "name": "worm successfully stopped",
                   "severity": "10", "extensions": {"src": "10.0.0.1", "dst": "2.1.2.2", "spt": "1232"}}


@pytest.mark.parametrize("line,field,value", [
    (r"CEF:0|security|threatmanager|1.0|100|detected a \| in message|10|src=10.0.0.1", "name", "detected a | in message"),
    (r"CEF:0|security|threat\\manager|1.0|100|n|10|", "device_product", "threat\\manager"),
    (r"CEF:0|sec\urity|p|1.0|100|n|10|", "device_vendor", "sec\\urity"),  # a lone backslash stays
])
def test_header_unescaping(line: str, field: str, value: str) -> None:
    assert parse_cef(line)[field] == value


@pytest.mark.parametrize("ext,expected", [
    (r"act=blocked a | dst=1.1.1.1", {"act": "blocked a |", "dst": "1.1.1.1"}),
    (r"act=blocked a \\ dst=1.1.1.1", {"act": "blocked a \\", "dst": "1.1.1.1"}),
    (r"act=blocked a \= dst=1.1.1.1", {"act": "blocked a =", "dst": "1.1.1.1"}),
    (r"msg=line one\nline two\rend", {"msg": "line one\nline two\rend"}),
    ("msg=spaces are   kept cs1Label=Rule Name cs1=Block all", {"msg": "spaces are   kept", "cs1Label": "Rule Name",
                                                                 "cs1": "Block all"}),
    ("request=https://x.example/a?b=c&d=e src=1.2.3.4", {"request": "https://x.example/a?b=c&d=e", "src": "1.2.3.4"}),
    ("ad.user=alice flexString1=x [x]=y", {"ad.user": "alice", "flexString1": "x", "[x]": "y"}),
    ("a=1 a=2", {"a": "2"}),
    ("msg=", {"msg": ""}),
    ("", {}),
])
def test_extension_values(ext: str, expected: dict[str, str]) -> None:
    assert parse_cef("CEF:0|v|p|1|sig|name|5|" + ext)["extensions"] == expected


def test_no_trailing_pipe_and_line_end_are_tolerated() -> None:
    assert parse_cef("CEF:1|v|p|1|sig|name|Low")["severity"] == "Low"
    assert parse_cef("\ufeff CEF:0|v|p|1|sig|name|3|x=1\r\n")["extensions"] == {"x": "1"}


@pytest.mark.parametrize("text,reason", [
    ("hello", "not a CEF line: it must start with 'CEF:'"),
    ("CEF:0|a|b", "CEF header has 3 of the 7"),
    ("CEF:zero|a|b|c|d|e|f|", "CEF version must be a number"),
    ("CEF:0|a|b|c|d|e|f|garbage x=1", "CEF extension does not start with key=value: 'garbage '"),
    ("CEF:0|a|b|c|d|e|f|just text", "CEF extension does not start with key=value"),
    ("<13>Jan 1 00:00:00 h CEF:0|a|b|c|d|e|5|", "must start with 'CEF:'"),
])
def test_malformed_lines_raise_value_error_with_reason(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_cef(text)


def test_find_cef_after_a_syslog_header() -> None:
    line = "<134>1 2025-01-15T14:30:00Z fw01 ids - - - CEF:0|a|b|c|d|e|5|x=1"
    assert line[find_cef(line):].startswith("CEF:0|")
    assert find_cef("no cef here; NOTCEF:0") == -1


_safe = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=15)


@settings(max_examples=200, deadline=None)
@given(header=st.lists(_safe, min_size=6, max_size=6), values=st.lists(_safe, max_size=4))
def test_round_trip_of_escaped_fields(header: list[str], values: list[str]) -> None:
    """Escape as a CEF producer must; the parser gives every field back."""
    head = "|".join(h.replace("\\", "\\\\").replace("|", "\\|") for h in header[:5])
    sev = "5"
    ext = {f"k{i}": v.strip() for i, v in enumerate(values)}
    body = " ".join(f"{k}={v.replace(chr(92), chr(92) * 2).replace('=', chr(92) + '=')}" for k, v in ext.items())
    out = parse_cef(f"CEF:0|{head}|{sev}|{body}")
    assert [out[k] for k in ("device_vendor", "device_product", "device_version", "signature_id", "name")] == header[:5]
    assert out["extensions"] == ext


@pytest.mark.parametrize("value,expected", [
    ("0", (Severity.LOW, 0)), ("3", (Severity.LOW, 30)), ("4", (Severity.MEDIUM, 40)), ("6", (Severity.MEDIUM, 60)),
    ("7", (Severity.HIGH, 70)), ("8", (Severity.HIGH, 80)), ("9", (Severity.CRITICAL, 90)),
    ("10", (Severity.CRITICAL, 100)), ("Low", (Severity.LOW, 25)), ("Very-High", (Severity.CRITICAL, 95)),
    ("MEDIUM", (Severity.MEDIUM, 55)), ("Unknown", (Severity.UNKNOWN, 0)), ("11", (Severity.UNKNOWN, 0)),
    ("x", (Severity.UNKNOWN, 0)),
])
def test_cef_severity(value: str, expected: tuple[Severity, int]) -> None:
    assert cef_severity(value) == expected


@pytest.mark.parametrize("value,iso", [
    ("1736951400000", "2025-01-15T14:30:00+00:00"), ("1736951400", "2025-01-15T14:30:00+00:00"),
    ("Jan 15 2025 14:30:00", "2025-01-15T14:30:00+00:00"), ("Jan 15 2025 14:30:00.250", "2025-01-15T14:30:00.250000+00:00"),
    ("Jan 15 2025 15:30:00 +0100", "2025-01-15T14:30:00+00:00"), ("Jan 15 2025 14:30:00 UTC", "2025-01-15T14:30:00+00:00"),
    ("2025-01-15T14:30:00Z", "2025-01-15T14:30:00+00:00"),
])
def test_cef_times(value: str, iso: str) -> None:
    dt = cef_time(value)
    assert dt is not None and dt.isoformat() == iso


def test_cef_time_rejects_garbage() -> None:
    assert cef_time("sometime") is None and cef_time("") is None and cef_time("9" * 40) is None


@pytest.fixture
def dec() -> CefDecoder:
    return CefDecoder({})


def test_sample_file(dec: CefDecoder) -> None:
    events = dec.decode(make_record(SAMPLES.read_bytes(), dec))
    assert len(events) == 7 and all(e.source == "cef" and e.type == "alert" for e in events)
    waf = events[4]
    assert (waf.id, waf.vendor_type, waf.title, waf.severity, waf.score) == (
        "Acme:WAF:waf-77", "sqli-942100", "SQL Injection Attempt", Severity.HIGH, 80)
    assert waf.time.isoformat() == "2025-01-15T14:30:00.123000+00:00"
    assert waf.description == "Blocked SQL injection\nsecond line"
    assert waf.finding["cve"] == "CVE-2024-1234" and waf.finding["url"].startswith("https://app.example.com")
    assert waf.asset == {"name": "app.example.com", "host": "app.example.com"}
    assert waf.device == {"vendor": "Acme", "product": "WAF", "version": "2.4"}
    assert waf.signature == {"id": "sqli-942100", "name": "SQL Injection Attempt"}
    assert waf.network == {"src_ip": "198.51.100.7", "dst_ip": "app.example.com"}
    suricata, forti = events[5], events[6]
    assert suricata.raw["syslog_header"] == "<134>1 2025-01-15T14:30:00.000Z fw01.example.com ids - - -"
    # the relaying host is the reporting device, not the asset the alert is about
    assert suricata.device["hostname"] == "fw01.example.com" and not (suricata.asset or {}).get("host")
    assert suricata.network["dst_port"] == 80 and suricata.network["protocol"] == "tcp"
    assert forti.device["hostname"] == "fw02" and forti.time == forti.received_at
    assert forti.action == {"name": "denied", "original": "deny"}
    for e in events:
        e.to_json()


def test_syslog_header_time_is_used_without_rt(dec: CefDecoder) -> None:
    [ev] = dec.decode(make_record(b"<134>1 2025-02-01T08:00:00+01:00 h app - - - CEF:0|a|b|c|d|e|5|x=1", dec))
    assert ev.time.isoformat() == "2025-02-01T07:00:00+00:00" and ev.raw["extensions"] == {"x": "1"}


def test_same_line_same_id_whatever_the_relay(dec: CefDecoder) -> None:
    a = dec.decode(make_record(b"CEF:0|a|b|c|d|e|5|x=1", dec))[0]
    b = dec.decode(make_record(b"CEF:0|a|b|c|d|e|5|x=1\n", dec))[0]
    assert a.id == b.id


def test_partly_bad_batch(dec: CefDecoder) -> None:
    with pytest.raises(PartialDecodeError) as info:
        dec.decode(make_record(b"CEF:0|a|b|c|d|e|5|x=1\nCEF:0|broken\nnot cef at all\n", dec))
    assert len(info.value.events) == 1
    assert info.value.failures[0].startswith("line 2: CEF header has 2 of the 7")
    assert info.value.failures[1] == "line 3: no CEF: found in the line 'not cef at all'"


@pytest.mark.parametrize("data,reason", [
    (b"", "empty record"), (b"CEF:0|a|b|c|d|e|5|msg=caf\xe9", "invalid UTF-8 at byte 25"),
    (b"CEF:0|a|b", "CEF header has 3 of the 7"),
])
def test_bad_records(dec: CefDecoder, data: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        dec.decode(make_record(data, dec))


def test_config_options() -> None:
    dec = CefDecoder({"source": "waf", "event_type": "alert.waf"})
    [ev] = dec.decode(make_record(b"CEF:0|a|b|c|d|e|5|", dec))
    assert (ev.source, ev.type) == ("waf", "alert.waf")
