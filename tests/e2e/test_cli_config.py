"""``siemrelay config --effective`` and ``--json-schema`` through the installed command.

The effective view must show what the agent runs (includes and routes.d/ merged,
defaults filled) with the file and line of each value and no secret; the JSON Schema
must accept every configuration the project ships and every YAML snippet of the docs,
and refuse what validate refuses at the level of keys and types.
"""

from __future__ import annotations

import glob
import textwrap
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest
import yaml

from tests.conftest import ROOT
from tests.e2e.test_cli_init import siemrelay

SECRET = "hec-token-4f9a1c77"


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


@pytest.mark.e2e
def test_effective_configuration_names_the_file_and_line_of_each_value_and_masks_secrets(tmp_path: Path) -> None:
    main = _write(tmp_path / "siemrelay.yaml", f"""\
        agent:
          state_dir: {tmp_path}/state
        include: [extra.yaml]
        sinks:
          splunk:
            type: splunk_hec
            url: https://127.0.0.1:1
            token: ${{HEC_TOKEN}}
        routes:
          - name: default
            to: [splunk]
        """)
    _write(tmp_path / "extra.yaml", """\
        sinks:
          archive:
            type: file
            path: out.jsonl
        """)
    _write(tmp_path / "routes.d" / "10-team.yaml", """\
        routes:
          - name: team
            when: {severity: ">= high"}
            to: [archive]
        """)
    res = siemrelay("config", "--effective", "-c", str(main), cwd=tmp_path, env={"HEC_TOKEN": SECRET})
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert SECRET not in out and "token: '***'  # siemrelay.yaml:8" in out
    assert "files read: siemrelay.yaml, extra.yaml, routes.d/10-team.yaml" in out
    lines = out.splitlines()

    def line(prefix: str) -> str:
        return next(x for x in lines if x.strip().startswith(prefix))

    assert line("url: 'https://127.0.0.1:1'").endswith("# siemrelay.yaml:7")
    assert line("path: out.jsonl").endswith("# extra.yaml:4")
    assert line("- name: team").endswith("# routes.d/10-team.yaml:2")
    assert line("max_attempts:").endswith("# default")  # a default the agent filled in
    assert line("state_dir:").endswith("# siemrelay.yaml:2")
    # what is printed is YAML of the configuration the agent runs
    doc = yaml.safe_load(out)
    assert [r["name"] for r in doc["routes"]] == ["default", "team"]
    assert doc["sinks"]["splunk"]["retry"]["max_attempts"] == -1 and doc["sinks"]["archive"]["type"] == "file"
    assert doc["agent"]["spool"]["sync"] == "full"


@pytest.mark.e2e
def test_effective_configuration_of_an_invalid_file_is_the_validate_message(tmp_path: Path) -> None:
    bad = _write(tmp_path / "bad.yaml", "sinks:\n  out: {type: file, pathh: x}\nroutes: [{name: default, to: [out]}]\n")
    res = siemrelay("config", "--effective", "-c", str(bad))
    assert res.returncode == 2 and "bad.yaml:2" in res.stderr and "did you mean 'path'" in res.stderr
    assert "Traceback" not in res.stderr


# --- JSON Schema -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("schema") / "siemrelay.schema.json"
    res = siemrelay("config", "--json-schema", "-o", str(out))
    assert res.returncode == 0, res.stderr
    doc: dict[str, Any] = orjson.loads(out.read_bytes())
    jsonschema.Draft7Validator.check_schema(doc)
    return doc


def _errors(schema: dict[str, Any], doc: Any) -> list[str]:
    v = jsonschema.Draft7Validator(schema)
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in v.iter_errors(doc)]


SHIPPED = sorted({*glob.glob(str(ROOT / "conf" / "**" / "*.yaml"), recursive=True),
                  *glob.glob(str(ROOT / "examples" / "**" / "*.yaml"), recursive=True),
                  *glob.glob(str(ROOT / "packaging" / "**" / "*.yaml"), recursive=True)}
                 - {str(ROOT / "conf" / "routing-tests.yaml")})


@pytest.mark.e2e
def test_every_shipped_configuration_and_the_init_template_match_the_schema(schema: dict[str, Any], tmp_path: Path) -> None:
    assert len(SHIPPED) >= 10
    assert siemrelay("init", "--dir", str(tmp_path / "init")).returncode == 0
    for f in [*SHIPPED, str(tmp_path / "init" / "siemrelay.yaml")]:
        doc = yaml.safe_load(Path(f).read_text()) or {}
        assert not _errors(schema, doc), f"{f}: {_errors(schema, doc)}"


def test_every_configuration_snippet_of_the_docs_matches_the_schema(schema: dict[str, Any]) -> None:
    from tests.unit.test_doc_snippets import SNIPPETS, prepare

    checked = 0
    for s in SNIPPETS:
        if s.marker is not None:
            continue
        prep = prepare(s)
        if prep.kind != "config":
            continue
        errors = _errors(schema, yaml.safe_load(prep.text))
        assert not errors, f"{s.id}: {errors}"
        checked += 1
    assert checked >= 20


def test_the_schema_refuses_typos_wrong_types_and_unknown_types(schema: dict[str, Any]) -> None:
    ok = {"sinks": {"out": {"type": "file", "path": "x", "retry": {"max_attempts": 3}}},
          "routes": [{"name": "default", "to": ["out"]}]}
    assert not _errors(schema, ok)
    assert not _errors(schema, {**ok, "sinks": {"out": {"type": "file", "path": "x", "retry": {"max_attempts": "${N}"}}}})
    typo = {"sinks": {"out": {"type": "file", "pathh": "x"}}}
    assert any("pathh" in e for e in _errors(schema, typo))
    wrong = {"sinks": {"out": {"type": "file", "path": "x", "batch": {"max_events": "many"}}}}
    assert any("batch.max_events" in e for e in _errors(schema, wrong))
    unknown = {"sinks": {"out": {"type": "fiel"}}}
    assert any("fiel" in e for e in _errors(schema, unknown))
    assert _errors(schema, {"agent": {"log_level": "loud"}}) and _errors(schema, {"agnet": {}})
    assert schema["properties"]["sinks"]["additionalProperties"]["allOf"][0]["then"]["properties"]["type"]["const"]


def test_the_schema_in_docs_is_generated_from_the_schemas() -> None:
    from agent.config.jsonschema import schema_json
    from agent.plugins import load_plugins

    current = (ROOT / "docs" / "siemrelay.schema.json").read_text(encoding="utf-8")
    assert current == schema_json(load_plugins(entry_points=False)), (
        "docs/siemrelay.schema.json is stale: run `python -m agent.config.jsonschema > docs/siemrelay.schema.json`")

