"""Rule validation through the real loader: file, line and route in every error; warnings."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from agent.config.validate import validate_config
from agent.config.loader import load_config
from agent.errors import ConfigError

MAIN = """\
agent: {state_dir: ./state}
sinks:
  siem: {type: file, path: ./siem.jsonl}
  slack: {type: file, path: ./slack.jsonl}
  paused: {type: file, path: ./p.jsonl, enabled: false}
routes:
  - name: default
    to: [siem]
"""


def problems_of(path: Path, plugin_set) -> list[str]:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError) as exc:
        validate_config(load_config(path, env={}), plugin_set)
    return [str(p) for p in exc.value.problems]


def test_routes_d_files_merge_in_name_order_after_the_main_file(write_config: Callable[..., Path], plugin_set) -> None:  # type: ignore[no-untyped-def]
    main = write_config(MAIN)
    write_config("routes:\n  - name: b-team\n    when: {source: b}\n    to: [slack]\n", "routes.d/20-b.yaml")
    write_config("routes:\n  - name: a-team\n    when: {source: a}\n    to: [slack]\n", "routes.d/10-a.yaml")
    cfg = validate_config(load_config(main, env={}), plugin_set)
    assert [r.name for r in cfg.router.routes] == ["a-team", "b-team"]
    assert cfg.router.routes[0].where == (str(main.parent / "routes.d" / "10-a.yaml"), 2)


def test_each_error_names_file_line_and_route(write_config: Callable[..., Path], plugin_set) -> None:  # type: ignore[no-untyped-def]
    main = write_config(MAIN)
    team = write_config("""\
routes:
  - name: chat
    when:
      severity: ">= hihg"
      title: {regex: "(unclosed"}
      asset.name: {globb: "x"}
      score: {">=": "high"}
    to: [slak]
    transforms:
      - redact: [id]
      - explode: true
""", "routes.d/10-team.yaml")
    got = problems_of(main, plugin_set)
    f = str(team)
    assert f"{f}:4: routes[1].when.severity: route 'chat': unknown severity 'hihg'" in got[1]
    assert f"{f}:5: routes[1].when.title.regex: route 'chat': title: bad regex '(unclosed'" in got[2]
    assert f"{f}:6: routes[1].when.asset.name.globb: route 'chat': asset.name: unknown operator 'globb'; did you mean 'glob'?" in got[3]
    assert f"{f}:7: routes[1].when.score.>=: route 'chat': score: '>=' expects a number" in got[4]
    assert got[0] == f"{f}:8: routes[1].to[0]: route 'chat' sends to sink 'slak', which is not defined; did you mean 'slack'?"
    assert f"{f}:10: routes[1].transforms[0].redact[0]: route 'chat': redact: id is a required field" in got[5]
    assert f"{f}:11: routes[1].transforms[1].explode: route 'chat': unknown transform 'explode'" in got[6]
    assert len(got) == 7


def test_duplicate_route_names_across_files_are_errors(write_config: Callable[..., Path], plugin_set) -> None:  # type: ignore[no-untyped-def]
    main = write_config(MAIN + "  - name: chat\n    to: [slack]\n")
    other = write_config("routes:\n  - name: chat\n    to: [siem]\n", "routes.d/10-x.yaml")
    got = problems_of(main, plugin_set)
    assert got == [f"{other}:2: routes[2].name: route 'chat' is already defined at {main}:9"]


def test_unknown_route_key_is_an_error_with_a_suggestion(write_config: Callable[..., Path], plugin_set) -> None:  # type: ignore[no-untyped-def]
    main = write_config(MAIN + "  - name: x\n    to: [slack]\n    contineu: true\n")
    assert problems_of(main, plugin_set) == [f"{main}:11: routes[1].contineu: unknown key; did you mean 'continue'?"]


def test_disabled_routes_and_sinks_are_still_checked(write_config: Callable[..., Path], plugin_set) -> None:  # type: ignore[no-untyped-def]
    main = write_config(MAIN + "  - name: later\n    enabled: false\n    when: {type: {regex: '['}}\n    to: [paused]\n")
    got = problems_of(main, plugin_set)
    assert len(got) == 1 and "route 'later': type: bad regex '['" in got[0]
    fixed = write_config(MAIN + "  - name: later\n    enabled: false\n    to: [paused]\n")
    cfg = validate_config(load_config(fixed, env={}), plugin_set)
    assert cfg.router.disabled[0].name == "later"


def test_shadowed_routes_are_warnings_not_errors(write_config: Callable[..., Path], plugin_set) -> None:  # type: ignore[no-untyped-def]
    main = write_config(MAIN + """\
  - name: tee
    to: [slack]
    continue: true
  - name: everything
    when: {type: "*"}
    to: [siem]
  - name: never
    when: {severity: critical}
    to: [slack]
