"""The command line: --version, plugins, describe, and the generated configuration reference."""

from __future__ import annotations

from pathlib import Path

from agent.version import __version__
from agent.config.reference import reference_markdown
from agent.plugins import load_plugins
from tests.conftest import ROOT, run_cli


def test_version():
    res = run_cli("--version")
    assert res.returncode == 0 and res.stdout.strip() == f"siemrelay {__version__}"


def test_plugins_lists_every_type_with_options_defaults_and_descriptions():
    res = run_cli("plugins")
    assert res.returncode == 0, res.stderr
    for line in ("Source types:", "Decoder types:", "Sink types:", "  http  (plugins.in_http)", "  file  (plugins.out_file)"):
        assert line in res.stdout
    row = next(line for line in res.stdout.splitlines() if line.strip().startswith("rotate_bytes"))
    assert "104857600" in row and "Rotate when" in row


def test_plugins_json_is_machine_readable():
    import json

    res = run_cli("plugins", "--json")
    data = json.loads(res.stdout)
    sink_file = next(t for t in data["types"] if t["kind"] == "sink" and t["name"] == "file")
    keys = {o["key"]: o for o in sink_file["options"]}
    assert keys["path"]["default"] == "(required)"
    assert keys["retry.max_attempts"]["description"]


def test_describe_prints_a_table_and_an_example_block():
    res = run_cli("describe", "sink", "file")
    assert res.returncode == 0
    assert "KEY" in res.stdout and "rotate_bytes" in res.stdout
    assert "type: file" in res.stdout and "path:" in res.stdout
    bad = run_cli("describe", "sink", "nope")
    assert bad.returncode == 2 and "unknown sink type 'nope'" in bad.stderr


def test_no_command_prints_help_and_exits_2():
    res = run_cli()
    assert res.returncode == 2 and "run" in res.stdout


def test_configuration_reference_is_generated_from_the_schemas():
    expected = reference_markdown(load_plugins(entry_points=False))
    current = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert current == expected, "docs/configuration.md is stale: run `python -m agent.config.reference > docs/configuration.md`"


def test_every_example_config_validates(tmp_path: Path):
    files = [ROOT / "conf" / "siemrelay.yaml", *sorted((ROOT / "conf" / "examples").glob("*.yaml"))]
    for f in files:
        res = run_cli("validate", "-c", str(f), cwd=tmp_path, env={"SIEMRELAY_EXAMPLE_SECRET": "example-secret-value"})
        assert res.returncode == 0, f"{f.name}: {res.stderr}"


def test_log_options_are_accepted_before_and_after_the_command():
    from agent.cli.main import build_parser

    parser = build_parser()
    after = parser.parse_args(["run", "-c", "x.yaml", "--log-format", "json", "--log-level", "debug"])
    assert (after.command, after.log_format, after.log_level) == ("run", "json", "debug")
    before = parser.parse_args(["--log-format", "text", "validate", "-c", "x.yaml"])
    assert (before.log_format, before.log_level) == ("text", None)  # not reset by the command's parser
    nested = parser.parse_args(["dlq", "list", "--log-format", "json"])
    assert nested.log_format == "json"


def test_validate_takes_log_format_after_the_command(tmp_path: Path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"agent: {{state_dir: {tmp_path / 'state'}}}\nsinks: {{out: {{type: stdout}}}}\n"
                   "routes: [{name: default, to: [out]}]\n")
    res = run_cli("validate", "-c", str(cfg), "--log-format", "json")
    assert res.returncode == 0, res.stderr
    assert "0 sources, 1 sink, 1 route" in res.stdout
