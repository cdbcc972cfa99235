"""The cef sink writes a value as it is when one check finds nothing to escape: the result is
always exactly what the SDK's escaper writes (the CEF and LEEF rules, and the neutralised
controls), for any text and any length limit."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from agent.sdk import cef_extension_value, cef_header_field, leef_header_field, leef_value
from plugins.out_cef.encoder import _leef_header, _leef_value, escape_header, escape_value

NASTY = ([chr(c) for c in range(0x20)] + ["\x7f"] + [chr(c) for c in range(0x80, 0xA0)]
         + list("\\|=\"' ]") + ["\r\n", "é", "🔐", "\u2028"])
text = st.lists(st.one_of(st.sampled_from(NASTY), st.characters(min_codepoint=0x20, max_codepoint=0x7E),
                          st.characters(exclude_categories=["Cs"])), max_size=40).map("".join)


@settings(max_examples=500, deadline=None)
@given(text, st.integers(1, 50))
def test_each_escaper_writes_what_the_sdk_writes(value: str, limit: int) -> None:
    assert escape_value(value) == cef_extension_value(value)
    assert escape_header(value, limit) == cef_header_field(value[:limit])
    assert _leef_value(value) == leef_value(value)
    assert _leef_header(value) == leef_header_field(value)[:255]


def test_plain_text_is_written_as_it_is_and_special_text_escaped() -> None:
    assert escape_value("web-01 / 10.0.0.1") == "web-01 / 10.0.0.1"
    assert escape_value("a=b\\c\nd\x00") == "a\\=b\\\\c\\nd\u2400"
    assert escape_header("a|b\\c", 10) == "a\\|b\\\\c"
    assert _leef_value("a\tb") == "a b" and _leef_header("a|b") == "a/b"
