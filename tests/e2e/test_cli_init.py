"""``siemrelay init`` through the installed ``siemrelay`` command: it writes a working,
commented configuration from the templates inside the package, refuses to overwrite,
and what it writes validates and runs; ``siemrelay run`` without a configuration says
how to make one."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
import requests

from agent.cli.init import TEMPLATES, InitLayout, render_template, template_files
from agent.cli.main import main
from agent.config.schema import AGENT_SCHEMA, TOP_SCHEMA
from tests.conftest import ROOT, pick_port, wait_for, wait_for_port


def siemrelay(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
              timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The console script pip installed next to this interpreter: what a user types."""
    exe = Path(sys.executable).parent / "siemrelay"
    assert exe.exists(), f"{exe} is missing: install the project (pip install -e .) as tests/run.sh does"
    return subprocess.run([str(exe), *args], cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True,
                          text=True, timeout=timeout)


def test_every_section_and_agent_key_is_explained_in_the_template() -> None:
    text = template_files()["siemrelay.yaml"]
    for section in TOP_SCHEMA:
        assert f"\n{section}:" in text or f"\n# {section}:" in text, f"section {section} missing from the init template"
    for key in AGENT_SCHEMA:
        assert f" {key}:" in text, f"agent.{key} is not mentioned in the init template"


@pytest.mark.e2e
def test_init_writes_a_configuration_that_validates_and_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("agent.logging.setup_logging", lambda *args, **kwargs: None)  # main() would reconfigure loguru
    target = tmp_path / "etc"
    res = siemrelay("init", "--dir", str(target))
    assert res.returncode == 0, res.stderr
    config = target / "siemrelay.yaml"
    for name in (*TEMPLATES, "siemrelay.schema.json"):
        assert (target / name).is_file() and f"wrote {target / name}" in res.stdout
    assert f"siemrelay validate -c {config}" in res.stdout
    written = config.read_text()
    assert "@" not in written.replace("hooks.example", ""), "a template marker was left unfilled"

    # a second init refuses and changes nothing; --force replaces (the command's own entry point, in-process)
    config.write_text(written + "# my edit\n")
    assert main(["init", "--dir", str(target)]) == 2
    err = capsys.readouterr().err
    assert "not overwriting" in err and "--force" in err and str(config) in err
    assert config.read_text().endswith("# my edit\n")
    assert main(["init", "--dir", str(target), "--force"]) == 0 and config.read_text() == written

    valid = siemrelay("validate", "-c", str(config), cwd=tmp_path)
    assert valid.returncode == 0 and "2 sources, 1 sink, 1 route" in valid.stdout, valid.stdout + valid.stderr

    # it runs: a webhook posted to it ends up in the events file (ports moved to free ones)
    hook, admin = pick_port(), pick_port()
    config.write_text(written.replace("127.0.0.1:8080", f"127.0.0.1:{hook}").replace("127.0.0.1:8081", f"127.0.0.1:{admin}"))
    exe = Path(sys.executable).parent / "siemrelay"
    proc = subprocess.Popen([str(exe), "run", "-c", str(config), "--log-format", "json"], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_port(hook, timeout=20)
        body = {"id": "init-1", "type": "finding.new", "title": "from init", "severity": "high"}
        assert requests.post(f"http://127.0.0.1:{hook}/events", json=body, timeout=5).status_code < 300
        out = target / "var" / "out" / "events.jsonl"
        event = wait_for(lambda: out.exists() and out.read_text() and orjson.loads(out.read_text().splitlines()[0]),
                         20, what="the event in the file sink")
        assert event["title"] == "from init"
        wait_for(lambda: (target / "var" / "state" / "admin.token").is_file(), 10, what="the generated admin token")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            assert proc.wait(20) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            assert proc.stderr is not None
            proc.stderr.close()


@pytest.mark.e2e
def test_run_without_a_configuration_says_how_to_make_one(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "siemrelay.yaml"
    res = siemrelay("run", env={"SIEMRELAY_CONFIG": str(missing)}, cwd=tmp_path)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert f"no configuration at {missing}" in res.stderr
    assert f"siemrelay init --dir {missing.parent}" in res.stderr
    api = siemrelay("sinks", env={"SIEMRELAY_CONFIG": str(missing)}, cwd=tmp_path)  # the admin-API commands too
    assert api.returncode == 2 and f"siemrelay init --dir {missing.parent}" in api.stderr and "Traceback" not in api.stderr


@pytest.mark.e2e
def test_init_refuses_an_unwritable_directory_in_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    res = siemrelay("init", "--dir", str(blocker / "sub"))
    assert res.returncode == 2 and "cannot write into" in res.stderr and "Traceback" not in res.stderr


def test_the_package_data_globs_ship_every_template() -> None:
    """A `pip install siemrelay` has no checkout: the wheel must carry each template
    (checked once by hand with a built wheel; here, that pyproject's globs still cover them)."""
    import fnmatch
    import tomllib

    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["agent"]
    for name in TEMPLATES:
        path = f"templates/init/{name}"
        assert (ROOT / "agent" / path).is_file()
        assert any(fnmatch.fnmatchcase(path, g) and g.count("/") == path.count("/") for g in globs), f"{path} is not package data"


_COMMENTED_KEY = re.compile(r"^(\s*)# (\s*(?:[\w/.-]+:(?:\s|$)|- ))")


def test_every_commented_block_of_the_template_validates_once_uncommented(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Users uncomment the next steps: all of them at once must still be a valid configuration."""
    monkeypatch.setattr("agent.logging.setup_logging", lambda *args, **kwargs: None)
    layout = InitLayout.for_dir(tmp_path, None)
    templates = {name: render_template(text, layout) for name, text in template_files().items()}

    def uncomment(text: str) -> list[str]:
        return [line if line.startswith("# yaml-language-server:") else _COMMENTED_KEY.sub(r"\1\2", line)
                for line in text.splitlines()]

    lines = uncomment(templates["siemrelay.yaml"])
    opened = "\n".join(lines) + "\n"
    (tmp_path / "routes.d").mkdir()
    (tmp_path / "routes.d" / "10-example.yaml").write_text("\n".join(uncomment(templates["routes.d/10-example.yaml"])) + "\n")
    for opened_line in ("splunk:", "slack:", "hook:", "decoders:", "include:", "- name: urgent-to-slack", "spool:"):
        assert any(line.strip().startswith(opened_line) for line in lines), opened_line
    for name in ("SIEMRELAY_ADMIN_TOKEN", "SPLUNK_HEC_TOKEN", "ZEROPATH_WEBHOOK_SECRET", "WEBHOOK_HMAC_SECRET"):
        monkeypatch.setenv(name, "placeholder-secret-value")
    monkeypatch.setenv("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T000/B000/placeholder")
    config = tmp_path / "siemrelay.yaml"
    config.write_text(opened)
    code = main(["validate", "-c", str(config)])
    out = capsys.readouterr()
    assert code == 0, out.err + "\n" + opened
    assert "3 sources, 5 sinks, 3 routes" in out.out  # the routes.d example's route too
    # and the editor's schema agrees with validate
    import jsonschema
    import yaml

    from agent.config.jsonschema import config_json_schema
    from agent.plugins import load_plugins

    errors = list(jsonschema.Draft7Validator(config_json_schema(load_plugins())).iter_errors(yaml.safe_load(opened)))
    assert not errors, [e.message for e in errors]
