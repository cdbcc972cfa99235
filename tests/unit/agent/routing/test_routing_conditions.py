"""The ``when:`` language: every shortcut, operator and combinator, matching and not."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from agent.routing.conditions import CondCompiler
from agent.model import Event
from agent.testing import make_event


def matches(when: dict[str, Any], ev: Event) -> bool:
    errors: list[Any] = []
    cond = CondCompiler(errors).compile(when)
    assert not errors, errors
    return cond.test(ev)


EV = make_event(
    type="finding.new", vendor_type="NEW_VULNERABILITIES_PR", source="zeropath", severity="high", score=82,
    title="SQL injection in /login", repository={"name": "backend-api", "branch": "main"},
    asset={"name": "api.example.com", "ip": "10.0.0.5"}, organization={"name": "Acme"},
    finding={"cwe": 89, "cvss": 8.2, "status": "open"}, tags=["pci", "team-payments"],
    raw={"event": {"id": "e-1", "labels": ["prod"]}}, origin={"input": "webhooks"},
    time=datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc),
)

CASES = [
    # shortcuts: exact, glob, list, '*'
    ({"type": "finding.new"}, True), ({"type": "finding.*"}, True), ({"type": ["scan.*", "finding.new"]}, True),
    ({"type": "scan.*"}, False), ({"type": "*"}, True),
    ({"vendor_type": "NEW_VULNERABILITIES_*"}, True), ({"vendor_type": "SCAN_*"}, False),
    ({"source": ["zeropath", "escape"]}, True), ({"source": "detectify"}, False),
    # severity thresholds include everything above, like ZeroPath's
    ({"severity": ">= high"}, True), ({"severity": ">= critical"}, False), ({"severity": "> medium"}, True),
    ({"severity": "high"}, True), ({"severity": "< high"}, False), ({"severity": ["critical", "high"]}, True),
    ({"severity": ["low", "medium"]}, False),
    ({"severity": {">=": "medium", "<": "critical"}}, True), ({"severity": {"in": ["low", "medium"]}}, False),
    ({"severity": 4}, True),
    # score ranges
    ({"score": ">= 70"}, True), ({"score": "< 80"}, False), ({"score": "70..89"}, True), ({"score": "40-69"}, False),
    ({"score": 82}, True), ({"score": {">": 80, "<=": 90}}, True),
    # repository / asset / organisation names: a chosen list, or all
    ({"repository": ["backend-*", "infra"]}, True), ({"repository": "frontend"}, False), ({"repository": "*"}, True),
    ({"asset": "*.example.com"}, True), ({"organization": "Acme"}, True), ({"organisation": ["Other"]}, False),
    ({"repository": {"regex": "^backend-"}}, True),
    # tags
    ({"tags": "pci"}, True), ({"tags": ["gdpr", "team-*"]}, True), ({"tags": "gdpr"}, False),
    # any field by dotted path, each operator
    ({"finding.status": "open"}, True), ({"finding.cwe": [79, 89]}, True),
    ({"finding.status": {"eq": "open"}}, True), ({"finding.status": {"eq": "closed"}}, False),
    ({"finding.status": {"ne": "closed"}}, True), ({"finding.status": {"ne": "open"}}, False),
    ({"finding.cwe": {"in": [79, 89]}}, True), ({"finding.cwe": {"in": [22]}}, False),
    ({"finding.cwe": {"not_in": [22]}}, True), ({"finding.cwe": {"not_in": [89]}}, False),
    ({"asset.name": {"glob": "api.*"}}, True), ({"asset.name": {"glob": "www.*"}}, False),
    ({"title": {"regex": "(?i)sql"}}, True), ({"title": {"regex": "^XSS"}}, False),
    ({"raw.event.labels": {"glob": "pr*"}}, True),  # a list matches when any item does
    ({"asset.ip": {"exists": True}}, True), ({"asset.mac": {"exists": True}}, False),
    ({"asset.mac": {"exists": False}}, True), ({"raw.event.nope.deeper": {"exists": False}}, True),
    ({"tags": {"contains": "pci"}}, True), ({"title": {"contains": "login"}}, True), ({"tags": {"contains": "x"}}, False),
    ({"finding.cvss": {"<": 9}}, True), ({"finding.cvss": {"<=": 8.2}}, True), ({"finding.cvss": {">": 8.2}}, False),
    ({"finding.cvss": {">=": 7}}, True), ({"finding.status": {">": 3}}, False),  # wrong type: no match, no crash
    ({"time": {">=": "2025-03-01T00:00:00Z"}}, True), ({"time": {"<": "2025-01-01"}}, False),
    ({"origin.input": "webhooks"}, True), ({"raw.event.id": "e-1"}, True), ({"severity_id": {">=": 4}}, True),
    # combinators
    ({"all": [{"type": "finding.*"}, {"severity": ">= high"}]}, True),
    ({"all": [{"type": "finding.*"}, {"severity": ">= critical"}]}, False),
    ({"any": [{"source": "escape"}, {"score": ">= 80"}]}, True), ({"any": [{"source": "escape"}, {"score": "< 10"}]}, False),
    ({"not": {"repository": "sandbox-*"}}, True), ({"not": {"source": "zeropath"}}, False),
    ({"not": {"any": [{"tags": "gdpr"}, {"finding.status": "closed"}]}, "type": "finding.*"}, True),
    ({}, True),
]


@pytest.mark.parametrize("when,expected", CASES, ids=lambda v: repr(v)[:60])
def test_condition(when: dict[str, Any], expected: bool) -> None:
    assert matches(when, EV) is expected


def test_missing_groups_do_not_match_name_lists_but_star_means_all() -> None:
    bare = make_event(repository=None, organization=None)
    assert not matches({"repository": ["backend-*"]}, bare)
    assert matches({"repository": "*"}, bare)  # "all repositories" is no filter at all
    assert matches({"finding.status": {"ne": "open"}}, bare)
    assert not matches({"finding.cvss": {">=": 0}}, bare)


@pytest.mark.parametrize("when,fragment", [
    ({"severity": ">= 7"}, "unknown severity '7'"),
    ({"severity": True}, "expected a severity"),
    ({"severity": {">=": "urgent"}}, "unknown severity 'urgent'"),
    ({"score": ">= high"}, "score: expected a number"),
    ({"score": {">=": "70"}}, "score: '>=' expects a number"),
    ({"score": "90..10"}, "is empty"),
    ({"title": {"regex": "(unclosed"}}, "bad regex '(unclosed'"),
    ({"title": {"matches": "x"}}, "unknown operator 'matches'"),
    ({"title": {"eqq": "x"}}, "did you mean 'eq'"),
    ({"finding.cwe": {"in": 89}}, "'in' expects a list"),
    ({"asset.ip": {"exists": "yes"}}, "'exists' expects true or false"),
    ({"finding.cvss": {"<": [1]}}, "'<' expects a number"),
    ({"time": {">=": "last tuesday"}}, "expects an ISO 8601 time"),
    ({"serverity": ">= high"}, "did you mean 'severity'"),
    ({"any": {"type": "x"}}, "'any' expects a non-empty list"),
    ({"type": 5}, "expected a string, a glob or a list"),
])
def test_bad_conditions_are_reported(when: dict[str, Any], fragment: str) -> None:
    errors: list[Any] = []
    CondCompiler(errors).compile(when)
    assert errors and fragment in errors[0][1], errors


def test_errors_carry_the_key_path_of_the_offending_operator() -> None:
    errors: list[Any] = []
    CondCompiler(errors).compile({"all": [{"type": "x"}, {"title": {"regex": "("}}]})
    assert errors[0][0] == ("all", 1, "title", "regex")


def test_why_not_names_the_failing_condition_and_the_value_seen() -> None:
    cond = CondCompiler([]).compile({"type": "finding.*", "severity": ">= critical"})
    assert cond.why_not(EV) == "severity >= critical failed: found 'high'"
    cond = CondCompiler([]).compile({"repository": ["infra"]})
    assert "found 'backend-api'" in cond.why_not(EV)
