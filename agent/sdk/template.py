"""``{{ path }}`` templates: the one placeholder syntax of sink options and route transforms.

A template is parsed once, when the configuration is validated, into literal text and
pre-split field paths; rendering an event walks that tuple (no regular expression,
no re-parsing per event). The same rules hold everywhere, so ``{{ asset.host }}`` means
the same thing in ``splunk_hec.host``, ``syslog.msgid``, ``nats.subject``, an s3 key or a
route's ``set``:

- ``{{ path }}`` names a field of the event by its JSON name (``source``, ``severity``,
  ``asset.name``, ``raw.user.id``, ``tags.0``), or a part of the event's UTC time
  (``year``, ``month``, ``day``, ``hour``, ``minute``), or a name the option adds
  (an s3 key's ``object_id``).
- A missing field renders as the empty string (an option never fails on an event that
  lacks a group); lists are joined with commas, mappings become compact JSON.
- ``{path}`` with single braces is the deprecated spelling of earlier releases: it
  still renders, and :attr:`Template.legacy` lets the configuration check warn with
  the fixed spelling. It is removed in the next release.
- Anything that looks like a placeholder but is not one (``{{ source }``, ``{{ }}``,
  a root that is no event field) is a :class:`TemplateError` that says what to write.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Mapping, Union

import orjson

from agent.model import GROUPS, Event, format_time

__all__ = ["Template", "Field", "TemplateError", "TemplateCheck", "TEMPLATE_CHECK", "parse_template", "field_text",
           "legacy_templates", "EVENT_ROOTS", "DATE_PARTS", "event_time"]

#: Top-level names of the event's JSON form (``severity`` is the name, ``severity_id`` the number).
EVENT_ROOTS = frozenset(Event.__dataclass_fields__) | {"severity"}
#: Names filled from the event's time (UTC, zero-padded), as ``strftime`` formats.
DATE_PARTS: dict[str, str] = {"year": "%Y", "month": "%m", "day": "%d", "hour": "%H", "minute": "%M"}
_NESTED = frozenset({*GROUPS, "raw", "tags"})
_PATH = re.compile(r"[A-Za-z_][\w\-]*(?:\.[\w\-]+)*")
_SINGLE = re.compile(r"\{\s*(" + _PATH.pattern + r")\s*\}")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class TemplateError(ValueError):
    """A template that cannot be rendered as written; the message says what to write."""


@dataclass(frozen=True, slots=True)
class Field:
    """One placeholder: its dotted path, split once."""

    path: str
    steps: tuple[str, ...]
    date: str | None = None  # the strftime format when the path is a date part


Part = Union[str, Field]


def field_text(value: object) -> str:
    """The text a value renders as: missing is empty, lists comma-joined, mappings JSON."""
    if type(value) is str:
        return value
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, list):
        return ",".join(field_text(v) for v in value)
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS, default=str).decode()


def _lookup(doc: Mapping[str, Any], steps: tuple[str, ...]) -> Any:
    value: Any = doc
    for step in steps:
        if type(value) is dict or isinstance(value, Mapping):  # the exact-type test first: ABC checks are slow
            value = value.get(step)
        elif isinstance(value, list) and step.lstrip("-").isdigit() and -len(value) <= int(step) < len(value):
            value = value[int(step)]
        else:
            return None
        if value is None:
            return None
    return value


def event_time(doc: Mapping[str, Any]) -> datetime:
    """The event's time from its JSON form (else its receive time, else the epoch: never the clock)."""
    for name in ("time", "received_at"):
        value = doc.get(name)
        if isinstance(value, str):
            try:
                when = datetime.fromisoformat(value)
            except ValueError:
                continue
            return when.astimezone(timezone.utc) if when.tzinfo else when.replace(tzinfo=timezone.utc)
    return _EPOCH


