"""Pure encoder of the ``slack`` sink: events → an incoming-webhook payload (Block Kit).

One event: a header (severity marker + title), a section of fields (severity, type,
source, asset or repository), the description as mrkdwn with ``&``, ``<``, ``>``
escaped, a button to the vendor's page, a context line with the time, and a plain
``text`` fallback for notifications. Several events (digest): a summary header, the
most severe ones listed, the rest counted. Slack's limits are enforced by truncating,
never by failing: header 150 characters, section text 3000, field text 2000, 10 fields,
50 blocks, button text 75, URLs 3000.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from agent.sdk import MARKERS, epoch_ms, lookup, summary_line, top_events, truncate

__all__ = ["escape_mrkdwn", "event_message", "digest_message", "encode"]

HEADER_MAX, SECTION_MAX, FIELD_MAX, FIELDS_MAX, BLOCKS_MAX, BUTTON_MAX, URL_MAX = 150, 3000, 2000, 10, 50, 75, 3000
TEXT_MAX = 3000  # the fallback; Slack truncates top-level text above 40,000


def escape_mrkdwn(text: str) -> str:
    """Escape the three characters Slack's mrkdwn reserves (``&`` first)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _plain(text: object) -> str:
    return " ".join(str(text or "").split())


def _url(doc: Mapping[str, Any]) -> str | None:
    url = lookup(doc, "links.vendor")  # never finding.url: that is the vulnerable target, maybe with a payload
    if not isinstance(url, str) or not url.startswith(("https://", "http://")) or len(url) > URL_MAX:
        return None
    return url.replace("|", "%7C").replace(">", "%3E").replace("<", "%3C").replace(" ", "%20")


def _label(doc: Mapping[str, Any]) -> str:
    return str(doc.get("severity") or "unknown")


def _where(doc: Mapping[str, Any]) -> tuple[str, str] | None:
    asset = lookup(doc, "asset.name") or lookup(doc, "asset.url") or lookup(doc, "asset.host")
    if asset:
        return "Asset", str(asset)
    repo = lookup(doc, "repository.name") or lookup(doc, "repository.url")
    if repo:
        return "Repository", str(repo)
    return None


def _time_context(doc: Mapping[str, Any]) -> str:
    iso = str(doc.get("time") or "")
    ms = epoch_ms(iso)
    if ms is None:
        return escape_mrkdwn(iso)
    # Slack renders the date token in each reader's own time zone, so it carries no
    # zone label; the fallback text is the ISO time with its Z (UTC).
    return f"<!date^{ms // 1000}^{{date_short_pretty}} {{time}}|{escape_mrkdwn(iso)}>"


def _field(title: str, value: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": truncate(f"*{title}*\n{escape_mrkdwn(value)}", FIELD_MAX)}


def event_message(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The message for one event."""
    sev = _label(doc)
    title = _plain(doc.get("title")) or _plain(doc.get("type")) or "event"
    score = doc.get("score")
    fields = [_field("Severity", f"{sev.capitalize()}" + (f" ({score})" if isinstance(score, int) and score else "")),
              _field("Type", str(doc.get("type") or "")), _field("Source", str(doc.get("source") or ""))]
    where = _where(doc)
    if where:
        fields.append(_field(*where))
    cve = lookup(doc, "finding.cve")
    if cve:
        fields.append(_field("CVE", ", ".join(cve) if isinstance(cve, list) else str(cve)))
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": truncate(f"{MARKERS.get(sev, '⚫')} {title}", HEADER_MAX),
                                    "emoji": True}},
        {"type": "section", "fields": fields[:FIELDS_MAX]},
    ]
    description = str(doc.get("description") or "").strip()
    if description:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut_escaped(description, SECTION_MAX)}})
    url = _url(doc)
    if url:
        vendor = _plain(doc.get("source")) or "vendor"
        blocks.append({"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": truncate(f"Open in {vendor}", BUTTON_MAX)},
             "url": url, "action_id": "open_vendor"}]})
    blocks.append({"type": "context", "elements": [
        {"type": "mrkdwn", "text": truncate(f"{_time_context(doc)} · {escape_mrkdwn(str(doc.get('id') or ''))}", SECTION_MAX)}]})
    text = truncate(f"[{sev.upper()}] {title}" + (f" ({doc.get('source')})" if doc.get("source") else ""), TEXT_MAX)
    return {"text": escape_mrkdwn(text), "blocks": blocks[:BLOCKS_MAX]}


def _cut_escaped(text: str, limit: int) -> str:
    """Escape, then cut to ``limit`` without splitting an entity such as ``&amp;``."""
    out = escape_mrkdwn(text)
    if len(out) <= limit:
        return out
    cut = out[: limit - 1]
    amp = cut.rfind("&")
    if amp >= 0 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"


def _item_line(doc: Mapping[str, Any]) -> str:
    sev = _label(doc)
    title = escape_mrkdwn(truncate(_plain(doc.get("title")) or _plain(doc.get("type")) or "event", 200))
    url = _url(doc)
    name = f"<{url}|{title}>" if url else title
    where = _where(doc)
    tail = " · ".join(escape_mrkdwn(truncate(x, 100)) for x in (str(doc.get("source") or ""), where[1] if where else "") if x)
    return f"{MARKERS.get(sev, '⚫')} *{sev.capitalize()}* {name}" + (f" — {tail}" if tail else "")


def digest_message(docs: Sequence[Mapping[str, Any]], max_items: int) -> dict[str, Any]:
    """One message for many events: summary header, the top ``max_items``, a count of the rest."""
    summary = summary_line(docs)
    top = top_events(docs, max_items)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": truncate(summary, HEADER_MAX), "emoji": True}}]
    for doc in top:
        if len(blocks) >= BLOCKS_MAX - 2:
            break
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": truncate(_item_line(doc), SECTION_MAX)}})
    listed = len(blocks) - 1
    rest = len(docs) - listed
    times = sorted(str(d.get("time") or "") for d in docs)
    context = f"{escape_mrkdwn(times[0])} – {escape_mrkdwn(times[-1])}" if times and times[0] else ""
    if rest > 0:
        context = f"…and {rest} more · " + context
    if context:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": truncate(context, SECTION_MAX)}]})
    return {"text": escape_mrkdwn(truncate(summary, TEXT_MAX)), "blocks": blocks[:BLOCKS_MAX]}


def encode(docs: Sequence[Mapping[str, Any]], max_items: int = 10) -> dict[str, Any]:
    """The payload for a batch: one event's message, or a digest of several."""
    if len(docs) == 1:
        return event_message(docs[0])
    return digest_message(docs, max_items)
