"""Which configuration values are secrets, so the agent can redact them everywhere.

One list of key names is secret in every plugin's section (:data:`ALWAYS_SECRET_KEYS`);
a plugin type adds its own in ``SECRET_KEYS``. Validation, the redactor, the reference
generator and the conformance suite all ask here, so they never disagree.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

__all__ = ["ALWAYS_SECRET_KEYS", "secret_keys", "secret_values"]

#: Keys whose values are secret whatever the plugin declares.
ALWAYS_SECRET_KEYS: frozenset[str] = frozenset({"token", "secret", "password"})

#: Shortest value collected: redacting "a" or "on" everywhere would mangle every log line.
_MIN_SECRET_CHARS = 4


def secret_keys(cls: type) -> frozenset[str]:
    """The secret key names of a plugin type: its ``SECRET_KEYS`` plus :data:`ALWAYS_SECRET_KEYS`."""
    declared: Iterable[str] = getattr(cls, "SECRET_KEYS", None) or ()
    return frozenset(declared) | ALWAYS_SECRET_KEYS


def secret_values(config: Mapping[str, Any], keys: Iterable[str]) -> set[str]:
    """The values of ``keys`` anywhere in ``config`` (nested blocks and lists too), to redact.

    :param keys: key names, e.g. :func:`secret_keys` of the section's plugin type.
    """
    wanted = frozenset(keys)
    found: set[str] = set()

    def walk(value: object, key: str = "") -> None:
        if isinstance(value, Mapping):
            for k, v in value.items():
                walk(v, str(k))
        elif isinstance(value, list):
            for v in value:
                walk(v, key)
        elif isinstance(value, str) and key in wanted and len(value) >= _MIN_SECRET_CHARS:
            found.add(value)

    walk(config)
    return found
