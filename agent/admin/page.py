"""The status page at the admin root: one server-rendered HTML page, no front-end build, no script.

It shows what an on-call engineer checks first: each sink's state, rate, queue
depth and last error; each source's rate; the most recent dead letters. It
refreshes itself every few seconds (``<meta http-equiv=refresh>``), so it works
under a strict Content-Security-Policy with no JavaScript at all. Every value is
HTML-escaped: dead-letter reasons and event data come from the outside world.
"""

from __future__ import annotations

import html
from typing import Any

__all__ = ["render_page"]

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#1d2228;background:#fafbfc}
h1{font-size:1.4em;margin:0 0 .2em}h2{font-size:1.1em;margin:1.4em 0 .4em}
.meta{color:#5a6570}table{border-collapse:collapse;width:100%;background:#fff}
th,td{text-align:left;padding:.35em .6em;border-bottom:1px solid #e3e7eb;vertical-align:top}
th{background:#f0f3f6;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
.state{display:inline-block;padding:0 .5em;border-radius:.8em;font-weight:600}
.ok{background:#d8f5dd;color:#14532d}.retrying,.half_open{background:#fff1c2;color:#713f12}
.circuit_open,.stopped{background:#fde0e0;color:#7f1d1d}.disabled{background:#e5e7eb;color:#374151}
.err{color:#7f1d1d;font-family:ui-monospace,monospace;font-size:.9em;word-break:break-all}
.none{color:#8a949e}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _num(value: Any, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"


def _age(seconds: float) -> str:
    if not seconds:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


def _sinks(sinks: list[dict[str, Any]]) -> str:
    if not sinks:
        return '<p class="none">No sinks configured.</p>'
    rows = []
    for s in sinks:
        state = s["state"]
        rows.append(
            f'<tr data-sink="{_e(s["name"])}"><td>{_e(s["name"])}</td><td>{_e(s["type"])}</td>'
            f'<td><span class="state {_e(state)}">{_e(state.replace("_", " "))}</span></td>'
            f'<td class="num">{_num(float(s["rate_per_s"]), 1)}/s</td><td class="num">{_num(s["queue_depth"])}</td>'
            f'<td class="num">{_age(s["oldest_age_s"])}</td><td class="num">{_num(s["events_sent"])}</td>'
            f'<td class="num">{_num(s["dead_letters_stored"])}</td>'
            f'<td class="err">{_e(s["last_error"]) if s["last_error"] else "<span class=none>none</span>"}</td></tr>')
    return ("<table id=sinks><thead><tr><th>Sink</th><th>Type</th><th>State</th><th>Rate</th><th>Queue</th>"
            "<th>Oldest</th><th>Sent</th><th>Dead letters</th><th>Last error</th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>")


def _sources(sources: list[dict[str, Any]]) -> str:
    if not sources:
        return '<p class="none">No sources configured.</p>'
    rows = [f'<tr data-source="{_e(s["name"])}"><td>{_e(s["name"])}</td><td>{_e(s["type"])}</td>'
            f'<td>{"running" if s["running"] else ("disabled" if not s["enabled"] else "stopped")}</td>'
            f'<td class="num">{_num(float(s["rate_per_s"]), 1)}/s</td><td class="num">{_num(s["events"])}</td>'
            f'<td class="num">{_num(s["decode_errors"])}</td><td class="num">{_num(s["refused_full"])}</td></tr>'
            for s in sources]
    return ("<table id=sources><thead><tr><th>Source</th><th>Type</th><th>Status</th><th>Rate</th><th>Events</th>"
            "<th>Decode errors</th><th>Refused (spool full)</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def _dead(dl: dict[str, Any]) -> str:
    recent = dl["recent"]
    if not recent:
        return '<p class="none" id=dead-letters>No dead letters.</p>'
    rows = [f'<tr data-dead-letter="{d["id"]}"><td class="num">{d["id"]}</td><td>{_e(d["created"])}</td>'
            f'<td>{_e(d["sink"] or ("decode: " + (d["input"] or "?")))}</td><td>{_e(d["event_id"] or "-")}</td>'
            f'<td class="num">{d["attempts"]}</td><td class="err">{_e(d["reason"])}</td></tr>' for d in recent]
    return ("<table id=dead-letters><thead><tr><th>Id</th><th>Created</th><th>Sink</th><th>Event</th><th>Attempts</th>"
            "<th>Reason</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def render_page(status: dict[str, Any], *, role: str = "read", refresh_s: int = 5) -> str:
    """Render the page from the ``/api/v1/status`` document."""
    spool = status["spool"]
    pct = 100.0 * spool["pending_bytes"] / spool["max_bytes"] if spool["max_bytes"] else 0.0
    full = ' <strong class="state circuit_open">FULL: sources pushed back</strong>' if spool["full"] else ""
    total = status["dead_letters"]["total"]
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f'<meta http-equiv="refresh" content="{int(refresh_s)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>siemrelay status</title><style>{_CSS}</style></head><body>"
        f"<h1>siemrelay</h1><p class=meta>version {_e(status['version'])} · up {_age(status['uptime_s']) if status['uptime_s'] >= 1 else '0s'}"
        f" · spool {_num(spool['pending_bytes'])} of {_num(spool['max_bytes'])} bytes ({pct:.1f}%){full}"
        f" · signed in as {_e(role)} · refreshes every {int(refresh_s)}s</p>"
        f"<h2>Sinks</h2>{_sinks(status['sinks'])}"
        f"<h2>Sources</h2>{_sources(status['sources'])}"
        f"<h2>Recent dead letters <span class=meta>({_num(total)} stored)</span></h2>{_dead(status['dead_letters'])}"
        "<p class=meta>Machine-readable: /api/v1/status · /metrics · /openapi.json</p>"
        "</body></html>")
