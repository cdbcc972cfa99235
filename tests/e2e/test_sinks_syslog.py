"""``syslog`` and ``cef`` sinks against real consumers.

syslog: Debian's syslog-ng parses every RFC 5424 message (TCP with octet counting,
LF framing, UDP, TLS with a client certificate) and writes back the fields it read,
structured data included, as JSON. cef: syslog-ng receives the lines over TCP and
liblognorm's CEF parser reads back the header fields and extensions.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from agent.sdk.outcome import Status
from agent.sdk import TRUNCATION_MARKER, neutralise
from agent.testing import make_event, spooled
from plugins.out_cef.sink import CefSink
from plugins.out_syslog.sink import SyslogSink
from tests.conftest import pick_port, wait_for
from tests.peers.certs import Certs, make_certs
from tests.peers.lognorm import parse_cef_lines
from tests.peers.sink_factory import make_sink
from tests.peers.syslog_ng import SyslogNg

pytestmark = pytest.mark.e2e

NASTY = ['pipe | and = equals', 'back\\slash \\ and ]bracket[', 'quote " and \'single\'', 'line1\nline2\r\nline3',
         'non-ASCII: Grüße, 東京, emoji 🔐', ' leading and trailing space ', 'x=1 y=2 looks=like keys', 'a\\=b\\\\n']


def nasty_events() -> list[Any]:
    events = []
    for i, text in enumerate(NASTY):
        events.append(make_event(
            id=f"evt-{i}-{text[:4]!r}", title=f"T{i} {text}", description=f"D{i} {text}", severity=["critical", "high", "medium", "low", "info"][i % 5],
            finding={"id": f"F-{i} {text}", "category": f"cat {text}", "cvss": 7.5},
            asset={"name": f"asset {text}", "host": "web.example.com", "ip": "10.0.0.7"},
            repository={"name": f"org/repo{i}"}, links={"vendor": f"https://vendor.example/f/{i}?a=b&c=d"}))
    return events


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory, certs: Certs) -> Iterator[dict[str, Any]]:
    """One syslog-ng with RFC 5424 listeners (tcp octet, tcp lf, udp, tls) and a raw TCP one for CEF."""
    work = tmp_path_factory.mktemp("syslog-ng")
    ports = {k: pick_port() for k in ("tcp", "lf", "tls", "cef")}
    import socket as _s
    ports["udp"] = pick_port(kind=_s.SOCK_DGRAM)
    tpl = ('"$(format-json --leave-initial-dot host=$HOST app=$PROGRAM procid=$PID msgid=$MSGID pri=$PRI '
           'stamp=${S_UNIXTIME} msg=$MESSAGE --key .SDATA.*)\\n"')
    files = {k: work / f"{k}.jsonl" for k in ports}
    body = f"""
source s_tcp {{ syslog(ip("127.0.0.1") port({ports['tcp']}) transport("tcp")); }};
source s_lf {{ network(ip("127.0.0.1") port({ports['lf']}) transport("tcp") flags(syslog-protocol)); }};
source s_udp {{ syslog(ip("127.0.0.1") port({ports['udp']}) transport("udp")); }};
source s_tls {{ syslog(ip("127.0.0.1") port({ports['tls']}) transport("tls")
    tls(key-file("{certs.server_key}") cert-file("{certs.server_cert}") ca-file("{certs.ca}") peer-verify(required-trusted))); }};