""")
    cfg = validate_config(load_config(main, env={}), plugin_set)
    warnings = [str(w) for w in cfg.router.warnings]
    assert warnings == [
        f"{main}:15: routes[3]: route 'never' is never reached: route 'everything' ({main}:12) before it "
        "matches every event and does not continue",
        f"{main}:7: routes[0]: route 'default' is never used: route 'everything' matches every event",
    ]


def test_identical_conditions_shadow_the_later_route(write_config: Callable[..., Path], plugin_set) -> None:  # type: ignore[no-untyped-def]
    main = write_config(MAIN + """\
  - name: first
    when: {source: zeropath, severity: ">= high"}
    to: [slack]
  - name: second
    when: {severity: ">= high", source: zeropath}
    to: [siem]
""")
    cfg = validate_config(load_config(main, env={}), plugin_set)
    assert ["same conditions" in str(w) and "'second'" in str(w) for w in cfg.router.warnings] == [True]


def test_validate_command_prints_route_warnings(write_config: Callable[..., Path], tmp_path: Path) -> None:
    from tests.conftest import run_cli

    main = write_config(MAIN + "  - name: all\n    to: [siem]\n  - name: late\n    to: [slack]\n")
    out = run_cli("validate", "-c", str(main), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "~ " in out.stdout and "route 'late' is never reached" in out.stdout


def test_every_yaml_example_in_the_routing_docs_compiles() -> None:
    """docs/routing.md shows an example per operator and transform; each must be valid."""
    import re

    import yaml

    from agent.routing.conditions import OPERATORS, CondCompiler
    from agent.routing.transforms import STEPS, TransformCompiler
    from tests.conftest import ROOT

    text = (ROOT / "docs" / "routing.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.S)
    assert len(blocks) >= 6
    errors: list = []  # type: ignore[type-arg]
    for block in blocks:
        doc = yaml.safe_load(block)
        for route in doc.get("routes", []) if isinstance(doc, dict) else []:
            CondCompiler(errors).compile(route.get("when") or {})
            TransformCompiler(errors).compile(route.get("transforms"), ())
        if isinstance(doc, dict) and "when" in doc:
            CondCompiler(errors).compile(doc["when"])
    # the operator and transform tables: | `op` | argument | `example` | meaning |
    for line in text.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) > 4 and cells[1].strip("`") in (*OPERATORS, *STEPS) and cells[3].startswith("`"):
            example = yaml.safe_load(cells[3].strip("`"))
            if cells[1].strip("`") in STEPS:
                TransformCompiler(errors).compile([example] if isinstance(example, dict) else example, ())
            else:
                CondCompiler(errors).compile(example)
    assert not errors, errors
    tables = "\n".join(line for line in text.splitlines() if line.startswith("| `"))
    for op in OPERATORS:
        assert f"| `{op}`" in tables or f"`{op}` |" in tables or f" `{op}` " in tables, op
    for step in STEPS:
        assert f"| `{step}` |" in tables, step
