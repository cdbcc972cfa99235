"""Neutralising control characters before text goes on a line-oriented wire.

Receivers split records on bytes that event data can carry: syslog-ng ends a
newline-framed record at LF *and* at NUL, other collectors at CR or at C1 NEL, and a
record that ends early lets the rest of a vendor-controlled field be read as a new
record with a forged header. Every text encoder (CEF, LEEF, RFC 5424, RFC 3164) passes
each data-derived field through :func:`neutralise` first, so no control character from
an event reaches the wire raw, whatever the framing.

The stand-ins are visible and documented (docs/sinks.md, "Control characters"):

- C0 controls U+0000-U+001F become the Unicode Control Pictures U+2400-U+241F
  (NUL → ``␀``, LF → ``␊``), DEL U+007F becomes ``␡`` (U+2421);
- C1 controls U+0080-U+009F and lone surrogates (which cannot be encoded as UTF-8)
  become U+FFFD ``�``.

A position may *keep* some whitespace controls it can carry safely (a TAB in a
free-text MSG, LF in an octet-counted MSG) or map line breaks to spaces where a
format has always done so; each format's module decides, these functions stay pure.
"""

from __future__ import annotations

import re

__all__ = ["CONTROL_CHARS", "TRUNCATION_MARKER", "neutralise", "fold_line_breaks", "escape_json_c1", "cef_header_field",
           "cef_extension_value", "leef_header_field", "leef_value", "sd_param_value", "syslog_msg_text"]

#: every character that never reaches the wire raw: C0, DEL, C1 and lone surrogates
CONTROL_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")

#: appended to a value shortened to fit ``max_message_bytes`` so an analyst sees the cut
TRUNCATION_MARKER = "…[truncated]"

_C1_JSON = re.compile(b"\xc2([\x80-\x9f])")
_LINE_BREAK = re.compile("\r\n|\r|\n")


def _stand_in(char: str) -> str:
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)
    if code == 0x7F:
        return "\u2421"
    return "\ufffd"


def neutralise(text: str, keep: str = "") -> str:
    """Replace every control character of ``text`` not in ``keep`` by its visible stand-in.

    :param text: a value taken from an event (vendor-controlled).
    :param keep: control characters this position may carry raw (e.g. ``"\\t"``).
    :returns: ``text`` itself when it holds no control character (the common case).
    """
    if not CONTROL_CHARS.search(text):
        return text
    if keep:
        return CONTROL_CHARS.sub(lambda m: m.group() if m.group() in keep else _stand_in(m.group()), text)
    return CONTROL_CHARS.sub(lambda m: _stand_in(m.group()), text)


def fold_line_breaks(text: str, replacement: str = " ") -> str:
    """Replace each line break (CRLF, CR or LF) by ``replacement``: for single-line positions."""
    if "\n" in text or "\r" in text:
        return _LINE_BREAK.sub(replacement, text)
    return text


def escape_json_c1(data: bytes) -> bytes:
    """Write the C1 controls of UTF-8 JSON as ``\\u0080``-``\\u009f`` escapes.

    JSON encoders escape C0 but may emit C1 raw (RFC 8259 allows it); the escaped form
    decodes to the same value, so the JSON stays equal while no C1 byte pair reaches
    the wire. Safe on bytes: in valid UTF-8, ``C2 80``-``C2 9F`` only ever encode these
    characters, and JSON structure is ASCII, so they occur only inside strings.
    """
    if b"\xc2" not in data:
        return data
    return _C1_JSON.sub(lambda m: b"\\u00%02x" % m.group(1)[0], data)


# Per-format field escapers: one pure function per position, used by every encoder that
# writes that format, so the neutralisation and the format's own escaping stay together.

def cef_header_field(text: str) -> str:
    """A CEF header field: line breaks become spaces, other controls stand-ins, then
    ``\\`` and ``|`` escaped with a backslash (CEF has no escape for controls there)."""
    text = neutralise(fold_line_breaks(text))
    if "\\" in text or "|" in text:
        text = text.replace("\\", "\\\\").replace("|", "\\|")
    return text


def cef_extension_value(text: str) -> str:
    """A CEF extension value: ``\\`` → ``\\\\``, ``=`` → ``\\=``, CR → ``\\r``, LF → ``\\n``
    (the specification's escapes); every other control becomes its stand-in."""
    text = neutralise(text, keep="\r\n")
    if "\\" in text:
        text = text.replace("\\", "\\\\")
    if "=" in text:
        text = text.replace("=", "\\=")
    if "\r" in text:
        text = text.replace("\r", "\\r")
    if "\n" in text:
        text = text.replace("\n", "\\n")
    return text


def leef_header_field(text: str) -> str:
    """A LEEF header field: ``|`` becomes ``/``, TAB and line breaks spaces, other controls stand-ins."""
    return neutralise(fold_line_breaks(text).replace("\t", " ").replace("|", "/"))


def leef_value(text: str) -> str:
    """A LEEF attribute value (tab-delimited, no escape mechanism): TAB and line breaks
    become spaces, other controls stand-ins."""
    return neutralise(fold_line_breaks(text).replace("\t", " "))


def sd_param_value(text: str) -> str:
    """An RFC 5424 PARAM-VALUE: every control becomes its stand-in, then ``"``, ``\\``
    and ``]`` are escaped as RFC 5424 §6.3.3 requires."""
    text = neutralise(text)
    if '"' in text or "\\" in text or "]" in text:
        return text.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")
    return text


def syslog_msg_text(text: str, multiline: bool) -> str:
    """A free-text syslog MSG: TAB is kept; line breaks are kept when the framing can carry
    them (octet counting, UDP), else become spaces; every other control becomes its stand-in."""
    if multiline:
        return neutralise(text, keep="\t\r\n")
    return neutralise(fold_line_breaks(text), keep="\t")
