"""Seams: every text encoder, fed hypothesis-generated fields, read back by real parsers.

Each example is a batch of events whose every wire-bound field is an arbitrary string
(NUL, all C0/C1 controls, CR/LF, ``=``, ``|``, ``\\``, ``]``, ``"``, non-BMP, plus one
100 KB field per batch), sent by the sink over real TCP to a real syslog-ng running
with its default 64 KiB message limit (RFC 5424 with octet counting and with LF
framing; CEF and LEEF lines raw), then read back: the RFC 5424 fields as syslog-ng
parsed them, CEF through liblognorm's CEF parser, LEEF by its documented grammar.

Two properties per format: exactly one record per event (a sentinel event closes each
batch, so a forged extra record or a lost one shows in the count), and every parsed
field equals what was sent after the escaping documented in docs/sinks.md. The
expected values are computed here from that documentation, independently of the
encoders' code.
"""

from __future__ import annotations

import json
import re
import socket
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from agent.model import Event
from agent.testing import make_event, spooled
from plugins.out_cef.sink import CefSink
from plugins.out_syslog.sink import SyslogSink
from tests.conftest import pick_port, wait_for, wait_for_port
from plugins.out_cef.encoder import leef_attributes
from tests.peers.leef import parse_leef
from tests.peers.lognorm import parse_cef_lines
from tests.peers.sink_factory import make_sink
from tests.peers.syslog_ng import SyslogNg

pytestmark = pytest.mark.e2e

MARKER = "…[truncated]"  # docs/sinks.md: a value cut to fit max_message_bytes ends with it
HUGE = 100_000  # characters in one field of one event per batch (the audit's 100 KB title)
EXAMPLES = settings(max_examples=5, deadline=None, phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])

# ---------------------------------------------------------------- generated events

NASTY = ([chr(c) for c in range(0x20)] + ["\x7f"] + [chr(c) for c in range(0x80, 0xA0)]
         + list("=|\\][\"' <>{}%$") + ["\r\n", "🔐", "\u2028", "\ufeff", "é", "-"])
_char = st.one_of(st.sampled_from(NASTY), st.characters(exclude_categories=["Cs"]))
text = st.lists(_char, max_size=24).map("".join)


