"""The status page at the admin root: one server-rendered HTML page, no front-end build, no script.

It answers what an on-call analyst asks first, in that order: is anything broken
(a summary line, unhealthy sinks and quiet sources first), since when and why (last
success, circuit opened at, next retry, the last error in plain words), is data
still arriving (each source's last event, events and bytes in the last 5 minutes and
hour), and which rule sends what where (per-route counters). Each sink and source has
a small inline SVG chart of its last hour (events/s, and queue depth for sinks) drawn
from :class:`~agent.admin.history.MinuteHistory`.

It refreshes itself (``<meta http-equiv=refresh>``), so it works under a strict
Content-Security-Policy with no JavaScript at all. Every value is HTML-escaped: error
texts, dead-letter reasons and event data come from the outside world. Narrow screens
(a phone on call) get one card per row instead of a wide table, through CSS alone.
"""

from __future__ import annotations

import html
from typing import Any, Sequence

from agent.admin.history import MinuteHistory

__all__ = ["render_page", "human_bytes", "human_age", "sparkline"]

_CSS = """
*{box-sizing:border-box}
body{font:14px/1.4 system-ui,sans-serif;margin:1.2em;color:#1d2228;background:#fafbfc}
h1{font-size:1.35em;margin:0 0 .2em;overflow-wrap:anywhere}h2{font-size:1.1em;margin:1.4em 0 .4em}
.meta{color:#5a6570}.summary{font-size:1.1em;font-weight:600;padding:.5em .8em;border-radius:.4em;margin:.6em 0}
.summary.good{background:#d8f5dd;color:#14532d}.summary.bad{background:#fde0e0;color:#7f1d1d}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{text-align:left;padding:.35em .6em;border-bottom:1px solid #e3e7eb;vertical-align:top}
th{background:#f0f3f6;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.state{display:inline-block;padding:0 .5em;border-radius:.8em;font-weight:600;white-space:nowrap}
.ok{background:#d8f5dd;color:#14532d}.retrying,.half_open,.quiet{background:#fff1c2;color:#713f12}
.circuit_open,.stopped{background:#fde0e0;color:#7f1d1d}.disabled{background:#e5e7eb;color:#374151}
tr.bad td:first-child{border-left:4px solid #b91c1c}tr.warn td:first-child{border-left:4px solid #d97706}
.err{color:#7f1d1d;font-family:ui-monospace,monospace;font-size:.9em;overflow-wrap:anywhere}
.none{color:#8a949e}small{color:#5a6570}svg.chart{width:130px;height:36px;display:block}
code{background:#f0f3f6;padding:0 .3em;border-radius:.2em;overflow-wrap:anywhere}
ul.howto{padding-left:1.2em}
@media (max-width:760px){
 body{margin:.6em}table,thead,tbody,tr{display:block;width:100%}thead{display:none}
 tr{border:1px solid #e3e7eb;border-radius:.4em;margin:0 0 .6em;background:#fff;padding:.2em 0}
 td{display:inline-block;width:50%;border:0;padding:.15em .6em;text-align:left}td.num{text-align:left;white-space:normal}
 td.wide{width:100%}td.title{width:100%;font-weight:700;font-size:1.05em}td.title::before{content:none}
 td[data-label]::before{content:attr(data-label) ": ";color:#5a6570;font-weight:600}
 tr.bad td:first-child,tr.warn td:first-child{border-left:0}tr.bad{border-left:4px solid #b91c1c}
 tr.warn{border-left:4px solid #d97706}svg.chart{width:100%;max-width:420px;height:44px}
}
"""

