"""The template parser and renderer (``agent.sdk.template``): properties and refusals."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.model import Event
from agent.sdk import Template, TemplateError, field_text, parse_template
from agent.sdk.template import TemplateCheck, legacy_templates
from agent.testing import make_event

PATHS = ["id", "source", "type", "vendor_type", "severity", "severity_id", "score", "title", "time", "tags",
         "asset.host", "asset.name", "raw.user.id", "raw.n", "tags.0", "finding.cvss", "repository.name", "links.vendor"]

EVENTS = [
    make_event(),
    make_event(title="Grüße 東京 🔐 {x} }} {{", asset={"host": "web1", "ip": ["10.0.0.1", "10.0.0.2"]},
               tags=["pci", "paged"], raw={"user": {"id": 7}, "n": None}, finding={"cvss": 9.8},
               repository={"name": "org/repo"}, links={"vendor": "https://v/x"}),
    make_event(raw="a plain line", tags=[], time=datetime(2024, 12, 31, 23, 59, 59, 999000, tzinfo=timezone.utc)),
    make_event(raw=[1, {"a": 2}], asset={"host": None}),
]

# literal text that never forms a placeholder: no braces at all
literals = st.text(st.characters(blacklist_characters="{}", blacklist_categories=("Cs",)), max_size=12)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(list("{}ab .-_é\n") + ["source", "title", "asset.host", "titel", "year", "raw.0"]),
                max_size=25).map("".join) | st.text(max_size=40))
def test_parse_then_render_never_raises_anything_but_a_template_error(text: str) -> None:
    try:
        template = parse_template(text)
    except TemplateError as exc:
        assert str(exc)  # the refusal says something
        return
    for ev in EVENTS:
        assert isinstance(template.render(ev.to_dict()), str)
        assert isinstance(template.render_event(ev), str)
    assert parse_template(template.fixed).parts == template.parts  # the suggested fix means the same


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(literals, st.sampled_from(PATHS), st.sampled_from(["{{ %s }}", "{{%s}}", "{{  %s }}"])),
                max_size=4), literals)
def test_literals_round_trip_and_placeholders_take_the_event_value(chunks: list[tuple[str, str, str]], tail: str) -> None:
    text = "".join(lit + form % path for lit, path, form in chunks) + tail
    template = parse_template(text)
    assert not template.legacy
    assert [f.path for f in template.fields] == [path for _, path, _ in chunks]
    for ev in EVENTS:
        expected = "".join(lit + field_text(ev.get(path)) for lit, path, _ in chunks) + tail
        assert template.render_event(ev) == expected
        assert template.render(ev.to_dict()) == expected  # the JSON form a sink holds renders the same


@settings(max_examples=100, deadline=None)
@given(literals)
def test_text_without_placeholders_is_static_and_unchanged(text: str) -> None:
    template = parse_template(text)
    assert template.static and template.render({}) == text and template.fixed == text


def test_missing_fields_render_empty_and_values_as_text() -> None:
    ev = EVENTS[1]
    t = parse_template("{{ asset.ip }}|{{ raw.user }}|{{ raw.missing.x }}|{{ organization.name }}|{{ score }}|{{ tags.-1 }}")
    assert t.render_event(ev) == '10.0.0.1,10.0.0.2|{"id":7}|||' + f"{ev.score}|paged"
    assert t.render_event_complete(ev) is None  # a placeholder is empty
    assert parse_template("x-{{ source }}").render_event_complete(ev) == "x-test"


def test_date_parts_are_the_event_time_in_utc() -> None:
    ev = EVENTS[2]
    t = parse_template("{{ year }}/{{ month }}/{{ day }}/{{ hour }}{{ minute }}")
    assert t.render_event(ev) == t.render(ev.to_dict()) == "2024/12/31/2359"
    assert t.render({}) == "1970/01/01/0000"  # no time in the document: the epoch, never the clock


def test_names_an_option_adds_are_filled_from_values() -> None:
    t = parse_template("p/{{ source }}/{{ object_id }}", extra={"object_id"})
    assert t.render({"source": "a b"}, values={"object_id": "0001"}) == "p/a b/0001"
    with pytest.raises(TemplateError, match="object_id"):
        parse_template("p/{{ object_id }}")


def test_the_single_brace_form_still_renders_and_says_how_to_write_it() -> None:
    t = parse_template("siem.{source}.{{ severity }}-{asset.host}")
    assert t.legacy and t.fixed == "siem.{{ source }}.{{ severity }}-{{ asset.host }}"
    ev = EVENTS[1]
    assert t.render_event(ev) == parse_template(t.fixed).render_event(ev) == "siem.test.high-web1"
    # braces that do not look like a placeholder stay text
    assert parse_template('{"a": 1} { } {x}').render({}) == '{"a": 1} { } {x}'
    assert not parse_template('{"a": 1} { } {x}').legacy


@pytest.mark.parametrize("text,fragment", [
    ("{{ sorce }}", "does not name an event field; did you mean {{ source }}?"),
    ("{{ sorce }}", "(valid roots: action, actor, asset,"),
    ("{{ assett.host }}", "did you mean {{ asset.host }}?"),
    ("{sorce}", "the placeholder {sorce} does not name an event field; did you mean {{ source }}?"),
    ("{{ source }", "write {{ source }}"),
    ("{ source }}", "write {{ source }}"),
    ("x source }}", "write {{ source }}"),
    ("{{ }}", "write a field path such as {{ asset.name }}"),
    ("{{ a b }}", "is not a placeholder"),
    ("{{ title.x }}", "title is not a mapping"),
    ("{{ year.x }}", "year"),
])
def test_refusals_say_what_to_write(text: str, fragment: str) -> None:
    with pytest.raises(TemplateError) as exc:
        parse_template(text)
    assert fragment in str(exc.value)


def test_literal_templates_are_never_parsed() -> None:
    assert Template.literal("host{x}}").render({}) == "host{x}}"
    assert Template.literal("").render({}) == ""


def test_legacy_options_are_found_by_their_check_with_the_key_path() -> None:
    schema: dict[str, Any] = {
        "index": {"type": "string", "check_with": TemplateCheck()},
        "plain": {"type": "string"},
        "headers": {"type": "dict", "valuesrules": {"type": "string", "check_with": TemplateCheck()}},
        "nested": {"type": "dict", "schema": {"msgid": {"type": "string", "check_with": TemplateCheck()}}},
    }
    doc = {"index": "{source}", "plain": "{source}", "headers": {"X-Src": "{type}", "X-Ok": "{{ type }}"},
           "nested": {"msgid": "{{ type }}-{vendor_type}"}}
    found = legacy_templates(schema, doc)
    assert [path for path, _ in found] == [("index",), ("headers", "X-Src"), ("nested", "msgid")]
    assert "write '{{ type }}-{{ vendor_type }}'" in found[2][1]


def test_check_with_reports_on_the_field() -> None:
    errors: list[tuple[str, str]] = []
    TemplateCheck()("index", "{{ sorce }}", lambda field, msg: errors.append((field, msg)))
    TemplateCheck(shape=lambda t: "no spaces" if " " in t.text else None)("subject", "a b", lambda f, m: errors.append((f, m)))
    TemplateCheck()("index", None, lambda f, m: errors.append((f, m)))
    assert [f for f, _ in errors] == ["index", "subject"] and "did you mean" in errors[0][1]


def test_event_paths_are_the_json_names() -> None:
    assert isinstance(EVENTS[0], Event)
    assert parse_template("{{ severity }}/{{ severity_id }}").render_event(EVENTS[0]) == "high/4"


def test_a_template_survives_pickling_and_copying() -> None:
    import copy
    import pickle

    t = parse_template("siem.{{ source }}.{{ year }}-{asset.host}")
    for clone in (pickle.loads(pickle.dumps(t)), copy.deepcopy(t)):
        assert clone == t and clone.legacy
        assert clone.render(EVENTS[1].to_dict()) == t.render(EVENTS[1].to_dict()) == "siem.test.2025-web1"