def _grow(seed: str) -> str:
    return (seed * (HUGE // len(seed) + 1))[:HUGE]


@st.composite
def batches(draw: st.DrawFn) -> list[Event]:
    """1-20 events with arbitrary text in every wire-bound field, then one with 100 KB fields."""
    events = []
    for _ in range(draw(st.integers(1, 20))):
        events.append(make_event(
            id=draw(text), type=draw(text), vendor_type=draw(text), source="s" + draw(text),
            title=draw(text), description=draw(text),
            finding={"id": "p" + draw(text), "category": draw(text), "url": draw(text)},
            asset={"name": draw(text), "host": "h" + draw(text)}, repository={"name": draw(text)},
            links={"vendor": draw(text)}))
    seed = draw(st.lists(_char, min_size=1, max_size=8).map("".join))
    big = _grow(seed)
    events.append(make_event(id="huge", type="finding.new", vendor_type="BIG", source="s" + seed, title=big,
                             description=big, finding={"id": "p" + big, "category": big, "url": big},
                             asset={"name": big, "host": "h" + seed}, repository={"name": big},
                             links={"vendor": big}))
    return events


# ---------------------------------------------------------------- the documented escaping

def stand_in(c: str) -> str:
    """docs/sinks.md, "Control characters": C0 → Control Pictures, DEL → ␡, C1 → U+FFFD."""
    o = ord(c)
    if o < 0x20:
        return chr(0x2400 + o)
    if o == 0x7F:
        return "␡"
    if 0x80 <= o <= 0x9F:
        return "\ufffd"
    return c


def documented(value: str, keep: str = "", fold: bool = False, tab_space: bool = False) -> str:
    if fold:
        value = re.sub("\r\n|\r|\n", " ", value)
    if tab_space:
        value = value.replace("\t", " ")
    return "".join(c if c in keep else stand_in(c) for c in value)


def header_field(value: str, limit: int) -> str:
    """RFC 5424 header fields: PRINTUSASCII only, others become ``_``, then the RFC's limit."""
    return "".join(c if 33 <= ord(c) <= 126 else "_" for c in value)[:limit]


# ---------------------------------------------------------------- the real receiver

FORMAT_JSON = ('"$(format-json --leave-initial-dot host=$HOST app=$PROGRAM procid=$PID msgid=$MSGID pri=$PRI '
               'msg=$MESSAGE --key .SDATA.*)\\n"')


@pytest.fixture(scope="module")
def receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """syslog-ng with its default 64 KiB log_msg_size: RFC 5424 octet, RFC 5424 LF, raw LF lines."""
    work = tmp_path_factory.mktemp("seams-syslog-ng")
    ports = {k: pick_port() for k in ("octet", "lf", "raw")}
    files = {k: work / f"{k}.jsonl" for k in ports}
    body = f"""
source s_octet {{ syslog(ip("127.0.0.1") port({ports['octet']}) transport("tcp")); }};
source s_lf {{ network(ip("127.0.0.1") port({ports['lf']}) transport("tcp") flags(syslog-protocol)); }};
source s_raw {{ network(ip("127.0.0.1") port({ports['raw']}) transport("tcp") flags(no-parse)); }};
destination d_octet {{ file("{files['octet']}" template({FORMAT_JSON})); }};
destination d_lf {{ file("{files['lf']}" template({FORMAT_JSON})); }};
destination d_raw {{ file("{files['raw']}" template("$(format-json msg=$MESSAGE)\\n")); }};
log {{ source(s_octet); destination(d_octet); }};
log {{ source(s_lf); destination(d_lf); }};
log {{ source(s_raw); destination(d_raw); }};
"""
    sng = SyslogNg(body, work, [("127.0.0.1", p) for p in ports.values()], log_msg_size=65536)
    sng.start()
    try:
        yield {"ports": ports, "files": files, "work": work}
    finally:
        sng.stop()


def records(path: Path, offset: int = 0) -> list[dict[str, Any]]:
    """The complete records syslog-ng wrote from byte ``offset`` on (a line being written is left out)."""
    if not path.exists():
        return []
    with open(path, "rb") as f:
        f.seek(offset)
        complete = f.read().split(b"\n")[:-1]  # split before decoding: a line being written may end inside a character
    return [json.loads(line.decode("utf-8")) for line in complete if line.strip()]


SENTINEL_ID = "sentinel"


def deliver(sink: Any, events: list[Event], path: Path, is_sentinel: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
    """Send ``events`` then a sentinel over one connection; return the records before the sentinel."""
    before = path.stat().st_size if path.exists() else 0
    sentinel = make_event(id=SENTINEL_ID, type="sentinel", vendor_type="SENTINEL", title="sentinel", source="sentinel",
                          finding={"id": "psentinel"}, asset={"host": "hsentinel"})
    outcome = sink.send(spooled([*events, sentinel]))
    assert outcome.ok, outcome.reason
    got = wait_for(lambda: (lambda r: r if r and is_sentinel(r[-1]) else None)(records(path, before)), 20,
                   what=f"the sentinel record in {path.name}")
    assert len(got) == len(events) + 1, f"{len(got) - 1} records for {len(events)} events (forged or lost records)"
    return got[:-1]


# ---------------------------------------------------------------- RFC 5424

SYSLOG_HEADER = {"hostname": "{{ asset.host }}", "app_name": "{{ source }}", "procid": "{{ finding.id }}", "msgid": "{{ vendor_type }}"}
TEXT_TEMPLATE = "[{{ severity }}] {{ title }} / {{ description }} <end>"
SD_PATHS = {"id": "id", "source": "source", "type": "type", "vendor_type": "vendor_type", "severity": "severity",
            "score": "score", "finding_id": "finding.id", "category": "finding.category", "asset": "asset.name",
            "repository": "repository.name", "url": "links.vendor"}


def _path(doc: dict[str, Any], dotted: str) -> Any:
    value: Any = doc
    for step in dotted.split("."):
        value = (value or {}).get(step)
    return value


def check_syslog(got: dict[str, Any], event: Event, msg_format: str, multiline: bool) -> None:
    doc = event.to_dict()
    assert got["host"] == header_field(doc["asset"]["host"], 255).replace(":", "_").replace("[", "_")
    assert got["app"] == header_field(doc["source"], 48)
    assert got["procid"] == header_field(doc["finding"]["id"], 128)
    assert got.get("msgid", "") == ("" if header_field(doc["vendor_type"], 32) in ("", "-")
                                    else header_field(doc["vendor_type"], 32))
    sd = dict(got[".SDATA"]["siemrelay@32473"])
    truncated = sd.pop("truncated", None)
    expected_sd = {name: documented(str(_path(doc, p))) for name, p in SD_PATHS.items() if _path(doc, p) not in (None, "")}
    if truncated is None:
        assert sd == expected_sd
    else:  # structured data too long to fit: values cut, each cut marked, the element intact
        assert sd.keys() == expected_sd.keys()
        for name, value in sd.items():
            assert value == expected_sd[name] or (value.endswith(MARKER)
                                                  and expected_sd[name].startswith(value[:-len(MARKER)])), name
    if msg_format == "text":
        full = documented(f"[{doc['severity']}] {doc['title']} / {doc['description']} <end>",
                          keep="\t\r\n" if multiline else "\t", fold=not multiline)
    if truncated is None:
        assert (json.loads(got["msg"]) == json.loads(event.to_json())) if msg_format == "json" else (got["msg"] == full)
    else:  # cut to fit 65536 bytes: visible marker, flagged with the original size, the rest intact
        assert int(truncated) > 65536 and got["msg"].endswith(MARKER)
        if msg_format == "text":
            assert full.startswith(got["msg"][:-len(MARKER)])


@pytest.mark.parametrize("framing,msg_format", [("octet", "json"), ("octet", "text"), ("lf", "json"), ("lf", "text")])
def test_rfc5424_one_record_per_event_and_every_field_as_sent(receiver: dict[str, Any], framing: str,
                                                               msg_format: str) -> None:
    port, path = receiver["ports"][framing], receiver["files"][framing]
    sink = make_sink(SyslogSink, {"address": f"127.0.0.1:{port}", "transport": "tcp", "framing": framing,
                                  "msg_format": msg_format, "text_template": TEXT_TEMPLATE, **SYSLOG_HEADER})

    @EXAMPLES
    @given(batches())
    def prop(events: list[Event]) -> None:
        got = deliver(sink, events, path, lambda r: r.get("host") == "hsentinel")
        for record, event in zip(got, events):
            check_syslog(record, event, msg_format, multiline=framing == "octet")
        assert "truncated" in got[-1][".SDATA"]["siemrelay@32473"]  # the 100 KB event was cut, not split

    try:
        prop()
    finally:
        sink.close()


# ---------------------------------------------------------------- CEF through liblognorm

def cef_extensions(doc: dict[str, Any], event: Event) -> dict[str, str]:
    """docs/sinks.md's extension table for the fields these events carry, values as sent."""
    table = [("externalId", "id", "", "", 40), ("cat", "vendor_type", "", "", 1023),
             ("cs1", "finding.id", "cs1Label", "Finding ID", 4000), ("cs2", "finding.category", "cs2Label", "Category", 4000),
             ("cs3", "repository.name", "cs3Label", "Repository", 4000), ("cs4", "asset.name", "cs4Label", "Asset", 4000),
             ("cs5", "source", "cs5Label", "Source", 4000), ("cs6", "links.vendor", "cs6Label", "Vendor URL", 4000),
             ("cn1", "score", "cn1Label", "Score", 20), ("dhost", "asset.host", "", "", 1023),
             ("request", "finding.url", "", "", 1023), ("msg", "description", "", "", 1023)]
    out = {"rt": str(int(event.time.timestamp() * 1000))}
    for key, path, label_key, label, limit in table:
        value = _path(doc, path)
        if value in (None, ""):
            continue
        out[key] = documented(str(value)[:limit], keep="\r\n")  # CR/LF travel as \r \n escapes
        if label_key:
            out[label_key] = label
    return out


@pytest.mark.parametrize("header", ["rfc5424", "rfc3164", "none"])
def test_cef_one_record_per_event_and_liblognorm_reads_every_field(receiver: dict[str, Any], header: str,
                                                                    tmp_path: Path) -> None:
    path = receiver["files"]["raw"]
    sink = make_sink(CefSink, {"address": f"127.0.0.1:{receiver['ports']['raw']}", "header": header,
                               "hostname": "relay-host", "device_vendor": "Acme|Sec\\Corp", "device_product": "Relay"})

    @EXAMPLES
    @given(batches())
    def prop(events: list[Event]) -> None:
        got = deliver(sink, events, path, lambda r: "externalId=sentinel" in r["msg"])
        lines = [r["msg"] for r in got]
        for line, event in zip(parse_cef_lines(lines, tmp_path), events):
            doc = event.to_dict()
            assert line["event.tags"][0].startswith(header)
            cef = line["cef"]
            assert (cef["DeviceVendor"], cef["DeviceProduct"]) == ("Acme|Sec\\Corp", "Relay")
            assert cef["SignatureID"] == documented(doc["type"][:1023] or "event", fold=True)
            assert cef["Name"] == documented(doc["title"][:512] or doc["type"][:512], fold=True)
            expected = cef_extensions(doc, event)
            ext = cef["Extensions"]
            if not lines[events.index(event)].endswith(MARKER):
                assert ext == expected
                continue
            # over 65536 bytes: msg shortened first, then the line cut, the cut marked; the rest intact
            assert event.id == "huge"
            keys = list(ext)
            for key in keys[:-1]:
                assert key == "msg" and ext[key] == MARKER or ext[key] == expected[key], key
            assert ext[keys[-1]].endswith(MARKER)

    try:
        prop()
    finally:
        sink.close()


# ---------------------------------------------------------------- LEEF 2.0

_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def test_leef_one_record_per_event_and_every_attribute_as_sent(receiver: dict[str, Any]) -> None:
    """Hostile strings through the LEEF encoder, TCP and the real syslog-ng: one record per
    event, the header and every attribute read back exactly as the encoder meant them (the
    QRadar key mapping itself is tested in tests/unit/plugins/out_cef/test_out_cef_leef.py),
    and no control character left in any value."""
    path = receiver["files"]["raw"]
    sink = make_sink(CefSink, {"address": f"127.0.0.1:{receiver['ports']['raw']}", "format": "leef",
                               "hostname": "relay-host", "device_vendor": "Acme|Sec", "device_product": "Relay"})

    @EXAMPLES
    @given(batches())
    def prop(events: list[Event]) -> None:
        got = deliver(sink, events, path, lambda r: "externalId=sentinel" in r["msg"])
        for record, event in zip(got, events):
            msg = record["msg"]
            header, attrs = parse_leef(msg[msg.index("LEEF:"):])
            assert (header["vendor"], header["product"]) == ("Acme/Sec", "Relay")
            expected = {k: documented(v, fold=True, tab_space=True) for k, v in leef_attributes(sink.format, event.to_dict())}
            for value in [*header.values(), *attrs.values()]:
                assert not _CONTROL.search(value), value
            if not msg.endswith(MARKER):
                assert attrs == expected
                continue
            assert event.id == "huge"
            keys = list(attrs)
            for key in keys[:-1]:
                assert attrs[key] == expected[key] or attrs[key] == MARKER, key
            assert attrs[keys[-1]].endswith(MARKER)

    try:
        prop()
    finally:
        sink.close()


LEEF_KEYS = {"cat": "finding.category", "url": "finding.url", "resource": "asset.name", "identHostName": "asset.host"}
LEEF_CUSTOM = {"findingId": "finding.id", "title": "title", "detail": "description", "repo": "repository.name",
               "link": "links.vendor", "vtype": "vendor_type"}


def _at(event: Event, path: str) -> str:
    head, _, rest = path.partition(".")
    value = getattr(event, head)
    value = value.get(rest) if rest and isinstance(value, dict) else value
    return value if isinstance(value, str) else ""


def test_configured_leef_keys_carry_every_value_as_sent(receiver: dict[str, Any]) -> None:
    """``leef_keys`` and ``leef_custom_keys`` through TCP and the real syslog-ng: exactly the
    configured keys (plus sev, devTime, devTimeFormat), each value as sent after the documented
    LEEF neutralising (tabs and line breaks → space, controls → stand-ins, 4000 characters)."""
    path = receiver["files"]["raw"]
    sink = make_sink(CefSink, {"address": f"127.0.0.1:{receiver['ports']['raw']}", "format": "leef",
                               "leef_keys": LEEF_KEYS, "leef_custom_keys": LEEF_CUSTOM})

    @EXAMPLES
    @given(batches())
    def prop(events: list[Event]) -> None:
        got = deliver(sink, events, path, lambda r: "findingId=psentinel" in r["msg"])
        for record, event in zip(got, events):
            msg = record["msg"]
            _, attrs = parse_leef(msg[msg.index("LEEF:"):])
            expected = {key: documented(_at(event, p)[:4000], fold=True, tab_space=True)
                        for key, p in {**LEEF_KEYS, **LEEF_CUSTOM}.items() if _at(event, p)}
            expected["cat"] = expected.get("cat") or documented(event.type[:4000], fold=True, tab_space=True) or "event"
            assert 1 <= int(attrs.pop("sev")) <= 10
            assert attrs.pop("devTimeFormat") and attrs.pop("devTime")
            if event.id != "huge":
                assert attrs == expected
                continue
            # over 65536 bytes: the description (detail) shortened first, then the line cut, each cut marked
            detail, want = attrs.pop("detail", None), expected.pop("detail")
            assert detail is None or detail == want or detail.endswith(MARKER)
            if not msg.endswith(MARKER):
                assert attrs == expected
                continue
            keys = list(attrs)
            assert keys == [k for k in expected if k in attrs]
            for key in keys[:-1]:
                assert attrs[key] == expected[key], key
            assert attrs[keys[-1]].endswith(MARKER)

    try:
        prop()
    finally:
        sink.close()


def test_receiver_really_splits_an_oversize_message(receiver: dict[str, Any]) -> None:
    """The fault the limit guards against is real: this syslog-ng splits a message over
    64 KiB into two records, so the sinks' default max_message_bytes is what keeps one."""
    path = receiver["files"]["raw"]
    before = path.stat().st_size if path.exists() else 0
    with socket.create_connection(("127.0.0.1", receiver["ports"]["raw"]), timeout=5) as conn:
        conn.sendall(b"a" * 70_000 + b"\nend-of-oversize\n")
    got = wait_for(lambda: (lambda r: r if r and r[-1]["msg"] == "end-of-oversize" else None)(records(path, before)),
                   20, what="the record after the oversize one")
    assert len(got) == 3


# ---------------------------------------------------------------- the whole agent

ZEROPATH = Path(__file__).resolve().parents[2] / "fixtures" / "vendors" / "zeropath"
FORGED = "\x00<13>1 2025-01-01T00:00:00Z forged-host evilapp 666 EVIL - you were pwned"


def test_agent_forwards_hostile_zeropath_webhooks_as_one_record_each(
        receiver: dict[str, Any], write_config: Any, agent_process: Any, tmp_path: Path) -> None:
    """webhook → zeropath decoder → spool → workers → cef and syslog sinks (LF framing) → syslog-ng.

    A NUL followed by a syslog header in a vendor title, a 100 KB title and an unknown
    sourcetype holding ``{`` each arrive as exactly one record, with no forged one."""
    port = pick_port()
    cfg = write_config(f"""
        agent: {{state_dir: {tmp_path}/state}}
        sources:
          hooks:
            type: http
            address: "127.0.0.1:{port}"
            max_body_bytes: 1048576
            paths:
              /zeropath: {{decoder: zeropath}}
        sinks:
          arcsight: {{type: cef, address: "127.0.0.1:{receiver['ports']['raw']}", hostname: relay-host}}
          collector: {{type: syslog, address: "127.0.0.1:{receiver['ports']['lf']}", framing: lf,
                      hostname: relay-host, msg_format: text, text_template: "{{{{ title }}}}"}}
        routes:
          - {{name: all, to: [arcsight, collector]}}
        """)
    raw_file, lf_file = receiver["files"]["raw"], receiver["files"]["lf"]
    offsets = {p: (p.stat().st_size if p.exists() else 0) for p in (raw_file, lf_file)}
    agent = agent_process(cfg)
    wait_for_port(port)

    def post(payload: dict[str, Any]) -> int:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/zeropath", data=json.dumps(payload).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)

    forged = json.loads((ZEROPATH / "new-vulnerabilities-full-scan.json").read_text())
    forged["event"]["vulnerability"]["generatedTitle"] = "SQL injection" + FORGED
    huge = json.loads((ZEROPATH / "new-vulnerabilities-full-scan.json").read_text())
    huge["event"]["vulnerability"].update(id="vuln_huge", generatedTitle="T" * 100_000)
    unknown = json.loads((ZEROPATH / "scan-complete.json").read_text())
    unknown["sourcetype"] = "NEW_{0}_TYPE{"
    for payload in (forged, huge, unknown):
        assert post(payload) == 200

    def three(path: Path) -> list[dict[str, Any]] | None:
        got = records(path, offsets[path])
        return got if len(got) >= 3 else None

    cef = [r["msg"] for r in wait_for(lambda: three(raw_file), 30, what="3 CEF records")]
    syslog = wait_for(lambda: three(lf_file), 30, what="3 syslog records")
    agent.stop()
    assert len(records(raw_file, offsets[raw_file])) == 3 and len(records(lf_file, offsets[lf_file])) == 3
    assert not any("forged-host" in r.get("host", "") or r.get("app") == "evilapp" for r in syslog)
    stand_in = documented(FORGED)
    assert syslog[0]["host"] == "relay-host" and syslog[0]["msg"] == f"SQL injection{stand_in} (backend-api)"
    assert syslog[1]["msg"].endswith(MARKER) and "truncated" in syslog[1][".SDATA"]["siemrelay@32473"]
    assert syslog[2]["msg"] == "New {0} type{ (" + json.loads((ZEROPATH / "scan-complete.json").read_text())[
        "event"]["repository"]["name"] + ")"
    parsed = parse_cef_lines(cef, tmp_path)
    assert parsed[0]["cef"]["Name"] == f"SQL injection{stand_in} (backend-api)"
    assert parsed[1]["cef"]["Name"] == "T" * 512
    assert parsed[2]["cef"]["SignatureID"] == "zeropath.new__0__type"
