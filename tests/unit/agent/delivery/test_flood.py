"""Flood control: Detectify-style caps per scan and per finding type, with one summary."""

from __future__ import annotations

import orjson

from agent.delivery.flood import SUMMARY_TYPE, FloodControl
from agent.testing import FakeClock, make_event, spooled


def findings(n: int, scan: str = "s1", category=lambda i: "xss", **kw):
    return spooled([make_event(id=f"{scan}-{i}", scan={"id": scan}, finding={"category": category(i)}, **kw)
                    for i in range(n)])


def ids(batch) -> list[str]:
    return [orjson.loads(e.data)["id"] for e in batch]


def test_detectify_caps_100_per_scan_and_10_per_finding_type():
    fc = FloodControl({"per_scan": 100, "per_finding_type": 10}, "slack", wall=FakeClock(), monotonic=FakeClock())
    batch = findings(300, category=lambda i: f"type{i % 20}")
    out = fc.apply(batch)
    real = [e for e in out.batch if orjson.loads(e.data)["type"] != SUMMARY_TYPE]
    summaries = [orjson.loads(e.data) for e in out.batch if orjson.loads(e.data)["type"] == SUMMARY_TYPE]
    assert len(real) == 100
    per_type: dict[str, int] = {}
    for e in real:
        cat = orjson.loads(e.data)["finding"]["category"]
        per_type[cat] = per_type.get(cat, 0) + 1
    assert max(per_type.values()) <= 10
    assert len(out.suppressed) == 200
    assert [s["raw"]["cap"] for s in summaries] == ["per_scan"]  # 20 types x 5 first fill the scan cap
    assert summaries[0]["scan"] == {"id": "s1"} and summaries[0]["raw"]["limit"] == 100


def test_per_type_cap_summarises_once_per_type():
    fc = FloodControl({"per_finding_type": 2}, "siem", wall=FakeClock(), monotonic=FakeClock())
    out = fc.apply(findings(5, category=lambda i: "sqli") + findings(3, scan="s2", category=lambda i: "xss"))
    kinds = [(orjson.loads(e.data)["type"], orjson.loads(e.data).get("raw", {}).get("finding_type")) for e in out.batch]
    assert kinds.count((SUMMARY_TYPE, "sqli")) == 1 and kinds.count((SUMMARY_TYPE, "xss")) == 1
    assert ids(e for e, _ in out.suppressed) == ["s1-2", "s1-3", "s1-4", "s2-2"]
    # a later batch of the same scan: still capped, but no second summary
    again = fc.apply(findings(1, category=lambda i: "sqli"))
    assert again.batch == [] and again.summaries == 0 and len(again.suppressed) == 1


def test_summary_takes_the_place_of_the_first_cut_event():
    fc = FloodControl({"per_scan": 2}, "siem", wall=FakeClock(), monotonic=FakeClock())
    batch = findings(4)
    out = fc.apply(batch)
    assert [e.seq for e in out.batch] == [1, 2, 3]
    summary = orjson.loads(out.batch[2].data)
    assert summary["type"] == SUMMARY_TYPE and "more than 2 finding messages in scan s1" in summary["title"]
    assert summary["raw"]["first_suppressed_id"] == "s1-2"


def test_events_without_scan_and_non_findings_pass():
    fc = FloodControl({"per_scan": 1}, "siem", wall=FakeClock(), monotonic=FakeClock())
    batch = spooled([make_event(id=f"n{i}") for i in range(5)] +
                    [make_event(id=f"c{i}", type="scan.started", scan={"id": "s"}) for i in range(3)])
    out = fc.apply(batch)
    assert out.batch == batch and out.suppressed == []


def test_scan_completion_and_idle_window_reset_counters():
    clock = FakeClock()
    fc = FloodControl({"per_scan": 1, "window_s": 100}, "siem", wall=clock, monotonic=clock)
    assert len(fc.apply(findings(2)).suppressed) == 1
    fc.apply(spooled([make_event(id="done", type="scan.completed", scan={"id": "s1"})]))
    assert fc.apply(findings(1)).suppressed == []
    clock.advance(101)
    assert fc.apply(findings(1)).suppressed == []


def test_drop_mode_keeps_no_dead_letters_but_still_summarises():
    fc = FloodControl({"per_scan": 1, "suppressed": "drop"}, "siem", wall=FakeClock(), monotonic=FakeClock())
    out = fc.apply(findings(3))
    assert out.suppressed == [] and out.summaries == 1 and fc.suppressed_total == 2


def test_disabled_by_default():
    fc = FloodControl({}, "siem")
    batch = findings(500)
    assert not fc.enabled and fc.apply(batch).batch == batch
