"""The syslog decoder against its frozen copy: the same Events, the same native JSON bytes.

The decoder's per-message work was cut (the id's hash seeded once per decoder, the title
found without splitting the whole text, no sshd/sudo lookup without an APP-NAME, one
scan for CEF and LEEF). :mod:`syslog_reference` is the decoder as it was before; on
generated RFC 5424 and RFC 3164 messages (structured data with escapes and repeated
names, BOMs, odd and invalid timestamps, every header field at and over its limit,
whitespace and other scripts' digits where the header has fields, CEF and LEEF inside,
sshd and sudo lines, invalid UTF-8) and generated options, both must give equal Events
whose native JSON is byte for byte the same, or fail with the same error.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
import orjson

from agent.model import Event, format_time
from agent.sdk.record import RawRecord
from plugins.dec_syslog.decoder import SyslogDecoder
from tests.unit.plugins.dec_syslog.syslog_reference import ReferenceSyslogDecoder

# characters that matter to the header's regular expression and to escaping
ODD = ["\t", "\u00a0", "\u200b", "\u0663", "\u00b2", "\ufeff", "\x00", "\r", "\n", "]", '"', "\\", "=", "[", "-", "é", "\U0001f600"]
word = st.text(alphabet=st.sampled_from(list("abcXYZ019.:_/@-") + ODD), min_size=0, max_size=8)
field = st.one_of(st.just("-"), st.text(alphabet=st.sampled_from(list("abcdefghij0123456789.-_:/")), min_size=1, max_size=6),
                  word, st.integers(0, 300).map(lambda n: "a" * n))

timestamps_5424 = st.one_of(
    st.just("-"), st.just("2003-10-11T22:14:15.003Z"), st.just("2025-01-15T14:30:00.5+02:00"),
    st.just("2025-01-15T14:30:00.123456789-07:30"), st.just("2025-01-15T14:30:00"), st.just("2025-13-45T99:00:00Z"),
    st.just("Jan 15 14:30:00"), st.just("2024-02-29T23:59:59.999999+14:00"), word,
    st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2100, 1, 1),
                 timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]))
    .map(lambda d: d.isoformat().replace("+00:00", "Z")))

sd_value = st.lists(st.sampled_from(list("ab c1") + ['\\"', "\\\\", "\\]", "\\x", '"', "]"] + ODD), max_size=6).map("".join)
sd_param = st.tuples(st.sampled_from(["a", "b", "iut", "class", "x y", ""]), sd_value).map(lambda kv: f' {kv[0]}="{kv[1]}"')
sd_element = st.tuples(st.sampled_from(["ex@32473", "origin", "meta", "", "a b"]), st.lists(sd_param, max_size=3),
                       st.sampled_from(["]", "]", "]", "", " ]", "x]"])).map(lambda e: f"[{e[0]}{''.join(e[1])}{e[2]}")
structured = st.one_of(st.just("-"), st.just(""), st.lists(sd_element, min_size=1, max_size=3).map("".join), word)

MESSAGES = [
    "", "\ufeffAn application event log entry...",
    '{"id": "e1", "type": "finding.new", "title": "x", "nested": {"a": [1, 2]}}',
    "CEF:0|Security|threatmanager|1.0|100|worm successfully stopped|10|src=10.0.0.1 dst=2.1.2.2 spt=1232",
    "CEF:0|broken", "host CEF:0|Vendor Inc|Prod|2|sig|name|5|suser=bob act=blocked",
    "LEEF:2.0|Lancope|StealthWatch|1.0|41|^|src=10.0.1.8^dst=10.0.0.5^sev=5^usrName=joe",
    "LEEF:1.0|Vendor|Product|1|ev|", "LEEF:broken",
    "Failed password for invalid user admin from 198.51.100.23 port 40022 ssh2",
    "Accepted publickey for root from 2001:db8::1 port 22 ssh2", "Invalid user test from 203.0.113.9",
    "   alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id -u",
    "bob : 3 incorrect password attempts ; TTY=pts/1 ; PWD=/ ; USER=root ; COMMAND=/bin/sh",
    "line one\nline two\n", "  padded  ", "x" * 300, "é" * 255 + "\nrest", " " * 3]
messages = st.one_of(st.sampled_from(MESSAGES), st.text(max_size=40), st.text(max_size=300))


@st.composite
def rfc5424(draw: Any) -> str:
    pri = draw(st.one_of(st.integers(0, 191).map(str), st.sampled_from(["192", "0", "007", "1234", "", "\u0661\u0663", "x"])))
    version = draw(st.sampled_from(["1", "1", "1", "2", "01", "10", "", "\u0661"]))
    app = draw(st.one_of(field, st.sampled_from(["sshd", "sudo", "SSHD"])))
    procid = draw(st.one_of(field, st.sampled_from(["123", "\u00b2", "0"])))
    header = [f"<{pri}>{version}", draw(timestamps_5424), draw(field), app, procid, draw(field)]
    sep = draw(st.sampled_from([" ", " ", " ", "  ", "\t"]))
    text = sep.join(header)
    tail = draw(st.sampled_from(["sd+msg", "sd", "none", "space"]))
    if tail == "sd+msg":
        text += " " + draw(structured) + draw(st.sampled_from([" ", " ", "", "x"])) + draw(messages)
    elif tail == "sd":
        text += " " + draw(structured)
    elif tail == "space":
        text += " "
    return text + draw(st.sampled_from(["", "", "\n", "\r\n", "\x00", "\n\n"]))


@st.composite
def rfc3164(draw: Any) -> str:
    pri = draw(st.one_of(st.integers(0, 191).map(lambda p: f"<{p}>"), st.sampled_from(["", "<", "<x>", "<999>", "<13"])))
    month = draw(st.sampled_from(["Jan", "Feb", "Oct", "Dec", "Foo", "jan"]))
    day = draw(st.sampled_from([" 5", "15", "30", "31", "5", "  5"]))
    clock = draw(st.sampled_from(["14:30:00", "23:59:59.123", "00:00:00.1234567", "24:00:00", "1:2:3"]))
    year = draw(st.sampled_from(["", "", " 2023", " 0000"]))
    stamp = draw(st.one_of(st.just(f"{month} {day} {clock}{year}"), st.just("2025-01-15T14:30:00.123+01:00"),
                           st.just("2025-01-15T14:30:00"), st.just("2025-02-30T14:30:00Z"), st.just("")))
    host = draw(st.sampled_from(["host ", "web-1.example ", "", "sshd[1]: ", "10.0.0.1 "]))
    tag = draw(st.sampled_from(["sshd[123]: ", "sudo: ", "/usr/sbin/SSHD[7]: ", "su: ", "app/worker[pid-1]: ", "nginx:",
                                "CEF:0|x|y|1|2|n|3|", "", "\u00b2[1]: ", "t" * 49 + ": "]))
    return f"{pri}{stamp} {host}{tag}{draw(messages)}"


texts = st.one_of(rfc5424(), rfc3164(), st.text(max_size=60), messages)
payloads = st.one_of(texts.map(lambda t: t.encode("utf-8", "surrogatepass")),
                     st.binary(max_size=60), texts.map(lambda t: b"\xff\xfe" + t.encode("utf-8", "surrogatepass")))
options = st.fixed_dictionaries({}, optional={
    "source": st.sampled_from(["syslog", "fw", "é-source"]), "event_type": st.sampled_from(["log", "syslog.line"]),
    "timezone": st.sampled_from(["UTC", "Europe/Paris", "America/New_York", "Pacific/Kiritimati"]),
    "severity_from_priority": st.booleans(), "cef": st.booleans(), "leef": st.booleans()})
received = st.sampled_from([datetime(2025, 1, 15, 15, 0, tzinfo=timezone.utc), datetime(2025, 1, 1, 0, 30, tzinfo=timezone.utc),
                            datetime(2024, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc),
                            datetime(2026, 12, 6, 20, 0, 0, 123456, tzinfo=timezone.utc)])
origins = st.sampled_from([{"input": "sl", "peer": "127.0.0.1", "transport": "tcp"},
                           {"input": "sl", "peer": "::1", "transport": "tls", "flags": ["truncated"]}])


def outcome(decoder: Any, record: RawRecord) -> tuple[str, Any]:
    try:
        return "events", decoder.decode(record)
    except Exception as exc:  # the reference's failures must be the decoder's failures
        return "error", (type(exc).__name__, str(exc))


def same(config: dict[str, Any], data: bytes, when: datetime, origin: dict[str, Any]) -> None:
    new, ref = SyslogDecoder(config), ReferenceSyslogDecoder(config)
    got = outcome(new, RawRecord(data, new, origin, when))
    want = outcome(ref, RawRecord(data, ref, origin, when))
    assert got[0] == want[0], (got, want)
    if got[0] == "error":
        assert got == want
        return
    assert len(got[1]) == len(want[1])
    for a, b in zip(got[1], want[1]):
        assert isinstance(a, Event)
        assert a == b
        if a.origin is None:  # the intake puts the record's origin on such events
            a.origin = b.origin = origin
        assert a.to_json() == b.to_json()
    # the native shortcut (Decoder.decode_native) gives the same dicts, key order included
    record = RawRecord(data, new, origin, when)
    native = new.decode_native(record, format_time(when))
    assert native is not None
    assert [list(d.items()) for d in native] == [list(b.to_dict().items()) for b in want[1]]
    assert [orjson.dumps(d, option=orjson.OPT_NON_STR_KEYS) for d in native] == [b.to_json() for b in want[1]]


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=payloads, config=options, when=received, origin=origins)
def test_same_events_as_the_frozen_decoder(data: bytes, config: dict[str, Any], when: datetime,
                                           origin: dict[str, Any]) -> None:
    same(config, data, when, origin)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=rfc5424(), config=options, when=received)
def test_same_events_for_rfc5424(text: str, config: dict[str, Any], when: datetime) -> None:
    same(config, text.encode("utf-8", "surrogatepass"), when, {"input": "sl"})


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=rfc3164(), config=options, when=received)
def test_same_events_for_rfc3164(text: str, config: dict[str, Any], when: datetime) -> None:
    same(config, text.encode("utf-8", "surrogatepass"), when, {"input": "sl"})


def test_the_bench_message_and_the_rfc_examples() -> None:
    """The relay benchmark's message shape and the RFCs' own examples, always checked."""
    bench = (b'<134>1 2026-12-06T20:00:00.123456Z bench-host siem-events - - - {"id": "a", "time": "2026-12-06T20:00:00Z", '
             b'"title": "' + b"t" * 400 + b'"}')
    examples = [bench,
                b"<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - BOM'su root' failed for lonvick on /dev/pts/8",
                b'<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" '
                b'eventSource="Application" eventID="1011"] \xef\xbb\xbfAn application event log entry...',
                b"<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
                b"<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!"]
    examples += [f"<38>Dec  6 20:00:01 host {tag}: {text}".encode() for tag in ("sshd[42]", "sudo", "app") for text in MESSAGES]
    examples += [f"<86>1 2026-12-06T20:00:01Z host {app} 42 - - {text}".encode() for app in ("sshd", "sudo", "-")
                 for text in MESSAGES]
    for data in examples:
        same({}, data, datetime(2026, 12, 6, 20, 0, tzinfo=timezone.utc), {"input": "relay"})
