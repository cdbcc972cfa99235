"""Configuration loading: line numbers, ${VAR}, include:, routes.d/, and every error at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config.validate import validate_config
from agent.config.loader import load_config, load_yaml_text
from agent.errors import ConfigError


def test_marks_give_file_and_line_of_each_key():
    text = "agent:\n  state_dir: /x\nsinks:\n  out:\n    type: file\n    path: /tmp/o\n"
    data, smap = load_yaml_text(text, "main.yaml")
    assert data["sinks"]["out"]["path"] == "/tmp/o"
    assert smap.where(("sinks", "out", "path")) == ("main.yaml", 6)
    assert smap.where(("sinks", "out", "nonexistent")) == ("main.yaml", 4)  # nearest ancestor


def test_invalid_yaml_names_line_and_column():
    with pytest.raises(ConfigError) as err:
        load_yaml_text("agent:\n  state_dir: [unclosed\n", "bad.yaml")
    p = err.value.problems[0]
    assert p.file == "bad.yaml" and p.line >= 2 and "invalid YAML" in p.message


def test_duplicate_keys_are_errors():
    with pytest.raises(ConfigError, match="duplicate key") as err:
        load_yaml_text("sinks:\n  a: {type: file}\n  a: {type: stdout}\n", "d.yaml")
    assert err.value.problems[0].line == 3


@pytest.mark.parametrize("text,where", [
    ("agent: &x [*x]\n", "agent[0]"),
    ("sinks: &x {a: {b: *x}}\n", "sinks.a.b"),
])
def test_a_recursive_anchor_is_an_error_not_a_crash(text, where):
    with pytest.raises(ConfigError) as err:
        load_yaml_text(text, "loop.yaml")
    [p] = err.value.problems
    assert (p.file, p.line, p.path) == ("loop.yaml", 1, where) and "recursive YAML anchor" in p.message


def test_alias_expansion_is_bounded():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]  # 10**9 values
    with pytest.raises(ConfigError, match="expands to more than"):
        load_yaml_text("\n".join(lines) + "\n", "laughs.yaml")
    data, _ = load_yaml_text("base: &b {type: stdout}\nsinks: {x: *b, y: *b}\n", "ok.yaml")
    assert data["sinks"] == {"x": {"type": "stdout"}, "y": {"type": "stdout"}}  # plain aliases still work


def test_env_interpolation_with_defaults_and_escape(write_config):
    path = write_config("""
        sinks:
          out:
            type: file
            path: ${OUT_DIR}/events.jsonl
            keep: ${KEEP:-3}
        routes:
          - {name: default, to: [out], when: {}}
        agent:
          state_dir: "$${literal}"
    """)
    loaded = load_config(path, env={"OUT_DIR": "/var/tmp/sr"})
    assert loaded.data["sinks"]["out"]["path"] == "/var/tmp/sr/events.jsonl"
    assert loaded.data["sinks"]["out"]["keep"] == "3"
    assert loaded.data["agent"]["state_dir"] == "${literal}"
    assert "/var/tmp/sr" in loaded.secrets  # env values are redacted from logs


def test_unset_env_var_is_an_error_at_its_line(write_config):
    path = write_config("sinks:\n  hec:\n    type: file\n    path: ${NOPE_NOT_SET}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    p = err.value.problems[0]
    assert p.line == 4 and p.path == "sinks.hec.path" and "NOPE_NOT_SET is not set" in p.message


def test_include_and_routes_d_merge_in_name_order(tmp_path: Path, write_config):
    write_config("sinks:\n  b: {type: stdout}\n", "extra/sinks.yaml")
    write_config("routes:\n  - {name: two, to: [b]}\n", "routes.d/20-two.yaml")
    write_config("routes:\n  - {name: one, to: [a]}\n", "routes.d/10-one.yml")
    main = write_config("include: [extra/*.yaml]\nsinks:\n  a: {type: stdout}\nroutes:\n  - {name: zero, to: [a]}\n")
    loaded = load_config(main, env={})
    assert set(loaded.data["sinks"]) == {"a", "b"}
    assert [r["name"] for r in loaded.data["routes"]] == ["zero", "one", "two"]
    file, line = loaded.smap.where(("routes", 2, "to"))
    assert file.endswith("20-two.yaml") and line == 2


def test_same_sink_in_two_files_names_both(write_config):
    write_config("sinks:\n  a: {type: stdout}\n", "more.yaml")
    main = write_config("include: [more.yaml]\nsinks:\n  a: {type: stdout}\n")
    with pytest.raises(ConfigError, match="already defined at .*siemrelay.yaml:3"):
        load_config(main, env={})


def test_validation_reports_every_problem_with_suggestions(write_config, plugin_set):
    path = write_config("""
        agent:
          log_levle: debug
        sources:
          web:
            type: http
            adress: "127.0.0.1:1"
        sinks:
          out:
            type: file
            path: /tmp/x
            rotate_bytes: lots
            batch: {max_events: 0}
          bad:
            type: splunk_hecc
        routes:
          - name: r1
            when: {severity: ">= hihg"}
            to: [out, nowhere]
    """)
    with pytest.raises(ConfigError) as err:
        validate_config(load_config(path, env={}), plugin_set)
    text = str(err.value)
    by_path = {p.path: p for p in err.value.problems}
    assert "did you mean 'log_level'" in by_path["agent.log_levle"].message
    assert "did you mean 'address'" in by_path["sources.web.adress"].message
    assert by_path["sinks.out.rotate_bytes"].message == "expected an integer, found string 'lots'"
    assert by_path["sinks.out.rotate_bytes"].line == 12
    assert "at least 1" in by_path["sinks.out.batch.max_events"].message
    assert "unknown sink type 'splunk_hecc'" in by_path["sinks.bad.type"].message
    assert "nowhere" in text and "route 'r1'" in text
    assert "hihg" in text
    assert len(err.value.problems) >= 7


def test_defaults_are_filled_everywhere(write_config, plugin_set):
    path = write_config("sinks:\n  out: {type: file, path: /tmp/x}\nroutes:\n  - {name: default, to: [out]}\n")
    cfg = validate_config(load_config(path, env={}), plugin_set)
    _, out = cfg.sinks["out"]
    assert out["retry"]["max_attempts"] == -1 and out["retry"]["jitter"] == "full"  # -1: unlimited
    assert out["batch"]["max_events"] == 2000  # the file sink's own default overrides the core's 500
    assert out["rotate_bytes"] == 100 * 1024 * 1024
    assert cfg.agent["spool"]["sync"] == "full"
    assert cfg.router.route.__self__.default is not None


def test_secret_values_never_appear_in_errors(write_config, plugin_set):
    path = write_config("sources:\n  web:\n    type: http\n    max_body_bytes: 10\n    password: hunter2-secret\n")
    with pytest.raises(ConfigError) as err:
        validate_config(load_config(path, env={}), plugin_set)
    assert "hunter2" not in str(err.value)


def test_a_routes_dir_that_was_named_must_exist_and_may_use_variables(tmp_path: Path, write_config):
    (tmp_path / "team-routes").mkdir()
    (tmp_path / "team-routes" / "10.yaml").write_text("routes:\n  - {name: from-dir, to: [out]}\n")
    base = "sinks: {out: {type: stdout}}\nagent:\n  routes_dir: "
    path = write_config(base + "${ROUTES:-team-routes}\n")
    assert [r["name"] for r in load_config(path, env={}).data.get("routes", [])] == ["from-dir"]
    path = write_config(base + "route.d\n")
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    [p] = err.value.problems
    assert p.path == "agent.routes_dir" and p.line == 3 and p.message.endswith("route.d not found")
    path = write_config("sinks: {out: {type: stdout}}\n")  # the default routes.d may be absent
    assert load_config(path, env={}).data.get("routes", []) == []


def test_a_route_to_a_sink_with_an_invalid_section_reports_only_the_sink(write_config, plugin_set):
    path = write_config("sinks:\n  t: {type: nosuchtype}\nroutes:\n  - {name: all, to: [t]}\n")
    with pytest.raises(ConfigError) as err:
        validate_config(load_config(path, env={}), plugin_set)
    assert [p.path for p in err.value.problems] == ["sinks.t.type"]


def test_a_bad_decoder_is_reported_where_it_is_written(write_config, plugin_set):
    from agent.engine.build import build_sources

    path = write_config("""
        sources:
          scanners:
            type: http
            address: "127.0.0.1:0"
            paths:
              /hooks/zeropath:
                decoder: zeropth
    """)
    cfg = validate_config(load_config(path, env={}), plugin_set)
    with pytest.raises(ConfigError) as err:
        build_sources(cfg, plugin_set, lambda text: text)
    (problem,) = err.value.problems
    assert problem.path == "sources.scanners.paths./hooks/zeropath.decoder" and problem.line == 8
    assert "did you mean 'zeropath'" in problem.message