def _compile(parts: tuple[Part, ...], source: str) -> Callable[..., str]:
    """One Python expression per template, built once: literals as constants, each
    placeholder a dict lookup (a walk only for dotted paths). ``source`` is ``doc`` (the
    event's JSON form) or ``ev`` (an :class:`~agent.model.Event`). Literals and paths
    enter the code through ``repr`` only, so no text of a template is ever executed."""
    pieces: list[str] = []
    for part in parts:
        if isinstance(part, str):
            pieces.append(repr(part))
        elif part.date is not None:
            when = "event_time(doc)" if source == "doc" else "ev.time.astimezone(_UTC)"
            pieces.append(f"{when}.strftime({part.date!r})")
        elif source == "ev":
            pieces.append(f"text(ev.get({part.path!r}))")
        elif len(part.steps) == 1:
            pieces.append(f"text(doc.get({part.steps[0]!r}))")
        else:
            pieces.append(f"text(_lookup(doc, {part.steps!r}))")
    body = "".join(["(", " + ".join(pieces) or "''", ")"])
    scope = {"_lookup": _lookup, "event_time": event_time, "_UTC": timezone.utc}
    fill: Callable[..., str] = eval(f"lambda {source}, text: {body}", scope)  # noqa: S307 (code built above)
    return fill


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed template. Build it with :func:`parse_template` (or :meth:`literal`).

    :ivar text: the template as the user wrote it.
    :ivar parts: literal strings and :class:`Field` placeholders, in order.
    :ivar legacy: written with the deprecated single-brace ``{path}`` form somewhere.
    """

    text: str
    parts: tuple[Part, ...]
    legacy: bool = False
    static: bool = field(init=False, compare=False)
    """No placeholder: every event gets the same text."""
    _constant: str = field(init=False, repr=False, compare=False)
    _fill_doc: Callable[..., str] = field(init=False, repr=False, compare=False)
    _fill_ev: Callable[..., str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        static = all(isinstance(p, str) for p in self.parts)
        object.__setattr__(self, "static", static)
        object.__setattr__(self, "_constant", "".join(p for p in self.parts if isinstance(p, str)))
        object.__setattr__(self, "_fill_doc", _compile(self.parts, "doc"))
        object.__setattr__(self, "_fill_ev", _compile(self.parts, "ev"))

    def __reduce__(self) -> tuple[type["Template"], tuple[str, tuple[Part, ...], bool]]:
        """Pickled as what was parsed; the fill functions are compiled again on load."""
        return (Template, (self.text, self.parts, self.legacy))

    @classmethod
    def literal(cls, text: str) -> "Template":
        """A fixed text that is never parsed (a machine's hostname as a default)."""
        return cls(text, (text,) if text else ())

    @property
    def fields(self) -> tuple[Field, ...]:
        return tuple(p for p in self.parts if isinstance(p, Field))

    @property
    def fixed(self) -> str:
        """The template in today's syntax (what a deprecation warning suggests)."""
        return "".join(p if isinstance(p, str) else "{{ " + p.path + " }}" for p in self.parts)

    def render(self, doc: Mapping[str, Any], text: Callable[[Any], str] = field_text,
               values: Mapping[str, str] | None = None) -> str:
        """Fill the template from an event's JSON form (what sinks hold on the hot path).

        :param text: how a field's value becomes text (a sink may reduce it to the
            characters its protocol allows).
        :param values: text of the names the option adds (``object_id``), used first and
            inserted as given (not through ``text``).
        """
        if self.static:
            return self._constant
        if values:
            return "".join(values[p.path] if isinstance(p, Field) and p.path in values else
                           self._one(p, doc, text) for p in self.parts)
        return self._fill_doc(doc, text)

    def render_event(self, ev: Event, text: Callable[[Any], str] = field_text) -> str:
        """Fill the template from an :class:`~agent.model.Event` (route transforms)."""
        if self.static:
            return self._constant
        return self._fill_ev(ev, text)

    def render_event_complete(self, ev: Event, text: Callable[[Any], str] = field_text) -> str | None:
        """Like :meth:`render_event`, but ``None`` when a placeholder's value is missing or empty."""
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                value = part
            elif part.date is not None:
                value = ev.time.astimezone(timezone.utc).strftime(part.date)
            else:
                value = text(ev.get(part.path))
            if isinstance(part, Field) and not value:
                return None
            out.append(value)
        return "".join(out)

    @staticmethod
    def _one(part: Part, doc: Mapping[str, Any], text: Callable[[Any], str]) -> str:
        if isinstance(part, str):
            return part
        if part.date is not None:
            return event_time(doc).strftime(part.date)
        return text(_lookup(doc, part.steps))


def _field(path: str, roots: frozenset[str], extra: frozenset[str], shown: str, dates: Mapping[str, str]) -> Field:
    """Check one placeholder's path; ``shown`` is how the user wrote it (for messages)."""
    head, *rest = path.split(".")
    if path in extra:
        return Field(path, (path,))
    if head in dates and not rest and head not in roots:
        return Field(path, (path,), dates[head])
    if head not in roots:
        known = sorted(roots | set(dates) | extra)
        near = difflib.get_close_matches(head, known, n=1)
        hint = f"; did you mean {{{{ {'.'.join([near[0], *rest])} }}}}?" if near else ""
        raise TemplateError(f"the placeholder {shown} does not name an event field{hint} "
                            f"(valid roots: {', '.join(known)})")
    if rest and head not in _NESTED:
        raise TemplateError(f"the placeholder {shown}: {head} is not a mapping, so {path!r} names nothing")
    return Field(path, tuple(path.split(".")))


def _legacy_field(path: str, roots: frozenset[str], extra: frozenset[str], dates: Mapping[str, str]) -> Field | None:
    """A single-brace ``{path}``: the deprecated placeholder when it names a field, an error
    when it is a near miss of one (``{sorce}``), else ``None`` (literal text)."""
    head = path.split(".")[0]
    if head in roots or path in extra or (head in dates and head == path):
        return _field(path, roots, extra, f"{{{path}}}", dates)
    if difflib.get_close_matches(head, sorted(roots | set(dates) | extra), n=1):
        return _field(path, roots, extra, f"{{{path}}}", dates)  # raises, with the suggestion
    return None


def parse_template(text: str, *, extra: Iterable[str] = (), roots: frozenset[str] = EVENT_ROOTS,
                   dates: Mapping[str, str] = DATE_PARTS) -> Template:
    """Parse ``text`` once; raise :class:`TemplateError` saying what to write instead.

    :param extra: names the option adds beside the event's fields (``object_id``).
    :param roots: the top-level names a path may start with (the event's fields).
    :param dates: the date-part names allowed (``{}`` for an option with none).
    """
    names = frozenset(extra)
    parts: list[Part] = []
    literal: list[str] = []
    legacy = False
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "{" and text.startswith("{{", i):
            end = text.find("}}", i + 2)
            inner = text[i + 2:end if end >= 0 else n]
            if end < 0 or "{" in inner:
                close = re.match(r"\s*(" + _PATH.pattern + r")\s*\}?", inner)
                hint = f"; write {{{{ {close.group(1)} }}}}" if close else ""
                raise TemplateError(f"an unclosed placeholder at {text[i:i + 30]!r}{hint}")
            path = inner.strip()
            if not _PATH.fullmatch(path):
                raise TemplateError(f"{{{{{inner}}}}} is not a placeholder: write a field path such as "
                                    f"{{{{ asset.name }}}}")
            parts.append("".join(literal))
            literal = []
            parts.append(_field(path, roots, names, f"{{{{ {path} }}}}", dates))
            i = end + 2
            continue
        if c == "{":
            m = _SINGLE.match(text, i)
            if m is not None:
                path = m.group(1)
                if text.startswith("}", m.end()):
                    raise TemplateError(f"{text[i:m.end() + 1]!r} mixes one and two braces; write {{{{ {path} }}}}")
                placeholder = _legacy_field(path, roots, names, dates)
                if placeholder is None:  # {word} that names nothing and resembles no field: literal text
                    literal.append(m.group(0))
                    i = m.end()
                    continue
                parts.append("".join(literal))
                literal = []
                parts.append(placeholder)
                legacy = True
                i = m.end()
                continue
        if c == "}" and text.startswith("}}", i):
            before = re.search(r"\{?\s*(" + _PATH.pattern + r")\s*$", text[:i])
            hint = f"; write {{{{ {before.group(1)} }}}}" if before else ""
            raise TemplateError(f"a '}}}}' without its '{{{{'{hint}")
        literal.append(c)
        i += 1
    parts.append("".join(literal))
    return Template(text, tuple(p for p in parts if p != ""), legacy)


class TemplateCheck:
    """cerberus ``check_with`` for an option that takes a template: the error lands on the
    option's own key, line and file. :func:`legacy_templates` finds options by this check.

    :param extra: names the option adds beside the event's fields.
    :param shape: a further check of the parsed template (a NATS subject's tokens);
        returns what is wrong, or ``None``.
    """

    def __init__(self, extra: Iterable[str] = (), shape: Callable[[Template], str | None] | None = None) -> None:
        self.extra = frozenset(extra)
        self.shape = shape

    def parse(self, value: str) -> Template:
        return parse_template(value, extra=self.extra)

    def __call__(self, field: str, value: object, error: Callable[[str, str], None]) -> None:
        if not isinstance(value, str):
            return
        try:
            template = self.parse(value)
        except TemplateError as exc:
            error(field, str(exc))
            return
        problem = self.shape(template) if self.shape is not None else None
        if problem:
            error(field, problem)

    def __deepcopy__(self, memo: dict[int, Any]) -> "TemplateCheck":
        return self  # immutable; schemas are deep-copied when composed


#: The check of a plain template option (event fields and date parts).
TEMPLATE_CHECK = TemplateCheck()


def legacy_templates(schema: Mapping[str, Any], doc: Mapping[str, Any],
                     prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], str]]:
    """Options of a validated section written with the deprecated ``{path}`` form.

    :returns: ``(key path, message with the fixed spelling)`` per option.
    """
    out: list[tuple[tuple[str, ...], str]] = []
    for key, rules in schema.items():
        if not isinstance(rules, Mapping) or key not in doc:
            continue
        value = doc[key]
        check = rules.get("check_with")
        if isinstance(check, TemplateCheck) and isinstance(value, str):
            _note(check, value, prefix + (key,), out)
        elif isinstance(value, Mapping):
            values_check = (rules.get("valuesrules") or {}).get("check_with")
            if isinstance(values_check, TemplateCheck):
                for sub, text in value.items():
                    if isinstance(text, str):
                        _note(values_check, text, prefix + (key, str(sub)), out)
            elif isinstance(rules.get("schema"), Mapping):
                out.extend(legacy_templates(rules["schema"], value, prefix + (key,)))
    return out


def _note(check: TemplateCheck, value: str, path: tuple[str, ...], out: list[tuple[tuple[str, ...], str]]) -> None:
    try:
        template = check.parse(value)
    except TemplateError:
        return  # reported as an error by the check itself
    if template.legacy:
        out.append((path, f"the single-brace placeholder {value!r} is deprecated and stops working in the next "
                          f"release; write {template.fixed!r}"))
