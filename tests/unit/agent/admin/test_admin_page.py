"""The status page's pieces: the summary line, unhealthy first, sizes, charts (no browser here)."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from agent.admin.history import MinuteHistory
from agent.admin.page import human_age, human_bytes, render_page, sparkline
from agent.testing import FakeClock


def _sink(name: str, state: str, **over: Any) -> dict[str, Any]:
    return {"name": name, "type": "webhook", "state": state, "rate_per_s": 0.0, "queue_depth": 0, "oldest_age_s": 0.0,
            "events_sent": 0, "dead_letters_stored": 0, "last_error": None, **over}


def _source(name: str, **over: Any) -> dict[str, Any]:
    return {"name": name, "type": "http", "running": True, "enabled": True, "rate_per_s": 0.0, "events": 0,
            "decode_errors": 0, "refused_full": 0, **over}


def _status(sinks: list[dict[str, Any]], sources: list[dict[str, Any]]) -> dict[str, Any]:
    return {"version": "9.9", "host": "sensor-7", "uptime_s": 90.0,
            "spool": {"pending_bytes": 3 * 1024 * 1024, "max_bytes": 1 << 30, "full": False},
            "sinks": sinks, "sources": sources, "routes": [{"name": "to-slack", "to": ["slack"], "matched": 12, "queued": 10}],
            "dead_letters": {"total": 0, "recent": []}}


class _Order(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sinks: list[str] = []
        self.sources: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        a = dict(attrs)
        if tag == "tr" and a.get("data-sink"):
            self.sinks.append(str(a["data-sink"]))
        if tag == "tr" and a.get("data-source"):
            self.sources.append(str(a["data-source"]))


def test_summary_counts_failing_sinks_and_quiet_sources_and_lists_them_first() -> None:
    sinks = [_sink("archive", "ok"), _sink("siem", "circuit_open", last_error_plain="connection refused by 127.0.0.1:1",
                                          next_retry_in_s=12.0, circuit_opened_at="2026-01-01T00:00:00.000Z"),
             _sink("chat", "ok"), _sink("old", "disabled"), _sink("hec", "retrying")]
    sources = [_source("syslog"), _source("hooks", quiet=True, last_event_age_s=1800.0)]
    page = render_page(_status(sinks, sources))
    assert '<p id=summary class="summary bad">2 of 4 sinks failing · 1 of 2 sources quiet</p>' in page
    order = _Order()
    order.feed(page)
    assert order.sinks == ["siem", "hec", "archive", "chat", "old"]  # unhealthy first, then configuration order
    assert order.sources == ["hooks", "syslog"]
    assert "connection refused by 127.0.0.1:1" in page and "retrying in 12 s" in page
    assert "circuit opened at 2026-01-01 00:00:00 UTC" in page
    assert "<title>siemrelay on sensor-7 (9.9)</title>" in page
    assert "spool 3.0 MiB of 1.0 GiB (0.3%)" in page
    assert 'data-route="to-slack"' in page and "siemrelay sinks enable NAME" in page
    assert "script" not in order.tags


def test_a_healthy_agent_says_so() -> None:
    page = render_page(_status([_sink("archive", "ok")], [_source("hooks", last_event_age_s=3.0)]))
    assert '<p id=summary class="summary good">the sink is healthy</p>' in page
    two = render_page(_status([_sink("a", "ok"), _sink("b", "ok")], []))
    assert '<p id=summary class="summary good">all 2 sinks healthy</p>' in two
    one_failing = render_page(_status([_sink("a", "retrying")], [_source("s", quiet=True)]))
    assert '<p id=summary class="summary bad">1 of 1 sink failing · 1 of 1 source quiet</p>' in one_failing


def test_sizes_and_ages_read_like_ls_and_uptime() -> None:
    assert [human_bytes(n) for n in (0, 1023, 1536, 5 * 1024**2, 3 * 1024**3 + 1, None)] == [
        "0 B", "1023 B", "1.5 KiB", "5.0 MiB", "3.0 GiB", "-"]
    assert [human_age(s) for s in (4, 150, 9000, 200000, None)] == ["4 s", "2 min", "2.5 h", "2.3 d", "-"]


def test_the_chart_draws_an_hour_from_the_history() -> None:
    clock = FakeClock(0.0)
    history = MinuteHistory(clock=clock)
    for minute in range(61):
        history.record({"sink:s:events": minute * minute * 60, "sink:s:queue": minute % 7})
        clock.advance(60)
    svg = sparkline(history.per_second("sink:s:events"), history.gauge("sink:s:queue"), label="s")
    assert svg.startswith("<svg class=chart") and svg.endswith("</svg>")
    assert "peak 119.00 events/s" in svg and "queue peak 6" in svg  # minute 60 grew by 60²-59² per second
    points = svg.split('<polyline points="')[1].split('"')[0].split()
    assert len(points) == 59  # one per sampled minute in the window (the current minute has no sample yet)
    assert "<polygon" in svg
    empty = sparkline([None] * 60, label="new")
    assert "<polyline" not in empty and "chart from the 2nd minute" in empty


class _Cells(HTMLParser):
    """Element names, and the text of each sink row as the browser would show it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.row: str | None = None
        self.text: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        a = dict(attrs)
        if tag == "tr" and a.get("data-sink") is not None:
            self.row = str(a["data-sink"])
            self.text[self.row] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr":
            self.row = None

    def handle_data(self, data: str) -> None:
        if self.row is not None:
            self.text[self.row] += data


_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40).filter(lambda t: t.strip() == t)


@settings(max_examples=60, deadline=None)
@given(name=_TEXT, error=_TEXT)
def test_names_and_errors_from_outside_come_back_as_the_same_text(name: str, error: str) -> None:
    """Whatever a peer says or a sink is called, a real HTML parser reads back that text and no markup."""
    page = render_page(_status([_sink(name, "retrying", last_error=error, last_error_plain=error)], []))
    cells = _Cells()
    cells.feed(page)
    cells.close()
    assert name in cells.text and error in cells.text[name]
    assert set(cells.tags) <= {"html", "head", "meta", "title", "style", "body", "h1", "p", "h2", "table", "thead", "tr",
                               "th", "tbody", "td", "span", "br", "small", "svg", "title", "line", "text", "ul", "li",
                               "code"}
