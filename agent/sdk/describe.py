"""The ``meta`` block of a configuration key: its description (and an example).

Every key of every schema carries ``meta: {description: ...}`` (cerberus' rule for
descriptive data); ``siemrelay plugins``, the reference docs and the example config are
generated from it, and a test fails on a key without one.
"""

from __future__ import annotations

__all__ = ["describe"]


def describe(text: str, example: object = None) -> dict[str, object]:
    """``{"description": text}``, plus ``example`` when one is given (shown in the reference).

    Use it as ``"key": {"type": "string", "default": "x", "meta": describe("What it does.")}``.
    """
    return {"description": text} if example is None else {"description": text, "example": example}
