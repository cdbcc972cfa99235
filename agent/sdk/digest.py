"""What chat sinks (``slack``, ``teams``, third-party ones) share: severity markers, digest summaries, batching.

Digest mode turns the batch the worker hands over into one message, so it keeps
at-least-once delivery: the window is the worker's ``batch.max_wait_s``, and the
batch is acknowledged only when that one message was accepted.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

__all__ = ["DIGEST_SCHEMA", "SEVERITY_ORDER", "MARKERS", "severity_counts", "summary_line", "top_events",
           "digest_batching", "truncate"]

SEVERITY_ORDER = ("critical", "high", "medium", "low", "info", "unknown")
MARKERS = {"critical": "🔴", "high": "🟠", "medium": "🟡", "low": "🔵", "info": "⚪", "unknown": "⚫"}

DIGEST_SCHEMA: dict[str, Any] = {
    "type": "dict", "default": {},
    "meta": {"description": "Digest mode: the events of a window become one message."},
    "schema": {
        "window_s": {"type": "number", "default": 0, "min": 0,
                     "meta": {"description": "Digest window; 0 sends one message per event. When set, batch.max_wait_s follows it (unless set explicitly)."}},
        "max_items": {"type": "integer", "default": 10, "min": 1, "max": 40,
                      "meta": {"description": "Events listed by name in a digest, most severe first; the rest are counted."}},
        "max_events": {"type": "integer", "default": 1000, "min": 2,
                       "meta": {"description": "Most events in one digest (the batch size in digest mode)."}},
    },
}


def digest_batching(config: Mapping[str, Any], single_defaults: Mapping[str, Any]) -> dict[str, Any]:
    """The section with the worker's batch following the digest settings; pure, idempotent.

    Without a digest a chat sink sends one event per message (``batch.max_events: 1``,
    so a failed post never resends an earlier event). With ``digest.window_s`` the
    batch waits that long and takes up to ``digest.max_events``, unless the user set
    ``batch.max_wait_s``/``batch.max_events`` to something else than the type's defaults.

    :returns: a new section (``config`` itself is never changed) with a new ``batch``.
    """
    digest = config.get("digest") or {}
    window = float(digest.get("window_s") or 0)
    batch = dict(config.get("batch") or {})
    if window > 0:
        if batch.get("max_wait_s", single_defaults.get("max_wait_s")) == single_defaults.get("max_wait_s"):
            batch["max_wait_s"] = window
        if batch.get("max_events", single_defaults.get("max_events")) == single_defaults.get("max_events"):
            batch["max_events"] = int(digest.get("max_events", 1000))
        batch["max_bytes"] = max(int(batch.get("max_bytes", 1 << 20)), 1 << 24)
    return {**config, "batch": batch}


def severity_counts(docs: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    counts = {s: 0 for s in SEVERITY_ORDER}
    for d in docs:
        sev = d.get("severity")
        counts[sev if sev in counts else "unknown"] += 1
    return counts


def summary_line(docs: Sequence[Mapping[str, Any]]) -> str:
    """``14 new findings: 2 critical, 5 high, 7 medium`` (other types: ``events``)."""
    n = len(docs)
    kinds = {str(d.get("type") or "") for d in docs}
    noun = "findings" if kinds and all(k.startswith("finding") for k in kinds) else "events"
    if n == 1:
        noun = noun[:-1]
    adjective = "new " if kinds == {"finding.new"} else ""
    counts = severity_counts(docs)
    detail = ", ".join(f"{c} {s}" for s, c in counts.items() if c)
    return f"{n} {adjective}{noun}: {detail}"


def top_events(docs: Sequence[Mapping[str, Any]], limit: int) -> list[Mapping[str, Any]]:
    """The ``limit`` most severe events (highest severity, then score, then arrival order)."""
    ranked = sorted(enumerate(docs), key=lambda p: (-_sid(p[1]), -_num(p[1].get("score")), p[0]))
    return [d for _, d in ranked[:limit]]


def _sid(doc: Mapping[str, Any]) -> int:
    v = doc.get("severity_id")
    return v if isinstance(v, int) else 0


def _num(v: object) -> float:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else 0.0


def truncate(text: str, limit: int) -> str:
    """Cut ``text`` to ``limit`` characters, ending with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)] + "…"
