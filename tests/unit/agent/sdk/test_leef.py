"""agent.sdk.leef_parser and leef_event: QRadar LEEF 1.0/2.0 read into the common model.

The round trip goes through siemrelay's own LEEF encoder (the ``cef`` sink's ``leef``
and ``leef1`` formats): an event encoded, then parsed and mapped back, has the same
network, actor, device, signature, severity and time. The encoder is checked against an
independent reading of IBM's grammar in tests/e2e/seams; this closes the loop.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.model import Severity
from agent.sdk import cef_severity, event_from_leef, find_leef, leef_time, parse_leef
from agent.sdk.ocsf import to_ocsf
from agent.testing import make_event, make_record
from plugins.out_cef.encoder import CefFormat, encode_leef
from tests.peers.decoder_factory import build_decoder
from tests.peers.leef import parse_leef as documented_leef
from tests.peers.ocsf_schema import ocsf_errors

# IBM's documentation examples, LEEF 1.0 and 2.0 (the 2.0 one with a caret delimiter)
LEEF1 = ("LEEF:1.0|Microsoft|MSExchange|4.0 SP1|15345|src=192.0.2.0\tdst=172.50.123.1\tsev=5\tcat=anomaly"
         "\tsrcPort=81\tdstPort=21\tusrName=joe.black")
LEEF2 = ("LEEF:2.0|Lancope|StealthWatch|1.0|41|^|src=10.0.1.8^dst=10.0.0.5^sev=5^srcPort=1234^dstPort=80"
         "^proto=TCP^usrName=alice^devTime=2025-01-15 14:30:00.250 +0100^devTimeFormat=yyyy-MM-dd HH:mm:ss.SSS Z")


def _decode(line: str) -> object:
    return event_from_leef(parse_leef(line), line, make_record(line.encode(), build_decoder({"type": "raw"})),
                           "leef", "alert")


@pytest.mark.parametrize("line, version, delimiter, attrs", [
    (LEEF1, "1.0", "\t", 7),
    (LEEF2, "2.0", "^", 9),
    ("LEEF:2.0|V|P|1|E|x09|a=1\tb=2", "2.0", "\t", 2),
    ("LEEF:2.0|V|P|1|E|0x7C|a=1|b=x=y", "2.0", "|", 2),
    ("LEEF:2.0|V|P|1|E||a=1\tb=2", "2.0", "\t", 2),
    ("LEEF:2.0|V|P|1|E|a=1\tb=2", "2.0", "\t", 2),   # a sender that left the delimiter field out
    ("LEEF:1.0|V|P|1|E|", "1.0", "\t", 0),
])
def test_header_and_delimiter_forms(line: str, version: str, delimiter: str, attrs: int) -> None:
    leef = parse_leef(line)
    assert (leef["version"], leef["delimiter"], len(leef["attributes"])) == (version, delimiter, attrs)
    assert leef["vendor"] and leef["event_id"]


def test_a_value_keeps_its_equals_signs_and_the_independent_reader_agrees() -> None:
    line = "LEEF:2.0|V|P|1|E|0x7C|url=https://x.example/?a=1&b=2|usrName=bob"
    assert parse_leef(line)["attributes"] == {"url": "https://x.example/?a=1&b=2", "usrName": "bob"}
    assert documented_leef(line)[1] == parse_leef(line)["attributes"]


@pytest.mark.parametrize("line, reason", [
    ("LEEF:3.0|V|P|1|E|a=1", "version must be 1.0 or 2.0"),
    ("LEEF:1.0|V|P", "header has 2"),
    ("LEEF:2.0|V|P|1|E|ab|a=1", "delimiter must be one character"),
    ("LEEF:1.0|V|P|1|E|a=1\tjunk", "not key=value"),
    ("CEF:0|V|P|1|E|n|5|", "not a LEEF line"),
])
def test_malformed_leef_gets_the_reason(line: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_leef(line)


def test_find_leef_after_a_syslog_header() -> None:
    assert find_leef("<13>Jan 15 14:30:00 fw LEEF:2.0|V|P|1|E|x09|a=1") == 23
    assert find_leef("LEEF:1.0|V|P|1|E|") == 0
    assert find_leef("the word LEEF:x is not LEEF") == -1


def test_qradar_predefined_keys_fill_the_model() -> None:
    event = _decode(LEEF2)
    assert event.network == {"src_ip": "10.0.1.8", "src_port": 1234, "dst_ip": "10.0.0.5", "dst_port": 80, "protocol": "tcp"}
    assert event.actor == {"user": "alice"}
    assert event.device == {"vendor": "Lancope", "product": "StealthWatch", "version": "1.0"}
    assert event.signature == {"id": "41"} and event.vendor_type == "41"
    assert (event.severity_id, event.score) == (int(Severity.MEDIUM), 50)
    assert event.time == datetime(2025, 1, 15, 13, 30, 0, 250000, tzinfo=timezone.utc)
    assert event.raw["attributes"]["proto"] == "TCP" and event.raw["format"] == "leef"
    ms = _decode(LEEF1)
    assert (ms.finding, ms.actor, ms.network["dst_port"]) == ({"category": "anomaly"}, {"user": "joe.black"}, 21)


@pytest.mark.parametrize("value, fmt, expected", [
    ("1736951400123", "", datetime(2025, 1, 15, 14, 30, 0, 123000, tzinfo=timezone.utc)),
    ("Jan 15 2025 14:30:00", "", datetime(2025, 1, 15, 14, 30, tzinfo=timezone.utc)),
    ("Jan 15 2025 14:30:00.123 UTC", "MMM dd yyyy HH:mm:ss.SSS z", datetime(2025, 1, 15, 14, 30, 0, 123000, tzinfo=timezone.utc)),
    ("15/01/2025 02:30:00 PM", "dd/MM/yyyy hh:mm:ss a", datetime(2025, 1, 15, 14, 30, tzinfo=timezone.utc)),
    ("2025-01-15T14:30:00+02:00", "yyyy-MM-dd'T'HH:mm:ssXXX", datetime(2025, 1, 15, 12, 30, tzinfo=timezone.utc)),
])
def test_dev_time_with_and_without_its_format(value: str, fmt: str, expected: datetime) -> None:
    assert leef_time(value, fmt) == expected


def test_an_unreadable_dev_time_falls_back_to_receipt() -> None:
    event = _decode("LEEF:1.0|V|P|1|E|devTime=yesterday\tsev=11")
    assert event.time == event.received_at
    assert (event.severity_id, event.score) == (int(Severity.UNKNOWN), 0)   # sev outside 1-10 says nothing


_header_text = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"), blacklist_characters="|"),
                       min_size=1, max_size=12).filter(lambda s: s.strip() == s and s != "")
_value = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=16).filter(
    lambda s: s.strip() == s and s != "")
_times = st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2099, 1, 1)).map(
    lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000, tzinfo=timezone.utc))


@settings(max_examples=60, deadline=None)
@given(src=st.ip_addresses(v=4).map(str), dst=st.ip_addresses().map(str), sport=st.integers(0, 65535),
       dport=st.integers(0, 65535), proto=st.sampled_from(["tcp", "udp", "icmp"]), user=_value, domain=_value,
       vendor=_header_text, product=_header_text, version=_header_text, sig=_header_text, host=_value,
       tenths=st.integers(1, 10), time=_times, fmt=st.sampled_from(["leef", "leef1"]))
def test_siemrelays_own_leef_parses_back_to_the_same_fields(src: str, dst: str, sport: int, dport: int, proto: str,
                                                            user: str, domain: str, vendor: str, product: str,
                                                            version: str, sig: str, host: str, tenths: int,
                                                            time: datetime, fmt: str) -> None:
    event = make_event(type="alert", time=time, score=tenths * 10,
                       network={"src_ip": src, "src_port": sport, "dst_ip": dst, "dst_port": dport, "protocol": proto},
                       actor={"user": user, "domain": domain},
                       device={"vendor": vendor, "product": product, "version": version, "hostname": host},
                       signature={"id": sig, "name": "a title"}, title="a title")
    line = encode_leef(CefFormat("siemrelay", "siemrelay", "0"), event.to_dict(), version="1.0" if fmt == "leef1" else "2.0")
    back = _decode(line)
    assert back.network == event.network
    assert back.actor == event.actor
    assert back.device == event.device
    assert back.signature == event.signature
    assert (back.severity_id, back.score) == (int(cef_severity(str(tenths))[0]), tenths * 10)
    assert back.time == time


_key = st.from_regex(r"[A-Za-z][A-Za-z0-9_.\-]{0,10}", fullmatch=True)


@settings(max_examples=80, deadline=None)
@given(version=st.sampled_from(["1.0", "2.0"]), header=st.lists(_header_text, min_size=4, max_size=4),
       delim=st.sampled_from(["\t", "^", ";", "x09", "0x5E", "x7C"]),  # a literal "|" cannot be told from an empty field
       attrs=st.dictionaries(_key, st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=12), max_size=6))
def test_the_parser_agrees_with_the_documented_grammar(version: str, header: list[str], delim: str,
                                                       attrs: dict[str, str]) -> None:
    """Any well-formed LEEF line reads the same through siemrelay's parser and the one written
    from IBM's documentation (tests/peers/leef.py)."""
    real = {"x09": "\t", "0x5E": "^", "x7C": "|"}.get(delim, delim)
    if version == "1.0":
        real = "\t"
    attrs = {k: v for k, v in attrs.items() if real not in v and "\t" not in v}
    head = f"LEEF:{version}|" + "|".join(header) + "|" + (f"{delim}|" if version == "2.0" else "")
    line = head + real.join(f"{k}={v}" for k, v in attrs.items())
    ours = parse_leef(line)
    if attrs:
        doc_header, doc_attrs = documented_leef(line)
        assert ours["attributes"] == doc_attrs
        assert (ours["vendor"], ours["product"], ours["product_version"], ours["event_id"]) == (
            doc_header["vendor"], doc_header["product"], doc_header["product_version"], doc_header["event_id"])
    assert ours["attributes"] == attrs and ours["delimiter"] == real


