"""Normalised vocabularies for ``action`` and ``outcome``, so one rule matches every vendor.

A firewall says ``deny``, ``drop``, ``blocked`` or ``reject``; Elastic, OCSF and routing
rules want one word. The device's own word is always kept next to the normalised one
(``{"name": "denied", "original": "deny"}``) so that a relay can write it back unchanged.
"""

from __future__ import annotations

__all__ = ["ACTIONS", "OUTCOMES", "action_group", "outcome_group"]

_ACTION_WORDS = {
    "allowed": ("allow", "allowed", "accept", "accepted", "permit", "permitted", "pass", "passed"),
    "denied": ("deny", "denied", "reject", "rejected", "refused", "forbidden"),
    "dropped": ("drop", "dropped", "discard", "discarded"),
    "blocked": ("block", "blocked", "prevent", "prevented", "stopped"),
    "reset": ("reset", "reset-both", "reset-client", "reset-server", "close", "closed"),
    "quarantined": ("quarantine", "quarantined", "isolated"),
    "alerted": ("alert", "alerted", "detect", "detected", "log", "logged", "monitor"),
}
_OUTCOME_WORDS = {
    "success": ("success", "succeeded", "successful", "accepted", "ok", "pass", "allowed", "allow"),
    "failure": ("failure", "failed", "fail", "denied", "deny", "error", "rejected", "blocked", "invalid"),
}
_ACTION_OF = {w: name for name, words in _ACTION_WORDS.items() for w in words}
_OUTCOME_OF = {w: name for name, words in _OUTCOME_WORDS.items() for w in words}

#: The normalised action names; anything else is ``other``.
ACTIONS = (*_ACTION_WORDS, "other")
#: The normalised outcome names (ECS's and OCSF's three).
OUTCOMES = ("success", "failure", "unknown")


def action_group(word: str) -> dict[str, str]:
    """``deny`` → ``{"name": "denied", "original": "deny"}``; an unknown word is ``other``."""
    return {"name": _ACTION_OF.get(word.strip().lower(), "other"), "original": word}


def outcome_group(word: str) -> dict[str, str]:
    """``Failure`` → ``{"name": "failure", "original": "Failure"}``; an unknown word is ``unknown``."""
    return {"name": _OUTCOME_OF.get(word.strip().lower(), "unknown"), "original": word}
