"""The one CEF severity mapping (docs/event-types.md) at its edges.

The ``cef`` and ``syslog`` decoders each had their own copy, and out of range they
disagreed (``11`` was critical through syslog, unknown through ``cef``). Both now call
:func:`agent.sdk.cef_severity`; a value outside the specification is unknown.
"""

from __future__ import annotations

import pytest

from agent.sdk import Severity, cef_severity


@pytest.mark.parametrize("value,expected", [
    # the band edges of 0-10, and fractions either side of them
    ("0", (Severity.LOW, 0)), ("3.9", (Severity.LOW, 39)), ("4", (Severity.MEDIUM, 40)), ("6.9", (Severity.MEDIUM, 69)),
    ("7", (Severity.HIGH, 70)), ("8.9", (Severity.HIGH, 89)), ("9", (Severity.CRITICAL, 90)),
    ("10", (Severity.CRITICAL, 100)), (" 10 ", (Severity.CRITICAL, 100)),
    # just outside the range, and what is no severity at all
    ("10.1", (Severity.UNKNOWN, 0)), ("11", (Severity.UNKNOWN, 0)), ("-1", (Severity.UNKNOWN, 0)),
    ("-0.1", (Severity.UNKNOWN, 0)), ("nan", (Severity.UNKNOWN, 0)), ("inf", (Severity.UNKNOWN, 0)),
    ("", (Severity.UNKNOWN, 0)), ("x", (Severity.UNKNOWN, 0)),
    # the words of the specification, in any case
    ("Low", (Severity.LOW, 25)), ("MEDIUM", (Severity.MEDIUM, 55)), ("high", (Severity.HIGH, 80)),
    ("Very-High", (Severity.CRITICAL, 95)), ("Unknown", (Severity.UNKNOWN, 0)),
])
def test_cef_severity_edges(value: str, expected: tuple[Severity, int]) -> None:
    assert cef_severity(value) == expected