source s_cef {{ network(ip("127.0.0.1") port({ports['cef']}) transport("tcp") flags(no-parse)); }};
"""
    for k in ("tcp", "lf", "udp", "tls"):
        body += f'destination d_{k} {{ file("{files[k]}" template({tpl})); }};\nlog {{ source(s_{k}); destination(d_{k}); }};\n'
    body += f'destination d_cef {{ file("{files["cef"]}" template("$MESSAGE\\n")); }};\nlog {{ source(s_cef); destination(d_cef); }};\n'
    sng = SyslogNg(body, work, [("127.0.0.1", ports[k]) for k in ("tcp", "lf", "tls", "cef")])
    sng.start()
    try:
        yield {"ports": ports, "files": files, "sng": sng, "body": body, "work": work}
    finally:
        sng.stop()


def read_lines(path: Path, count: int, offset: int = 0) -> list[str]:
    def ready() -> list[str] | None:
        if not path.exists():
            return None
        lines = path.read_text(encoding="utf-8").splitlines()
        return lines[offset:] if len(lines) - offset >= count else None

    return wait_for(ready, 15, what=f"{count} lines in {path.name}")


def expected_sd(doc: dict[str, Any]) -> dict[str, str]:
    """The SD params as sent: control characters (line breaks too) become their stand-ins."""
    return {k: neutralise(v) for k, v in _sd_values(doc).items()}


def _sd_values(doc: dict[str, Any]) -> dict[str, str]:
    return {"id": doc["id"], "source": doc["source"], "type": doc["type"], "vendor_type": doc["vendor_type"],
            "severity": doc["severity"], "score": str(doc["score"]), "finding_id": doc["finding"]["id"],
            "category": doc["finding"]["category"], "asset": doc["asset"]["name"],
            "repository": doc["repository"]["name"], "url": doc["links"]["vendor"]}


PRI = {"critical": 130, "high": 131, "medium": 132, "low": 133, "info": 134}  # local0 = 16 * 8


def check_syslog_records(records: list[str], events: list[Any], msg_format: str = "json") -> None:
    assert len(records) == len(events)
    for line, event in zip(records, events):
        got = json.loads(line)
        doc = event.to_dict()
        assert got["pri"] == str(PRI[doc["severity"]])
        assert got["app"] == "siemrelay" and got["msgid"] == "finding.new" and got["host"] == "relay-host"
        assert got.get("procid", "") == ""
        assert int(got["stamp"]) == int(event.time.timestamp())
        assert got[".SDATA"] == {"siemrelay@32473": expected_sd(doc)}
        if msg_format == "json":
            assert json.loads(got["msg"]) == json.loads(event.to_json())
        else:
            assert got["msg"] == f"[{doc['severity']}] {doc['title']}"


@pytest.mark.parametrize("transport,framing,port_key", [("tcp", "octet", "tcp"), ("tcp", "lf", "lf"), ("udp", "octet", "udp")])
def test_syslog_ng_parses_every_field(collector: dict[str, Any], transport: str, framing: str, port_key: str) -> None:
    events = nasty_events()
    if framing == "lf":  # LF framing cannot carry a line break inside MSG: those become spaces, so compare JSON only
        events = [e for e in events if "\n" not in e.title]
    sink = make_sink(SyslogSink, {"address": f"127.0.0.1:{collector['ports'][port_key]}", "transport": transport,
                                  "framing": framing, "hostname": "relay-host", "max_message_bytes": 65000})
    try:
        before = _count(collector["files"][port_key])
        outcome = sink.send(spooled(events))
        assert outcome.status is Status.OK, outcome.reason
        check_syslog_records(read_lines(collector["files"][port_key], len(events), before), events)
    finally:
        sink.close()


def test_syslog_tls_with_client_certificate_and_text_messages(collector: dict[str, Any], certs: Certs) -> None:
    events = nasty_events()
    tls = {"ca_file": str(certs.ca), "cert_file": str(certs.client_cert), "key_file": str(certs.client_key),
           "server_name": "localhost"}
    sink = make_sink(SyslogSink, {"address": f"127.0.0.1:{collector['ports']['tls']}", "transport": "tls", "tls": tls,
                                  "hostname": "relay-host", "msg_format": "text"})
    try:
        before = _count(collector["files"]["tls"])
        outcome = sink.send(spooled(events))
        assert outcome.status is Status.OK, outcome.reason
        check_syslog_records(read_lines(collector["files"]["tls"], len(events), before), events, "text")
    finally:
        sink.close()


def test_syslog_tls_refuses_an_untrusted_server(collector: dict[str, Any], certs: Certs) -> None:
    sink = make_sink(SyslogSink, {"address": f"127.0.0.1:{collector['ports']['tls']}", "transport": "tls",
                                  "tls": {"ca_file": str(certs.other_ca)}})
    try:
        outcome = sink.send(spooled([make_event()]))
        assert outcome.status is Status.RETRY
        assert "certificate" in outcome.reason
        wrong_name = make_sink(SyslogSink, {"address": f"127.0.0.1:{collector['ports']['tls']}", "transport": "tls",
                                            "tls": {"ca_file": str(certs.ca), "server_name": "other.example"}})
        assert wrong_name.send(spooled([make_event()])).status is Status.RETRY
        wrong_name.close()
    finally:
        sink.close()


def test_udp_oversize_message_is_truncated_and_flagged(collector: dict[str, Any]) -> None:
    event = make_event(description="x" * 5000, finding={"id": "F-big"})
    sink = make_sink(SyslogSink, {"address": f"127.0.0.1:{collector['ports']['udp']}", "transport": "udp",
                                  "hostname": "relay-host"})
    try:
        before = _count(collector["files"]["udp"])
        assert sink.send(spooled([event])).ok
        got = json.loads(read_lines(collector["files"]["udp"], 1, before)[0])
        sd = got[".SDATA"]["siemrelay@32473"]
        assert int(sd["truncated"]) > 5000 and sd["finding_id"] == "F-big"
        full = json.dumps(event.to_dict(), separators=(",", ":"), ensure_ascii=False)
        assert got["msg"].endswith(TRUNCATION_MARKER)  # the cut is visible
        kept = got["msg"][:-len(TRUNCATION_MARKER)]
        assert full.startswith(kept) and len(kept) < len(full)
    finally:
        sink.close()


def test_reconnects_after_the_collector_restarts(collector: dict[str, Any]) -> None:
    sink = make_sink(SyslogSink, {"address": f"127.0.0.1:{collector['ports']['tcp']}", "hostname": "relay-host"})
    path = collector["files"]["tcp"]
    try:
        first = [make_event(finding={"id": "r1", "category": "c"}, asset={"name": "a"}, repository={"name": "r"},
                            links={"vendor": "https://v/1"})]
        before = _count(path)
        assert sink.send(spooled(first)).ok
        read_lines(path, 1, before)
        collector["sng"].stop()
        down = sink.send(spooled(first))  # nobody listens: a connection error is RETRY, never an exception
        assert down.status is Status.RETRY
        collector["sng"].start()
        second = [make_event(finding={"id": f"r{i}", "category": "c"}, asset={"name": "a"}, repository={"name": "r"},
                             links={"vendor": "https://v/1"}) for i in range(2, 5)]
        assert sink.send(spooled(second)).ok
        got = [json.loads(x) for x in read_lines(path, 4, before)]
        ids = [g[".SDATA"]["siemrelay@32473"]["finding_id"] for g in got]
        assert ids[0] == "r1" and ids[-3:] == ["r2", "r3", "r4"]
        assert sink.writer.connects >= 2
    finally:
        sink.close()


def _count(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines()) if path.exists() else 0


@pytest.mark.parametrize("header", ["rfc5424", "rfc3164", "none"])
def test_cef_read_back_by_liblognorm(collector: dict[str, Any], header: str, tmp_path: Path) -> None:
    events = nasty_events()
    sink = make_sink(CefSink, {"address": f"127.0.0.1:{collector['ports']['cef']}", "header": header,
                               "hostname": "relay-host", "device_vendor": "Acme|Sec\\Corp", "device_product": "Relay"})
    path = collector["files"]["cef"]
    try:
        before = _count(path)
        assert sink.send(spooled(events)).ok
        lines = read_lines(path, len(events), before)
    finally:
        sink.close()
    parsed = parse_cef_lines(lines, tmp_path)
    for got, event in zip(parsed, events):
        doc = event.to_dict()
        assert got["event.tags"][0].startswith(header if header != "rfc3164" else "rfc3164")
        if header != "none":
            assert got["host"] == "relay-host" and got["pri"] == str(PRI[doc["severity"]])
        cef = got["cef"]
        assert cef["DeviceVendor"] == "Acme|Sec\\Corp" and cef["DeviceProduct"] == "Relay"
        assert cef["SignatureID"] == "finding.new"
        assert cef["Name"] == doc["title"].replace("\r\n", " ").replace("\n", " ")
        assert cef["Severity"] == str(int(doc["score"] / 10 + 0.5))  # half up: score 25 → 3
        ext = cef["Extensions"]
        assert ext == {
            "rt": str(int(event.time.timestamp() * 1000)), "externalId": doc["id"][:40], "cat": "TEST",
            "cs1": doc["finding"]["id"], "cs1Label": "Finding ID", "cs2": doc["finding"]["category"], "cs2Label": "Category",
            "cs3": doc["repository"]["name"], "cs3Label": "Repository", "cs4": doc["asset"]["name"], "cs4Label": "Asset",
            "cs5": "test", "cs5Label": "Source", "cs6": doc["links"]["vendor"], "cs6Label": "Vendor URL",
            "cn1": str(doc["score"]), "cn1Label": "Score", "cfp1": "7.5", "cfp1Label": "CVSS",
            "dhost": "web.example.com", "dst": "10.0.0.7", "msg": doc["description"],
        }
