"""Per-route transforms: each step, copy-on-write, validation messages."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from agent.model import Event
from agent.testing import make_event
from agent.routing.transforms import Transform, TransformCompiler


def compile_ok(spec: list[Any]) -> Transform:
    errors: list[Any] = []
    t = TransformCompiler(errors).compile(spec, ())
    assert not errors, errors
    assert t is not None
    return t


def sample() -> Event:
    return make_event(title="SQLi", source="zeropath", severity="high", score=80, tags=["pci"],
                      asset={"name": "api", "ip": "10.0.0.5", "host": {"os": "linux"}},
                      repository={"name": "backend-api"},
                      raw={"token": "t0ps3cret", "user": {"email": "a@b.c", "id": 7}, "n": 1})


def test_original_event_and_its_nested_mappings_are_never_modified() -> None:
    ev = sample()
    before = copy.deepcopy(ev.to_dict())
    t = compile_ok([{"redact": ["raw.user.email", "asset.ip"]}, {"set": {"asset.host.os": "win", "title": "x"}},
                    {"tag": ["paged"]}, {"rename": {"raw.token": "raw.secret"}}])
    out = t(ev)
    assert out is not None and out is not ev
    assert ev.to_dict() == before


def test_drop_unconditional_and_conditional() -> None:
    assert compile_ok([{"drop": True}])(sample()) is None
    only_critical = compile_ok([{"drop": {"severity": "< critical"}}])
    assert only_critical(sample()) is None
    assert only_critical(make_event(severity="critical")) is not None
    # drop sees the event as earlier steps left it
    assert compile_ok([{"set": {"severity": "critical"}}, {"drop": {"severity": "< critical"}}])(sample()) is not None


def test_set_fields_top_level_nested_and_templates() -> None:
    out = compile_ok([{"set": {"title": "[{{ source }}] {{ title }} in {{ repository.name }}", "severity": "critical",
                               "score": 99.6, "finding.ticket": "SOC-{{ raw.user.id }}", "links.runbook": "https://wiki/x",
                               "raw.routed": True}}])(sample())
    assert out is not None
    d = out.to_dict()
    assert d["title"] == "[zeropath] SQLi in backend-api"
    assert (d["severity"], d["severity_id"], d["score"]) == ("critical", 5, 100)
    assert d["finding"] == {"ticket": "SOC-7"}
    assert d["links"] == {"runbook": "https://wiki/x"}
    assert d["raw"]["routed"] is True and d["raw"]["n"] == 1


def test_tag_adds_once_and_keeps_existing() -> None:
    out = compile_ok([{"tag": ["pci", "paged", "repo-{{ repository.name }}"]}, {"tag": "paged"}])(sample())
    assert out is not None and out.tags == ["pci", "paged", "repo-backend-api"]


def test_tag_with_a_missing_field_is_left_out() -> None:
    ev = make_event(tags=["pci"])  # no repository
    out = compile_ok([{"tag": ["urgent", "repo:{{ repository.name }}"]}])(ev)
    assert out is not None and out.tags == ["pci", "urgent"]


def test_redact_removes_or_masks() -> None:
    out = compile_ok([{"redact": ["raw"]}])(sample())
    assert out is not None and out.to_dict()["raw"] is None
    out = compile_ok([{"redact": ["raw.token", "raw.missing.deep", "asset.host.os", "description"]}])(sample())
    assert out is not None
    assert "token" not in out.raw and out.asset["host"] == {}
    out = compile_ok([{"redact": {"fields": ["raw.token", "asset.ip", "raw.absent"], "mask": "[REDACTED]"}}])(sample())
    assert out is not None
    assert out.raw["token"] == "[REDACTED]" and out.asset["ip"] == "[REDACTED]" and "absent" not in out.raw
    assert b"t0ps3cret" not in out.to_json()


def test_rename_moves_nested_values_and_ignores_missing_ones() -> None:
    out = compile_ok([{"rename": {"raw.user.email": "asset.owner", "raw.nope": "asset.nope"}}])(sample())
    assert out is not None
    assert out.asset["owner"] == "a@b.c" and "email" not in out.raw["user"] and "nope" not in out.asset


def test_equal_transform_lists_compile_to_one_object() -> None:
    tc = TransformCompiler([])
    a = tc.compile([{"redact": ["raw"]}], ())
    b = tc.compile([{"redact": ["raw"]}], ())
    c = tc.compile([{"redact": ["raw", "asset"]}], ())
    assert a is b and a is not c
    assert tc.compile([], ()) is None


def test_output_is_valid_native_json() -> None:
    out = compile_ok([{"set": {"raw": "replaced"}}, {"redact": ["asset"]}])(sample())
    assert out is not None
    back = Event.from_json(out.to_json())
    assert back.raw == "replaced" and back.asset is None


@pytest.mark.parametrize("spec,fragment", [
    ([{"explode": True}], "unknown transform 'explode'"),
    ([{"redatc": ["raw"]}], "did you mean 'redact'"),
    ([{"redact": ["raw"], "tag": "x"}], "each step is a mapping with one key"),
    ({"redact": ["raw"]}, "expected a list of steps"),
    ([{"redact": ["id"]}], "id is a required field"),
    ([{"redact": ["severity"]}], "severity is a required field"),
    ([{"redact": {"fields": ["asset"], "mask": "x"}}], "cannot be masked"),
    ([{"redact": ["rawr"]}], "did you mean 'raw'"),
    ([{"redact": ["title.x"]}], "title is not a mapping"),
    ([{"set": {"id": "x"}}], "id cannot be changed"),
    ([{"set": {"severity": "urgent"}}], "severity expects a severity"),
    ([{"set": {"score": 101}}], "score expects a number from 0 to 100"),
    ([{"set": {"type": 5}}], "type expects a non-empty string"),
    ([{"set": {"asset": "x"}}], "asset expects a mapping"),
    ([{"set": {"tags": "x"}}], "tags expects a list of strings"),
    ([{"tag": []}], "expected a tag or a list of tags"),
    ([{"tag": "team-{{ repo.name }}"}], "the placeholder {{ repo.name }} does not name an event field"),
    ([{"set": {"title": "{{ titel }}"}}], "the placeholder {{ titel }} does not name an event field"),
    ([{"rename": {"title": "raw.title"}}], "both paths must name a field inside a mapping"),
    ([{"drop": {"serverity": "low"}}], "did you mean 'severity'"),
])
def test_invalid_transforms_are_reported(spec: Any, fragment: str) -> None:
    errors: list[Any] = []
    assert TransformCompiler(errors).compile(spec, ("transforms",)) is None
    assert errors and fragment in errors[0][1], errors
    assert errors[0][0][0] == "transforms"


def test_transform_of_event_with_non_mapping_raw() -> None:
    ev = make_event(raw="a plain syslog line")
    out = compile_ok([{"redact": ["raw.user"]}, {"set": {"raw.note": "x"}}])(ev)
    assert out is not None and out.raw == {"note": "x"}
    assert orjson.loads(out.to_json())["raw"] == {"note": "x"} and ev.raw == "a plain syslog line"