_FAILING = ("retrying", "half_open", "circuit_open", "stopped")


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _num(value: object, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"


def human_bytes(n: float | None) -> str:
    """``1536`` → ``1.5 KiB``: binary units, as ``ls -h`` and the spool quota use."""
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"  # pragma: no cover - the loop always returns


def human_age(seconds: float | None) -> str:
    """``75`` → ``1 min``; ``None`` → ``-``."""
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _when(iso: str) -> str:
    """``2026-01-05T10:00:07.123Z`` → ``2026-01-05 10:00:07 UTC``."""
    return iso.replace("T", " ").split(".")[0].rstrip("Z") + " UTC"


def _td(label: str, content: str, cls: str = "") -> str:
    """A cell that names its column (``data-label``): on a phone each row is a card and the
    column headers are hidden, so each cell shows its own label (CSS ``attr()``)."""
    klass = f' class="{cls}"' if cls else ""
    return f'<td data-label="{_e(label)}"{klass}>{content}</td>'


def _points(values: Sequence[float | None], top: float, width: float, height: float) -> list[tuple[float, float]]:
    step = width / max(1, len(values) - 1)
    return [(round(i * step, 1), round(height - (v / top) * height if top else height, 1))
            for i, v in enumerate(values) if v is not None]


def sparkline(rate: Sequence[float | None], depth: Sequence[float | None] | None = None, *, label: str = "") -> str:
    """An inline SVG of one hour, a point per minute: events/s as a line, queue depth as a shaded area.

    Each series is scaled to its own peak, written in the accessible label (and the
    tooltip), since two units share one small box. Gaps (minutes without a sample) are
    left out rather than drawn as zero.
    """
    width, height = 120.0, 30.0
    peak_rate = max((v for v in rate if v is not None), default=0.0)
    parts = [f'<svg class=chart viewBox="0 0 {width:g} {height + 4:g}" role=img preserveAspectRatio=none']
    words = f"{label}: last hour, peak {peak_rate:.2f} events/s"
    body = []
    if depth is not None:
        peak_depth = max((v for v in depth if v is not None), default=0.0)
        words += f", queue peak {peak_depth:,.0f}"
        pts = _points(depth, peak_depth, width, height)
        if pts and peak_depth:
            area = f"{pts[0][0]},{height} " + " ".join(f"{x},{y}" for x, y in pts) + f" {pts[-1][0]},{height}"
            body.append(f'<polygon points="{area}" fill="#fde68a" stroke="none"/>')
    line = _points(rate, peak_rate, width, height)
    if len(line) > 1:
        body.append('<polyline points="' + " ".join(f"{x},{y}" for x, y in line)
                    + '" fill="none" stroke="#2563eb" stroke-width="1.5"/>')
    else:
        words = f"{label}: no chart yet (one point a minute)"
        body.append('<text x="2" y="18" font-size="10" fill="#8a949e">chart from the 2nd minute</text>')
    body.append(f'<line x1="0" y1="{height}" x2="{width:g}" y2="{height}" stroke="#cbd5e1" stroke-width="1"/>')
    parts.append(f' aria-label="{_e(words)}"><title>{_e(words)}</title>')
    return "".join(parts) + "".join(body) + "</svg>"


def _sink_row(s: dict[str, Any], history: MinuteHistory | None) -> str:
    state = s["state"]
    name = s["name"]
    cls = "bad" if state in ("circuit_open", "stopped") else "warn" if state in _FAILING else ""
    error = s.get("last_error_plain") or s.get("last_error")
    if error:
        extra = []
        if s.get("next_retry_in_s") is not None:
            extra.append(f"retrying in {human_age(s['next_retry_in_s'])}")
        if s.get("circuit_opened_at"):
            extra.append(f"circuit opened at {_when(s['circuit_opened_at'])}")
        err = f'<span class="err">{_e(error)}</span>' + (f"<br><small>{_e(', '.join(extra))}</small>" if extra else "")
    else:
        err = '<span class="none">none</span>'
    last_ok = (f'{human_age(s["last_success_age_s"])} ago' if s.get("last_success_age_s") is not None
               else '<span class="none">not yet</span>')
    oldest = (f'{human_age(s["oldest_age_s"])}' if s.get("queue_depth") else "-")
    chart = (sparkline(history.per_second(f"sink:{name}:events"), history.gauge(f"sink:{name}:queue"), label=name)
             if history is not None else "")
    recent = ""
    if "events_5m" in s:
        recent = (f"<small>{_num(s['events_5m'])} in 5 min · {_num(s['events_1h'])} in 1 h · "
                  f"{_e(human_bytes(s.get('bytes_sent')))} total</small>")
    return (f'<tr data-sink="{_e(name)}" class="{cls}">'
            + _td("Sink", _e(name), "title") + _td("Type", _e(s["type"]))
            + _td("State", f'<span class="state {_e(state)}">{_e(state.replace("_", " "))}</span>')
            + _td("Rate", f'{_num(float(s["rate_per_s"]), 1)}/s', "num")
            + _td("Queue", _num(s["queue_depth"]), "num") + _td("Oldest queued", oldest, "num")
            + _td("Sent", f'{_num(s["events_sent"])}<br>{recent}' if recent else _num(s["events_sent"]), "num wide")
            + _td("Last success", last_ok) + _td("Dead letters", _num(s["dead_letters_stored"]), "num")
            + _td("Last error", err, "wide") + _td("Last hour", chart, "wide") + "</tr>")


def _sinks(sinks: list[dict[str, Any]], history: MinuteHistory | None) -> str:
    if not sinks:
        return '<p class="none">No sinks configured.</p>'
    ordered = sorted(sinks, key=lambda s: 0 if s["state"] in _FAILING else 1)  # stable: config order within
    return ("<table id=sinks><thead><tr><th>Sink</th><th>Type</th><th>State</th><th>Rate</th><th>Queue</th>"
            "<th>Oldest queued</th><th>Sent</th><th>Last success</th><th>Dead letters</th><th>Last error</th>"
            "<th>Last hour</th></tr></thead><tbody>" + "".join(_sink_row(s, history) for s in ordered) + "</tbody></table>")


def _source_row(s: dict[str, Any], history: MinuteHistory | None) -> str:
    name = s["name"]
    status = "running" if s["running"] else ("disabled" if not s["enabled"] else "stopped")
    quiet = bool(s.get("quiet"))
    if s.get("last_event_age_s") is not None:
        last = f'{human_age(s["last_event_age_s"])} ago'
    else:
        last = '<span class="none">nothing since start</span>'
    if quiet:
        last += ' <span class="state quiet">quiet</span>'
    window = ""
    if "events_5m" in s:
        window = (f"{_num(s['events_5m'])} / {_e(human_bytes(s['bytes_5m']))}<br>"
                  f"<small>1 h: {_num(s['events_1h'])} / {_e(human_bytes(s['bytes_1h']))}</small>")
    chart = sparkline(history.per_second(f"source:{name}:events"), label=name) if history is not None else ""
    cls = "warn" if quiet or (s["enabled"] and not s["running"]) else ""
    return (f'<tr data-source="{_e(name)}" class="{cls}">'
            + _td("Source", _e(name), "title") + _td("Type", _e(s["type"])) + _td("Status", status)
            + _td("Rate", f'{_num(float(s["rate_per_s"]), 1)}/s', "num") + _td("Last event", last)
            + _td("Last 5 min (events / bytes)", window or "-", "num wide")
            + _td("Events", _num(s["events"]), "num") + _td("Received", _e(human_bytes(s.get("bytes"))), "num")
            + _td("Decode errors", _num(s["decode_errors"]), "num")
            + _td("Refused (spool full)", _num(s["refused_full"]), "num") + _td("Last hour", chart, "wide") + "</tr>")


def _sources(sources: list[dict[str, Any]], history: MinuteHistory | None) -> str:
    if not sources:
        return '<p class="none">No sources configured.</p>'
    ordered = sorted(sources, key=lambda s: 0 if s.get("quiet") or (s["enabled"] and not s["running"]) else 1)
    return ("<table id=sources><thead><tr><th>Source</th><th>Type</th><th>Status</th><th>Rate</th><th>Last event</th>"
            "<th>Last 5 min (events / bytes)</th><th>Events</th><th>Received</th><th>Decode errors</th>"
            "<th>Refused (spool full)</th><th>Last hour</th></tr></thead><tbody>"
            + "".join(_source_row(s, history) for s in ordered) + "</tbody></table>")


def _routes(routes: list[dict[str, Any]]) -> str:
    if not routes:
        return '<p class="none">No routes configured.</p>'
    rows = [f'<tr data-route="{_e(r["name"])}">' + _td("Route", _e(r["name"]), "title")
            + _td("To", _e(", ".join(r["to"])) or '<span class="none">nothing (drops)</span>')
            + _td("Matched", _num(r["matched"]), "num") + _td("Queued for sinks", _num(r["queued"]), "num") + "</tr>"
            for r in routes]
    return ("<table id=routes><thead><tr><th>Route</th><th>To</th><th>Matched</th><th>Queued for sinks</th></tr></thead>"
            "<tbody>" + "".join(rows) + "</tbody></table>")


def _dead(dl: dict[str, Any]) -> str:
    recent = dl["recent"]
    if not recent:
        return '<p class="none" id=dead-letters>No dead letters.</p>'
    rows = [f'<tr data-dead-letter="{d["id"]}">' + _td("Id", str(d["id"]), "num") + _td("Created", _e(d["created"]))
            + _td("Sink", _e(d["sink"] or ("decode: " + (d["input"] or "?")))) + _td("Event", _e(d["event_id"] or "-"))
            + _td("Attempts", str(d["attempts"]), "num") + _td("Reason", f'<span class="err">{_e(d["reason"])}</span>', "wide")
            + "</tr>" for d in recent]
    return ("<table id=dead-letters><thead><tr><th>Id</th><th>Created</th><th>Sink</th><th>Event</th><th>Attempts</th>"
            "<th>Reason</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _summary(status: dict[str, Any]) -> str:
    sinks = [s for s in status["sinks"] if s["state"] != "disabled"]
    failing = [s for s in sinks if s["state"] in _FAILING]
    quiet = [s for s in status["sources"] if s.get("quiet")]
    if failing:
        parts = [f"{len(failing)} of {_count(len(sinks), 'sink')} failing"]
    else:
        parts = ["no sinks enabled" if not sinks else "the sink is healthy" if len(sinks) == 1
                 else f"all {len(sinks)} sinks healthy"]
    if quiet:
        parts.append(f"{len(quiet)} of {_count(len(status['sources']), 'source')} quiet")
    if status["spool"]["full"]:
        parts.append("spool full: sources pushed back")
    bad = bool(failing or quiet or status["spool"]["full"])
    return f'<p id=summary class="summary {"bad" if bad else "good"}">{_e(" · ".join(parts))}</p>'


_HOWTO = (
    "<h2>Changing things</h2><p class=meta>This page and the read-only token only look. Changes go through the "
    "command line (with the admin token) or the configuration:</p><ul class=howto>"
    "<li>close a sink's open circuit and retry now: <code>siemrelay sinks enable NAME</code></li>"
    "<li>send a test event through a sink: <code>siemrelay send-test NAME</code></li>"
    "<li>see a sink's recent attempts: <code>siemrelay deliveries NAME --failed</code></li>"
    "<li>re-send dead letters: <code>siemrelay dlq replay --sink NAME</code></li>"
    "<li>sources, sinks and routes: edit the configuration, check it with <code>siemrelay validate</code>, then "
    "<code>systemctl reload siemrelay</code> (SIGHUP)</li></ul>")


def render_page(status: dict[str, Any], history: MinuteHistory | None = None, *, role: str = "read",
                refresh_s: int = 5) -> str:
    """Render the page from the ``/api/v1/status`` document and the per-minute history."""
    spool = status["spool"]
    pct = 100.0 * spool["pending_bytes"] / spool["max_bytes"] if spool["max_bytes"] else 0.0
    host = status.get("host") or "?"
    title = f"siemrelay on {host} ({status['version']})"
    uptime = human_age(status["uptime_s"]) if status["uptime_s"] >= 1 else "0 s"
    total = status["dead_letters"]["total"]
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f'<meta http-equiv="refresh" content="{int(refresh_s)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>siemrelay on {_e(host)}</h1>{_summary(status)}"
        f"<p class=meta>version {_e(status['version'])} · up {uptime}"
        f" · spool {human_bytes(spool['pending_bytes'])} of {human_bytes(spool['max_bytes'])} ({pct:.1f}%)"
        f" · signed in as {_e(role)} (read-only page) · refreshes every {int(refresh_s)} s</p>"
        f"<h2>Sinks</h2>{_sinks(status['sinks'], history)}"
        f"<h2>Sources</h2>{_sources(status['sources'], history)}"
        f"<h2>Routes</h2>{_routes(status.get('routes', []))}"
        f"<h2>Recent dead letters <span class=meta>({_num(total)} stored)</span></h2>{_dead(status['dead_letters'])}"
        f"{_HOWTO}"
        "<p class=meta>Machine-readable: /api/v1/status · /metrics · /openapi.json</p>"
        "</body></html>")
