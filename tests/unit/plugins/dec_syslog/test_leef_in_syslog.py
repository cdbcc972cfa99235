"""The syslog decoder reads LEEF inside syslog (and bare) through the SDK's one LEEF mapping;
``auto`` hands a bare LEEF line to it."""

from __future__ import annotations

from datetime import datetime, timezone

from agent.model import Severity
from agent.sdk import event_from_leef, parse_leef
from agent.testing import make_record
from tests.peers.decoder_factory import build_decoder
from tests.unit.plugins.dec_syslog.test_dec_syslog import decode

LEEF = ("LEEF:2.0|Palo Alto Networks|PAN-OS|10.1|TRAFFIC|x09|src=198.51.100.7\tdst=192.0.2.10\tsrcPort=51515"
        "\tdstPort=22\tproto=tcp\tusrName=bob\tsev=7\tcat=traffic\tdevTime=1736951400000\tidentSrc=198.51.100.7")
SAME = ("network", "actor", "device", "signature", "severity_id", "score", "time", "vendor_type", "finding")


def test_leef_in_rfc5424_fills_what_the_leef_mapping_fills() -> None:
    [ev] = decode(f"<134>1 2025-01-15T14:31:00Z pa-fw1 pan - - - {LEEF}")
    direct = event_from_leef(parse_leef(LEEF), LEEF, make_record(LEEF.encode(), build_decoder({"type": "raw"})),
                             "x", "alert")
    assert {k: getattr(ev, k) for k in SAME if k != "device"} == {k: getattr(direct, k) for k in SAME if k != "device"}
    assert (ev.source, ev.type, ev.severity_id) == ("palo_alto_networks", "alert", Severity.HIGH)
    assert ev.network == {"src_ip": "198.51.100.7", "src_port": 51515, "dst_ip": "192.0.2.10", "dst_port": 22, "protocol": "tcp"}
    assert ev.actor == {"user": "bob"} and ev.signature == {"id": "TRAFFIC"}
    assert ev.device == {"vendor": "Palo Alto Networks", "product": "PAN-OS", "version": "10.1", "hostname": "pa-fw1"}
    assert ev.time == datetime(2025, 1, 15, 14, 30, tzinfo=timezone.utc)   # devTime wins over the header
    assert ev.raw["syslog_header"].startswith("<134>1 2025-01-15T14:31:00Z pa-fw1")


def test_leef_behind_a_bsd_header_and_bare() -> None:
    [ev] = decode("<13>Jan 15 14:30:00 fw2 LEEF:1.0|V|P|1|E42|src=10.0.0.1\tsev=2")
    assert (ev.network, ev.device["hostname"], ev.severity_id) == ({"src_ip": "10.0.0.1"}, "fw2", Severity.LOW)
    [bare] = decode("LEEF:1.0|V|P|1|E42|src=10.0.0.1\tsev=2")
    assert (bare.source, bare.network, bare.signature) == ("v", {"src_ip": "10.0.0.1"}, {"id": "E42"})


def test_malformed_leef_stays_a_flagged_syslog_event_and_leef_off_keeps_it_text() -> None:
    [ev] = decode("<13>1 - fw1 app - - - LEEF:2.0|V|P|1|E|x09|src=10.0.0.1\tjunk")
    assert ev.source == "syslog" and ev.origin["flags"] == ["leef_error"]
    assert ev.origin["parse_error"] == "LEEF: LEEF attribute is not key=value: 'junk'"
    [bare] = decode("LEEF:9.0|V|P|1|E|a=1")
    assert bare.origin["flags"] == ["parse_error"] and "LEEF version must be 1.0 or 2.0" in bare.origin["parse_error"]
    [off] = decode(f"<13>1 - fw1 app - - - {LEEF}", leef=False)
    assert off.source == "syslog" and off.network is None and off.title.startswith("LEEF:2.0")


def test_auto_hands_a_bare_leef_line_to_the_syslog_decoder() -> None:
    auto = build_decoder({"type": "auto"})
    [ev] = auto.decode(make_record(LEEF.encode(), auto))
    assert (ev.source, ev.actor, ev.signature) == ("palo_alto_networks", {"user": "bob"}, {"id": "TRAFFIC"})
    [framed] = auto.decode(make_record(f"<134>1 2025-01-15T14:31:00Z pa-fw1 pan - - - {LEEF}".encode(), auto))
    assert framed.network == ev.network
