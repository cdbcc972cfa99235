"""Object keys: the ``key`` template of the ``s3`` sink, the Security Lake layout, and
the deterministic object name that makes a re-upload overwrite instead of duplicate.

An object's name comes from the spool sequence number and id of its first event, never
from the clock: after a crash between rolling an object and S3's confirmation, the
agent re-reads the same events and writes the same key again, so S3 keeps one copy.
Values put into a key are reduced to S3's safe characters (letters, digits and
``!-_.*'()``), so an event field can neither add path levels nor escape the prefix.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any, Mapping

from agent.sdk import DATE_PARTS, Template, TemplateError, event_time, parse_template

__all__ = ["KeyTemplate", "TemplateError", "object_id", "safe_part", "event_datetime", "security_lake_prefix",
           "DATE_PARTS"]

_UNSAFE = re.compile(r"[^A-Za-z0-9!_.*'()\-]+")
_OBJECT_ID = "object_id"
_MARK = "\x00"  # stands for the object id while events are grouped (never in a safe part)


def safe_part(value: object, limit: int = 100) -> str:
    """``value`` as one key segment: unsafe runs become ``_``, ``..`` cannot appear, empty is ``unknown``."""
    text = value if isinstance(value, str) else ("" if value is None else str(value))
    text = _UNSAFE.sub("_", text)[:limit].replace("..", "__")
    return text or "unknown"


event_datetime = event_time  # the date parts of keys come from the same event time as every template


def object_id(first_seq: int, first_event_id: str) -> str:
    """The object's name: the first event's spool number (zero-padded, so keys sort in spool
    order) and a hash of that number and the event's id (so a spool started afresh, whose
    numbers begin again, does not overwrite objects an earlier spool wrote)."""
    digest = hashlib.sha256(f"{first_seq}|{first_event_id}".encode("utf-8")).hexdigest()[:12]
    return f"{first_seq:016d}-{digest}"


class KeyTemplate:
    """A key template (:func:`agent.sdk.parse_template`): literal text and ``{{ name }}`` placeholders.

    :param allowed: the names a placeholder may use; by default the event's fields
        (dotted paths below them), the date parts and ``object_id``.
    :param need_object_id: append ``/{{ object_id }}`` when the template lacks it, so
        two objects never share a key.
    :raises TemplateError: naming the first placeholder that is not allowed.
    """

    def __init__(self, template: str, *, allowed: set[str] | None = None, need_object_id: bool = True) -> None:
        if not template.strip():
            raise TemplateError("the template is empty")
        if template.startswith("/"):
            raise TemplateError("a key must not start with '/'")
        self.allowed = allowed
        parsed = self.written = self._parse(template)  # as the user wrote it (warnings quote this)
        if need_object_id and _OBJECT_ID not in {f.path for f in parsed.fields}:
            parsed = self._parse(template.rstrip("/") + "/{{ object_id }}")
        self.template = parsed.text
        self.parsed = parsed
        self._dates = [name for name in DATE_PARTS if any(f.path == name for f in parsed.fields)]

    def _parse(self, text: str) -> Template:
        if self.allowed is None:
            return parse_template(text, extra={_OBJECT_ID})
        return parse_template(text, extra=self.allowed, roots=frozenset(), dates={})

    def render(self, values: Mapping[str, Any] | None = None, doc: Mapping[str, Any] | None = None,
               when: datetime | None = None, object_name: str = _MARK) -> str:
        """Fill the template: ``values`` first, then date parts of ``when``, then fields of ``doc``."""
        given = {_OBJECT_ID: object_name}
        if when is not None:
            given.update((name, when.strftime(DATE_PARTS[name])) for name in self._dates)
        if values is not None:
            given.update((name, safe_part(value)) for name, value in values.items())
        return self.parsed.render(doc or {}, safe_part, given)

    @staticmethod
    def finish(grouped_key: str, object_name: str) -> str:
        """A key rendered with the default ``object_name`` mark, with the real name put in."""
        return grouped_key.replace(_MARK, object_name)


def security_lake_prefix(source: str, region: str, account_id: str, when: datetime) -> str:
    """The custom-source partition Security Lake documents:
    ``ext/{source}/region={region}/accountId={account}/eventDay={YYYYMMDD}/``."""
    return f"ext/{source}/region={region}/accountId={account_id}/eventDay={when.strftime('%Y%m%d')}/"
