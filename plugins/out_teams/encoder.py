"""Pure encoder of the ``teams`` sink: events → a message with one Adaptive Card.

The payload is what both Teams incoming-webhook flavours accept (Workflows/Power
Automate "post card" URLs and the legacy Office 365 connector URLs): a ``message``
with one ``application/vnd.microsoft.card.adaptive`` attachment, card version 1.4
(rendered by every current Teams client). The card: a title TextBlock coloured by
severity, a FactSet, the description, the time, and ``Action.OpenUrl`` to the vendor.
Teams refuses payloads over 28 KB, so the description (then the facts) are shortened
with an ellipsis until the JSON fits.

Teams renders Markdown in TextBlocks and FactSet values, so every data-derived text is
passed through :func:`escape_markdown`: a vendor title such as ``[click](http://evil)``
or ``![img](...)`` shows as typed, and bare URLs are not auto-linked. The only links on
a card are the ones built here from known fields (``links.vendor``, ``finding.url``).
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

import orjson

from agent.sdk import MARKERS, lookup, summary_line, top_events, truncate

__all__ = ["CARD_VERSION", "MAX_BYTES", "COLORS", "escape_markdown", "event_card", "digest_card", "message", "encode"]

CARD_VERSION = "1.4"
MAX_BYTES = 28 * 1024 - 512  # Teams' 28 KB limit, minus room for the HTTP layer's own framing
COLORS = {"critical": "Attention", "high": "Attention", "medium": "Warning", "low": "Accent", "info": "Good",
          "unknown": "Default"}


#: every ASCII punctuation character: CommonMark lets a backslash escape any of them
_MD_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
_LINE_INDENT = re.compile(r"(?m)^[ \t]+")
#: characters that would end or break a Markdown link destination
_URL_UNSAFE = {"(": "%28", ")": "%29", "<": "%3C", ">": "%3E", "[": "%5B", "]": "%5D", "\\": "%5C", "`": "%60"}


def escape_markdown(text: str) -> str:
    """Text that Teams' Markdown shows literally: every ASCII punctuation character is
    backslash-escaped (so no link, image, emphasis, heading, list or HTML can form, and
    ``http://`` or ``www.`` are split so they are not auto-linked), and line indentation
    is dropped (four spaces would start a code block)."""
    return _MD_PUNCTUATION.sub(r"\\\1", _LINE_INDENT.sub("", text))


def _link(label: str, url: str) -> str:
    """A Markdown link the sink builds itself: the label escaped, the URL made unable to close it."""
    return f"[{escape_markdown(label)}]({''.join(_URL_UNSAFE.get(c, c) for c in url)})"


def _plain(text: object) -> str:
    return " ".join(str(text or "").split())


def _url(doc: Mapping[str, Any]) -> str | None:
    url = lookup(doc, "links.vendor")  # never finding.url: that is the vulnerable target, maybe with a payload
    if isinstance(url, str) and url.startswith(("https://", "http://")) and " " not in url:
        return url
    return None


def _facts(doc: Mapping[str, Any]) -> list[dict[str, str]]:
    sev = str(doc.get("severity") or "unknown")
    score = doc.get("score")
    facts = [("Severity", sev.capitalize() + (f" ({score})" if isinstance(score, int) and score else "")),
             ("Type", doc.get("type")), ("Source", doc.get("source")),
             ("Asset", lookup(doc, "asset.name") or lookup(doc, "asset.url") or lookup(doc, "asset.host")),
             ("Repository", lookup(doc, "repository.name")), ("Finding", lookup(doc, "finding.id")),
             ("CVE", lookup(doc, "finding.cve")), ("Time", doc.get("time")), ("Event id", doc.get("id"))]
    out = []
    for title, value in facts:
        if value in (None, "", []):
            continue
        text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        out.append({"title": title, "value": escape_markdown(truncate(text, 1000))})
    return out


def _card(body: list[dict[str, Any]], actions: list[dict[str, Any]]) -> dict[str, Any]:
    card: dict[str, Any] = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
                            "version": CARD_VERSION, "body": body}
    if actions:
        card["actions"] = actions
    return card


def event_card(doc: Mapping[str, Any], description_limit: int | None = None) -> dict[str, Any]:
    """The card for one event."""
    sev = str(doc.get("severity") or "unknown")
    title = _plain(doc.get("title")) or _plain(doc.get("type")) or "event"
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": f"{MARKERS.get(sev, '⚫')} {escape_markdown(truncate(title, 498))}", "size": "Large",
         "weight": "Bolder", "color": COLORS.get(sev, "Default"), "wrap": True},
        {"type": "FactSet", "facts": _facts(doc)},
    ]
    description = str(doc.get("description") or "").strip()
    if description:
        if description_limit is not None:
            description = truncate(description, description_limit)
        body.append({"type": "TextBlock", "text": escape_markdown(description), "wrap": True})
    url = _url(doc)
    actions = [{"type": "Action.OpenUrl", "title": truncate(f"Open in {_plain(doc.get('source')) or 'vendor'}", 100),
                "url": url}] if url else []
    return _card(body, actions)


def digest_card(docs: Sequence[Mapping[str, Any]], max_items: int) -> dict[str, Any]:
    """One card for many events: the summary, the top ``max_items``, a count of the rest."""
    worst = str(top_events(docs, 1)[0].get("severity") or "unknown") if docs else "unknown"
    body: list[dict[str, Any]] = [{"type": "TextBlock", "text": summary_line(docs), "size": "Large", "weight": "Bolder",
                                   "color": COLORS.get(worst, "Default"), "wrap": True}]
    top = top_events(docs, max_items)
    for doc in top:
        sev = str(doc.get("severity") or "unknown")
        title = truncate(_plain(doc.get("title")) or _plain(doc.get("type")) or "event", 200)
        url = _url(doc)
        name = _link(title, url) if url else escape_markdown(title)
        where = lookup(doc, "asset.name") or lookup(doc, "repository.name") or ""
        tail = " · ".join(str(x) for x in (doc.get("source"), where) if x)
        body.append({"type": "TextBlock", "text": f"{MARKERS.get(sev, '⚫')} **{escape_markdown(sev.capitalize())}** "
                     f"{name}" + (f" — {escape_markdown(truncate(tail, 200))}" if tail else ""),
                     "wrap": True, "spacing": "Small"})
    rest = len(docs) - len(top)
    times = sorted(str(d.get("time") or "") for d in docs)
    footer = (f"…and {rest} more · " if rest > 0 else "") + (
        f"{escape_markdown(times[0])} – {escape_markdown(times[-1])}" if times else "")
    body.append({"type": "TextBlock", "text": footer, "isSubtle": True, "size": "Small", "wrap": True})
    return _card(body, [])


def message(card: Mapping[str, Any]) -> dict[str, Any]:
    """Wrap a card as the webhook message Teams expects."""
    return {"type": "message", "attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}]}


def encode(docs: Sequence[Mapping[str, Any]], max_items: int = 10, max_bytes: int = MAX_BYTES) -> bytes:
    """The request body for a batch, shortened until it fits ``max_bytes``."""
    if len(docs) != 1:
        body = orjson.dumps(message(digest_card(docs, max_items)))
        while len(body) > max_bytes and max_items > 1:
            max_items = max(1, max_items // 2)
            body = orjson.dumps(message(digest_card(docs, max_items)))
        return body
    doc = docs[0]
    body = orjson.dumps(message(event_card(doc)))
    limit = len(str(doc.get("description") or ""))
    while len(body) > max_bytes and limit > 0:
        limit = max(0, limit - (len(body) - max_bytes) - 16)
        body = orjson.dumps(message(event_card(doc, limit)))
    if len(body) > max_bytes:  # the title and facts alone are too large: cut them too
        slim = {k: (truncate(v, 1000) if isinstance(v, str) else v) for k, v in doc.items() if k not in ("raw",)}
        slim["description"] = ""
        body = orjson.dumps(message(event_card(slim)))
    return body
