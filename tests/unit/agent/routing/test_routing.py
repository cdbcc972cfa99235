"""The router: order, first match, continue, default, enabled, fan-out, variants, memoisation."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.config.loader import load_yaml_text
from agent.errors import Problem
from agent.model import Event
from agent.routing.router import Route, Router, compile_routes
from agent.config.schema import ROUTE_SCHEMA, validate_section, with_nested_defaults
from agent.testing import make_event

SINKS = {"siem", "slack", "archive", "teams"}


def rules(text: str, sinks: set[str] = SINKS) -> Router:
    """Compile ``routes:`` YAML exactly as validate_config does; fail on any problem."""
    data, smap = load_yaml_text(textwrap.dedent(text), "rules.yaml")
    problems: list[Problem] = []
    docs = [validate_section(r, with_nested_defaults(ROUTE_SCHEMA), smap, ("routes", i), problems)
            for i, r in enumerate(data["routes"])]
    router = compile_routes([d for d in docs if d is not None], sinks, smap, problems)
    assert not problems, problems
    return router


def test_first_match_wins_and_default_takes_the_rest() -> None:
    r = rules("""
        routes:
          - name: default
            to: [archive]
          - name: findings
            when: {type: "finding.*"}
            to: [siem]
          - name: critical
            when: {severity: critical}
            to: [slack]
    """)
    assert r.route(make_event(type="finding.new", severity="critical")) == ("siem",)
    assert r.route(make_event(type="scan.completed", severity="critical")) == ("slack",)
    assert r.route(make_event(type="scan.completed", severity="low")) == ("archive",)
    assert r.plan(make_event(type="scan.completed", severity="low")).routes == ("default",)


def test_continue_fans_out_in_route_order_without_duplicates() -> None:
    r = rules("""
        routes:
          - name: all-to-siem
            to: [siem]
            continue: true
          - name: high
            when: {severity: ">= high"}
            to: [slack, siem]
            continue: true
          - name: zeropath
            when: {source: zeropath}
            to: [teams]
          - name: after-stop
            to: [archive]
    """)
    ev = make_event(severity="critical", source="zeropath")
    assert r.route(ev) == ("siem", "slack", "teams")
    assert r.plan(ev).routes == ("all-to-siem", "high", "zeropath")
    assert r.route(make_event(severity="low", source="x")) == ("siem", "archive")


def test_disabled_route_is_skipped_and_no_default_means_unrouted() -> None:
    r = rules("""
        routes:
          - name: paused
            enabled: false
            to: [slack]
          - name: findings
            when: {type: finding.new}
            to: [siem]
    """)
    assert r.route(make_event(type="finding.new")) == ("siem",)
    plan = r.plan(make_event(type="scan.completed"))
    assert plan.routes == () and plan.sinks == ()
    assert [v.status for v in r.explain(make_event(type="finding.new"))] == ["disabled", "matched"]


def test_a_route_with_no_sinks_consumes_the_event() -> None:
    r = rules("""
        routes:
          - name: ignore-heartbeats
            when: {type: heartbeat}
          - name: default
            to: [archive]
    """)
    plan = r.plan(make_event(type="heartbeat"))
    assert plan.routes == ("ignore-heartbeats",) and plan.branches == ()
    assert r.route(make_event(type="finding.new")) == ("archive",)


def test_transforms_make_one_variant_per_distinct_transform() -> None:
    r = rules("""
        routes:
          - name: slack-no-raw
            when: {severity: ">= high"}
            to: [slack]
            transforms: [{redact: [raw]}]
            continue: true
          - name: teams-no-raw
            when: {severity: ">= high"}
            to: [teams]
            transforms: [{redact: [raw]}]
            continue: true
          - name: siem-everything
            to: [siem, slack]
    """)
    ev = make_event(severity="critical", raw={"secret": "s3cr3t"})
    plan = r.plan(ev)
    # slack is claimed by its first route (redacted); equal transforms share one variant
    assert [(t is None, sinks) for t, sinks in plan.branches] == [(False, ("slack", "teams")), (True, ("siem",))]
    got = {sinks: variant for variant, sinks in r.dispatch(ev)}
    assert got[("slack", "teams")].raw is None
    assert got[("siem",)] is ev and ev.raw == {"secret": "s3cr3t"}  # the original is untouched


def test_drop_transform_removes_only_that_routes_sinks() -> None:
    r = rules("""
        routes:
          - name: chat-only-new
            to: [slack]
            transforms: [{drop: {type: {ne: finding.new}}}]
            continue: true
          - name: siem
            to: [siem]
    """)
    assert r.route(make_event(type="finding.new")) == ("slack", "siem")
    assert r.route(make_event(type="finding.resolved")) == ("siem",)


def test_a_plan_that_reads_nothing_of_the_event_is_known_up_front() -> None:
    """Only routes without conditions: every event gets the same plan, which the intake
    takes without asking the router per event; any condition makes it per event again."""
    only_default = rules("""
        routes:
          - name: default
            to: [archive]
    """)
    unconditional = rules("""
        routes:
          - name: all
            to: [siem]
            continue: true
          - name: also
            to: [archive]
          - name: never
            to: [teams]
    """)
    for router, routes in ((only_default, ("default",)), (unconditional, ("all", "also"))):
        assert router.constant is not None and router.constant.routes == routes
        for ev in (make_event(type="finding.new"), make_event(type="scan.completed", severity="low")):
            assert router.plan(ev) is router.constant
    conditional = rules("""
        routes:
          - name: findings
            when: {type: "finding.*"}
            to: [siem]
          - name: default
            to: [archive]
    """)
    assert conditional.constant is None
    assert Router([Route("f", lambda e: True, ("siem",))]).constant is None  # a predicate: called per event


def test_router_built_by_hand_still_works() -> None:
    """Other modules and plugins build Routers from plain predicates (the core's API)."""
    r = Router([Route("f", lambda e: e.type.startswith("finding."), ("siem", "slack")),
                Route("g", lambda e: e.severity_id >= 4, ("teams",))],
               default=Route("default", lambda e: True, ("archive",)))
    assert r.route(make_event(type="finding.new")) == ("siem", "slack")
    assert r.route(make_event(type="scan.completed", severity="high")) == ("teams",)
    assert r.route(make_event(type="scan.completed", severity="low")) == ("archive",)


def test_memoised_decisions_still_honour_per_event_conditions() -> None:
    r = rules("""
        routes:
          - name: sqli
            when: {type: finding.new, title: {regex: "(?i)sql"}}
            to: [slack]
          - name: default
            to: [archive]
    """)
    for _ in range(3):  # same features every time: memoised candidates, not a memoised answer
        assert r.route(make_event(type="finding.new", title="SQL injection")) == ("slack",)
        assert r.route(make_event(type="finding.new", title="XSS")) == ("archive",)


def test_unhashable_feature_value_is_routed_without_the_memo() -> None:
    r = rules("""
        routes:
          - name: backend
            when: {repository: "backend-*"}
            to: [siem]
          - name: default
            to: [archive]
    """)
    assert r.route(make_event(repository={"name": ["odd", "list"]})) == ("archive",)
    exact = rules("""
        routes:
          - name: named
            when: {repository: [backend-api], organization: Acme, tags: pci}
            to: [siem]
    """)
    odd = make_event(repository={"name": {"a": 1}}, organization={"name": ["Acme"]}, tags=[["pci"]])
    assert exact.route(odd) == ()
    assert r.route(make_event(repository={"name": "backend-api"})) == ("siem",)


def test_cache_is_bounded() -> None:
    r = rules("""
        routes:
          - name: scored
            when: {score: ">= 50"}
            to: [siem]
    """)
    r.cache_size = 8
    for score in range(100):
        assert r.route(make_event(score=score)) == (("siem",) if score >= 50 else ())
    assert all(len(memo) <= 8 for _, memo, _, _ in r._index)


RULESET = """
routes:
  - name: crit-backend
    when: {severity: ">= high", repository: ["backend-*", "api"], type: "finding.*"}
    to: [slack]
    transforms: [{redact: [raw]}]
    continue: true
  - name: zp
    when: {source: zeropath, vendor_type: "NEW_VULNERABILITIES_*"}
    to: [siem]
  - name: scored
    when: {any: [{score: "70..100"}, {title: {regex: "(?i)rce"}}], not: {organization: "sandbox-*"}}
    to: [teams]
    continue: true
  - name: tagged
    when: {tags: "pci", finding.cwe: {in: [79, 89]}}
    to: [siem]
  - name: default
    to: [archive]
"""

events = st.builds(
    lambda sev, typ, src, vt, score, repo, org, title, tags, cwe: make_event(
        severity=sev, type=typ, source=src, vendor_type=vt, score=score, title=title, tags=tags,
        repository={"name": repo} if repo else None, organization={"name": org} if org else None,
        finding={"cwe": cwe} if cwe is not None else None),
    st.sampled_from(["info", "low", "medium", "high", "critical"]),
    st.sampled_from(["finding.new", "finding.resolved", "scan.completed"]),
    st.sampled_from(["zeropath", "escape", "detectify"]),
    st.sampled_from(["NEW_VULNERABILITIES_PR", "SCAN_COMPLETE", ""]),
    st.integers(0, 100),
    st.sampled_from(["backend-api", "api", "frontend", None]),
    st.sampled_from(["acme", "sandbox-1", None]),
    st.sampled_from(["RCE in parser", "XSS", "SQL injection"]),
    st.lists(st.sampled_from(["pci", "gdpr"]), max_size=2),
    st.sampled_from([79, 89, 22, None]),
)


def _reference(router: Router, ev: Event) -> tuple[str, ...]:
    """Route by evaluating every predicate in order, with no memoisation."""
    out: list[str] = []
    matched = False
    for route in router.routes:
        if route.predicate(ev):
            matched = True
            out += [s for s in route.to if s not in out]
            if not route.cont:
                break
    if not matched and router.default is not None:
        return router.default.to
    return tuple(out)


@settings(max_examples=300, deadline=None)
@given(st.lists(events, min_size=1, max_size=5))
def test_memoised_routing_equals_plain_evaluation(evs: list[Any]) -> None:
    router = rules(RULESET)
    for ev in evs:
        assert router.route(ev) == _reference(router, ev)
        # --explain tells the same story as the router
        told = [v.name for v in router.explain(ev) if v.status in ("matched", "default-used")]
        assert told == list(router.plan(ev).routes)


def test_a_field_of_an_unexpected_type_does_not_match_and_does_not_raise() -> None:
    r = rules("""
        routes:
          - name: scored
            when: {score: ">= 50"}
            to: [siem]
          - name: sev
            when: {severity: ">= high"}
            to: [slack]
          - name: default
            to: [archive]
    """)
    assert r.route(make_event(score="high", severity="critical")) == ("slack",)  # a third-party decoder's bug
    assert r.route(make_event(score=60)) == ("siem",)
    verdict = r.explain(make_event(score="high", severity="critical"))[0]
    assert verdict.status == "failed" and "could not be evaluated (TypeError" in verdict.reason
