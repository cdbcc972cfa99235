"""The control-character neutralisers every text encoder shares (agent.sdk.wire_text)."""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.sdk.wire_text import (CONTROL_CHARS, cef_extension_value, cef_header_field, escape_json_c1, leef_value,
                             neutralise, sd_param_value, syslog_msg_text)

ALL_CONTROLS = "".join(chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)])


def test_every_control_gets_a_visible_stand_in() -> None:
    out = neutralise(ALL_CONTROLS + "\ud800")
    assert not CONTROL_CHARS.search(out)
    assert out[0] == "␀" and out[0x0A] == "␊" and out[0x1F] == "␟" and out[0x20] == "␡"
    assert set(out[0x21:]) == {"\ufffd"}
    out.encode("utf-8")  # lone surrogates are gone too


def test_keep_lets_named_whitespace_through() -> None:
    assert neutralise("a\tb\nc\x00", keep="\t") == "a\tb␊c␀"
    assert neutralise("plain text") == "plain text"


def test_per_format_escapers() -> None:
    assert cef_header_field("a|b\\c\r\nd\x00") == "a\\|b\\\\c d␀"
    assert cef_extension_value("k=v\\\r\n\x00\t") == "k\\=v\\\\\\r\\n␀␉"
    assert leef_value("a\tb\nc\x85") == "a b c\ufffd"
    assert sd_param_value('a"]\\\n\x00') == 'a\\"\\]\\\\␊␀'
    assert syslog_msg_text("a\nb\x00\t", multiline=True) == "a\nb␀\t"
    assert syslog_msg_text("a\r\nb\rc\x00\t", multiline=False) == "a b c␀\t"


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_json_c1_escaping_keeps_the_value(text: str) -> None:
    data = orjson.dumps({"t": text})
    escaped = escape_json_c1(data)
    assert orjson.loads(escaped) == {"t": text}
    assert not any(0x80 <= ord(c) <= 0x9F for c in escaped.decode("utf-8"))
