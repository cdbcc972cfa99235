"""agent.sdk.normalize: the type table (every row, and its documentation), severity rules, times, payload guards."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from agent.sdk.decoder import DecodeError
from agent.model import Severity
from agent.sdk.normalize import (MAX_DEPTH, TYPE_TABLE, canonical, first_time, normalize_type, opt_list, opt_obj, req_obj,
                             req_str, severity_of_any, severity_of_cvss, severity_of_detectify, severity_of_name,
                             severity_of_number, severity_of_score, stable_id)

ROOT = Path(__file__).resolve().parents[4]
ROWS = [(vendor, vtype, ntype) for vendor, table in TYPE_TABLE.items() for vtype, ntype in table.items()]


@pytest.mark.parametrize("vendor,vendor_type,expected", ROWS, ids=[f"{v}:{t}" for v, t, _ in ROWS])
def test_every_table_row_normalises(vendor: str, vendor_type: str, expected: str) -> None:
    assert normalize_type(vendor, vendor_type) == expected
    assert re.fullmatch(r"[a-z]+(\.[a-z_]+)+", expected), "normalised types are dotted lower-case"


def _documented_rows() -> set[tuple[str, str, str]]:
    rows = set()
    for line in (ROOT / "docs" / "event-types.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0] in TYPE_TABLE:
            rows.add((cells[0], cells[1], cells[2]))
    return rows


def test_documentation_lists_exactly_the_table() -> None:
    documented = _documented_rows()
    assert documented == set(ROWS), (f"missing from docs: {sorted(set(ROWS) - documented)}; "
                                     f"not in the table: {sorted(documented - set(ROWS))}")


def test_zeropath_table_covers_all_24_documented_types() -> None:
    from plugins.dec_zeropath.rules import SOURCETYPES

    assert len(SOURCETYPES) == 24
    assert set(TYPE_TABLE["zeropath"]) == set(SOURCETYPES)


def test_pentest_table_covers_all_10_documented_types() -> None:
    from plugins.dec_pentest.decoder import EVENT_TYPES

    assert set(TYPE_TABLE["pentest"]) == set(EVENT_TYPES) and len(EVENT_TYPES) == 10


@pytest.mark.parametrize("source,vtype,expected", [
    ("zeropath", "BRAND_NEW_THING", "zeropath.brand_new_thing"),
    ("detectify", "Asset Moved!", "detectify.asset_moved"),
    ("acme", "x", "acme.x"),
    ("zeropath", "", "zeropath.unknown"),
    ("zeropath", "***", "zeropath.unknown"),
])
def test_unknown_vendor_types_stay_routable(source: str, vtype: str, expected: str) -> None:
    assert normalize_type(source, vtype) == expected


@pytest.mark.parametrize("value,sev", [
    ("CRITICAL", Severity.CRITICAL), ("critical", Severity.CRITICAL), ("High", Severity.HIGH),
    ("MEDIUM", Severity.MEDIUM), ("low", Severity.LOW), ("INFO", Severity.INFO), ("Informational", Severity.INFO),
    ("bogus", Severity.UNKNOWN), (None, Severity.UNKNOWN), (4, Severity.HIGH),
])
def test_severity_words_in_any_case(value: object, sev: Severity) -> None:
    found, score = severity_of_name(value)
    assert found is sev
    assert score == {0: 0, 1: 5, 2: 25, 3: 55, 4: 80, 5: 95}[int(sev)]


@pytest.mark.parametrize("cvss,sev,score", [
    (0.0, Severity.INFO, 0), (0.1, Severity.LOW, 1), (3.9, Severity.LOW, 39), (4.0, Severity.MEDIUM, 40),
    (6.9, Severity.MEDIUM, 69), (7.0, Severity.HIGH, 70), (8.9, Severity.HIGH, 89), (9.0, Severity.CRITICAL, 90),
    (10, Severity.CRITICAL, 100), ("7.5", Severity.HIGH, 75), ("x", Severity.UNKNOWN, 0), (None, Severity.UNKNOWN, 0),
])
def test_cvss_bands(cvss: object, sev: Severity, score: int) -> None:
    assert severity_of_cvss(cvss) == (sev, score)


@pytest.mark.parametrize("score,sev", [
    (0, Severity.INFO), (9, Severity.INFO), (10, Severity.LOW), (39, Severity.LOW), (40, Severity.MEDIUM),
    (69, Severity.MEDIUM), (70, Severity.HIGH), (89, Severity.HIGH), (90, Severity.CRITICAL), (100, Severity.CRITICAL),
])
def test_zeropath_score_levels(score: int, sev: Severity) -> None:
    assert severity_of_score(score) == (sev, score)


def test_score_is_clamped() -> None:
    assert severity_of_score(250) == (Severity.CRITICAL, 100)
    assert severity_of_score(-3) == (Severity.INFO, 0)
    assert severity_of_score(True) == (Severity.UNKNOWN, 0)


@pytest.mark.parametrize("value,expected", [
    (8.2, (Severity.HIGH, 82)),        # ZeroPath's own example: a decimal ≤ 10 is CVSS
    (9.5, (Severity.CRITICAL, 95)),
    (10.0, (Severity.CRITICAL, 100)),
    (0.5, (Severity.LOW, 5)),
    (8, (Severity.INFO, 8)),           # an integer is a 0-100 score
    (82, (Severity.HIGH, 82)),
    (82.5, (Severity.HIGH, 82)),       # a decimal above 10 is a score too
    (95, (Severity.CRITICAL, 95)),
])
def test_ambiguous_number_rule(value: float, expected: tuple[Severity, int]) -> None:
    assert severity_of_number(value) == expected
    assert severity_of_any(value) == expected


@pytest.mark.parametrize("text,expected", [
    ("8.2", (Severity.HIGH, 82)), ("82", (Severity.HIGH, 82)), ("HIGH", (Severity.HIGH, 80)),
    ("", (Severity.UNKNOWN, 0)), ("nan", (Severity.UNKNOWN, 0)), ("1e999", (Severity.UNKNOWN, 0)),
])
def test_severity_of_any_reads_strings(text: str, expected: tuple[Severity, int]) -> None:
    assert severity_of_any(text) == expected


@pytest.mark.parametrize("name,cvss,expected", [
    (None, 6.0, (Severity.HIGH, 60)), (None, 5.9, (Severity.MEDIUM, 59)), (None, 3.0, (Severity.MEDIUM, 30)),
    (None, 2.9, (Severity.LOW, 29)), (None, 0, (Severity.INFO, 0)), (None, 9.1, (Severity.CRITICAL, 91)),
    ("high", 6.2, (Severity.HIGH, 62)), ("critical", None, (Severity.CRITICAL, 95)),
    ("medium", 7.5, (Severity.MEDIUM, 75)),  # the vendor's word wins over the band; the score stays CVSS × 10
    (None, None, (Severity.UNKNOWN, 0)), (None, "6.2", (Severity.HIGH, 62)),
])
def test_detectify_bands(name: object, cvss: object, expected: tuple[Severity, int]) -> None:
    assert severity_of_detectify(name, cvss) == expected


@pytest.mark.parametrize("value", [
    "2025-01-15T14:30:00Z", "2025-01-15T14:30:00.000Z", "2025-01-15T15:30:00+01:00", "2025-01-15T09:30:00-05:00",
    "2025-01-15 14:30:00", 1736951400, 1736951400000, "1736951400", 1736951400.0,
])
def test_times_to_utc(value: object) -> None:
    assert first_time(value) == datetime(2025, 1, 15, 14, 30, tzinfo=timezone.utc)


def test_first_time_skips_what_is_not_a_time() -> None:
    assert first_time(None, "not a time", {"a": 1}, "2024-01-15T10:30:00.123456Z") == \
        datetime(2024, 1, 15, 10, 30, 0, 123456, tzinfo=timezone.utc)
    assert first_time(None, "") is None


def test_canonical_is_key_order_independent_and_ids_are_stable() -> None:
    a = canonical({"b": 1, "a": {"y": [1, 2], "x": None}})
    b = canonical({"a": {"x": None, "y": [1, 2]}, "b": 1})
    assert a == b == b'{"a":{"x":null,"y":[1,2]},"b":1}'
    assert stable_id("zeropath", a) == stable_id("zeropath", b)
    assert stable_id("zeropath", a) != stable_id("detectify", a)
    assert re.fullmatch(r"[0-9a-f]{32}", stable_id("zeropath", a))


def test_canonical_depth_limit_is_exact() -> None:
    ok: object = 1
    for _ in range(MAX_DEPTH):
        ok = [ok]
    assert canonical(ok).startswith(b"[")
    with pytest.raises(DecodeError, match=f"nested deeper than {MAX_DEPTH} levels"):
        canonical([ok])


def test_canonical_refuses_unstorable_values() -> None:
    with pytest.raises(DecodeError, match="64-bit"):
        canonical({"a": 2**70})


def test_accessors_name_the_field_and_the_problem() -> None:
    obj = {"a": [1], "b": {"c": 1}, "s": "x", "n": 7, "e": "", "t": True}
    with pytest.raises(DecodeError, match=r"^event\.a must be an object, found an array$"):
        opt_obj(obj, "a", "event")
    with pytest.raises(DecodeError, match=r"^\$\.b must be an array, found an object$"):
        opt_list(obj, "b", "$")
    with pytest.raises(DecodeError, match=r"^event\.zz is required and missing$"):
        req_obj(obj, "zz", "event")
    with pytest.raises(DecodeError, match=r"^x\.e is required and missing$"):
        req_str(obj, "e", "x")
    with pytest.raises(DecodeError, match=r"^x\.t must be a string, found a boolean$"):
        req_str(obj, "t", "x")
    assert req_str(obj, "n", "x") == "7"
    assert opt_obj(obj, "missing", "x") is None and opt_list(obj, "missing", "x") == []