@settings(max_examples=120, deadline=None)
@given(tail=st.text(max_size=60), framed=st.booleans())
def test_any_leef_looking_text_is_one_event_never_a_crash(tail: str, framed: bool) -> None:
    syslog = build_decoder({"type": "syslog"})
    text = ("<13>1 - h app - - - " if framed else "") + "LEEF:" + tail
    events = syslog.decode(make_record(text.encode("utf-8", "surrogatepass"), syslog))
    assert len(events) == 1


LEEF_FIXTURES = sorted((Path(__file__).resolve().parents[3] / "fixtures" / "vendors" / "leef").glob("*.log"))


@pytest.mark.parametrize("path", LEEF_FIXTURES, ids=lambda p: p.name)
def test_leef_fixtures_decode_through_auto_and_render_valid_ocsf(path: Path) -> None:
    """The LEEF fixtures (the ECS test renders them too) reach the model through ``auto`` and
    validate against the OCSF schema, in the class their content calls for."""
    auto = build_decoder({"type": "auto"})
    [event] = auto.decode(make_record(path.read_bytes(), auto))
    assert event.network and event.network["src_ip"] and event.actor and event.signature
    doc = to_ocsf(event)
    assert ocsf_errors(doc) == []
    assert doc["class_uid"] == (4001 if event.action else 2004)
