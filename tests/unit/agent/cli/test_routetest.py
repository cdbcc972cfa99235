"""``siemrelay test`` and ``siemrelay route --explain`` as a user runs them."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Callable

import orjson
import pytest

from agent.cli.main import main
from tests.conftest import ROOT, run_cli

CONFIG = """\
agent: {state_dir: ./state}
sinks:
  siem: {type: file, path: ./siem.jsonl}
  slack: {type: file, path: ./slack.jsonl}
  archive: {type: file, path: ./archive.jsonl}
routes:
  - name: critical-to-slack
    when: {type: "finding.*", severity: ">= high", repository: ["backend-*"]}
    to: [slack]
    transforms: [{redact: [raw]}, {tag: paged}]
    continue: true
  - name: findings-to-siem
    when: {type: "finding.*"}
    to: [siem]
  - name: default
    to: [archive]
"""

PASSING = """\
tests:
  - name: a critical backend finding pages slack, without raw, and reaches the SIEM with raw
    input:
      event: {type: finding.new, source: zeropath, severity: critical, repository: {name: backend-api}, raw: {k: 1}}
    expect:
      to: [slack, siem]
      not_to: [archive]
      routes: [critical-to-slack, findings-to-siem]
      sinks:
        slack: {raw: {exists: false}, tags: [paged], severity: critical}
        siem: {raw.k: 1, tags: []}
  - name: a scan goes to the archive only
    input:
      payload: {type: scan.completed, id: s-1, severity: info}
      decoder: json
    expect:
      only_to: [archive]
      fields: {title: "", id: s-1}
  - name: an array payload yields one event per item
    input:
      payload: [{type: finding.new, severity: low}, {type: scan.started}]
    expect:
      - {to: [siem]}
      - {to: [archive]}
  - name: a broken payload is refused by its decoder
    input: {payload: "{not json", decoder: json}
    expect: {decode_error: malformed JSON}
"""

FAILING = """\
tests:
  - name: medium finding should page
    input:
      event: {type: finding.new, severity: medium, title: SQL injection, repository: {name: backend-api}}
    expect:
      to: [slack]
      not_to: [siem]
      fields: {title: SQL Injection}
"""


@pytest.fixture
def setup(write_config: Callable[..., Path]) -> Callable[..., Path]:
    config = write_config(CONFIG)

    def with_tests(text: str, name: str = "cases.yaml") -> Path:
        write_config(text, name)
        return config

    return with_tests


@pytest.fixture(autouse=True)
def _keep_logging(monkeypatch: pytest.MonkeyPatch) -> None:
    """main() configures loguru on the captured stderr; keep the process-wide handlers as they are."""
    monkeypatch.setattr("agent.logging.setup_logging", lambda *args, **kwargs: None)


def cli(capsys: Any, *args: str) -> tuple[int, str, str]:
    code = main(["--log-format", "text", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_passing_suite_exits_zero_and_writes_junit(setup: Callable[..., Path], capsys: Any, tmp_path: Path) -> None:
    config = setup(PASSING)
    junit = tmp_path / "report.xml"
    code, out, err = cli(capsys, "test", "-c", str(config), str(tmp_path / "cases.yaml"), "--junit", str(junit))
    assert code == 0, out + err
    assert out.count("ok    ") == 4 and "4 passed, 0 failed" in out
    root = ET.parse(junit).getroot()
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("4", "0", "0")
    assert [tc.get("name") for tc in root.iter("testcase")][1] == "a scan goes to the archive only"


def test_unwritable_junit_path_is_a_one_line_error(setup: Callable[..., Path], capsys: Any, tmp_path: Path) -> None:
    config = setup(PASSING)
    junit = tmp_path / "no-such-dir" / "report.xml"
    code, out, err = cli(capsys, "test", "-c", str(config), str(tmp_path / "cases.yaml"), "--junit", str(junit))
    assert code == 2 and "ok    " in out  # the results are still shown
    assert err.strip() == f"siemrelay: cannot write the JUnit report {junit}: No such file or directory"


def test_failing_case_exits_one_with_a_readable_diff(setup: Callable[..., Path], capsys: Any, tmp_path: Path) -> None:
    config = setup(FAILING)
    junit = tmp_path / "report.xml"
    code, out, _ = cli(capsys, "test", "-c", str(config), str(tmp_path / "cases.yaml"), "--junit", str(junit))
    assert code == 1
    assert f"FAIL  medium finding should page  ({tmp_path / 'cases.yaml'}:2)" in out
    assert "routes matched: findings-to-siem; sinks reached: siem" in out
    assert "✗ expected to reach slack, but it did not\n" in out
    assert "route 'critical-to-slack': severity >= high failed: found 'medium'" in out
    assert "✗ expected not to reach siem, but it did (via route 'findings-to-siem')" in out
    assert "✗ siem: title:\n        - expected: \"SQL Injection\"" in out and "+ actual:   \"SQL injection\"" in out
    assert "0 passed, 1 failed" in out
    failure = ET.parse(junit).getroot().find("testsuite/testcase/failure")
    assert failure is not None and "expected to reach slack" in (failure.get("message") or "")


def test_vendor_payload_file_through_its_decoder(setup: Callable[..., Path], capsys: Any, tmp_path: Path) -> None:
    fixture = ROOT / "tests/fixtures/vendors/zeropath/new-vulnerabilities-full-scan.json"
    (tmp_path / "payloads").mkdir()
    (tmp_path / "payloads/zp.json").write_bytes(fixture.read_bytes())
    config = setup("""\
tests:
  - name: zeropath new vulnerability
    input: {file: payloads/zp.json, decoder: zeropath}
    expect:
      to: [siem]
      fields: {source: zeropath, vendor_type: NEW_VULNERABILITIES_FULL_SCAN, type: {glob: "finding.*"}}
""")
    code, out, err = cli(capsys, "test", "-c", str(config), str(tmp_path / "cases.yaml"))
    assert code == 0, out + err


def test_default_test_files_next_to_the_config(setup: Callable[..., Path], capsys: Any) -> None:
    config = setup(PASSING, "routing-tests.yaml")
    code, out, _ = cli(capsys, "test", "-c", str(config))
    assert code == 0 and "4 passed" in out


@pytest.mark.parametrize("text,fragment", [
    ("tests:\n  - name: x\n    input: {event: {type: a}}\n    expect: {to: [slak]}\n",
     "cases.yaml:4: tests[0].expect.to[0]: no sink named 'slak'; did you mean 'slack'?"),
    ("tests:\n  - name: x\n    input: {event: {type: a}}\n    expect: {too: [siem]}\n",
     "cases.yaml:4: tests[0].expect.too: unknown key; did you mean 'to'?"),
    ("tests:\n  - name: x\n    expect: {to: [siem]}\n", "cases.yaml:2: tests[0].input: expected input:"),
])
def test_invalid_test_file_exits_two_naming_the_line(setup: Callable[..., Path], capsys: Any, tmp_path: Path,
                                                     text: str, fragment: str) -> None:
    config = setup(text)
    code, _, err = cli(capsys, "test", "-c", str(config), str(tmp_path / "cases.yaml"))
    assert code == 2
    assert fragment in err


def test_missing_input_file_is_an_error_result(setup: Callable[..., Path], capsys: Any, tmp_path: Path) -> None:
    config = setup("tests:\n  - name: x\n    input: {file: nope.json}\n    expect: {to: [siem]}\n")
    code, out, _ = cli(capsys, "test", "-c", str(config), str(tmp_path / "cases.yaml"))
    assert code == 1 and "ERROR x" in out and "nope.json" in out


def test_explain_says_which_condition_failed(setup: Callable[..., Path], capsys: Any, tmp_path: Path) -> None:
    config = setup(PASSING)
    ev = tmp_path / "event.json"
    ev.write_bytes(orjson.dumps({"id": "e1", "time": "2025-01-01T00:00:00Z", "source": "zeropath",
                                 "type": "finding.new", "severity": "high", "repository": {"name": "frontend"}}))
    code, out, _ = cli(capsys, "route", "-c", str(config), "--explain", str(ev))
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "event e1: type finding.new, source zeropath, severity high, score 80"
    assert "✗ critical-to-slack" in lines[1] and "repository matches ['backend-*'] failed: found 'frontend'" in lines[1]
    assert "✓ findings-to-siem" in lines[2] and "→ siem" in lines[2]
    assert "· default" in lines[3] and "not used" in lines[3]
    assert "  sinks:  siem" in out


def test_explain_json_and_payload_per_sink(setup: Callable[..., Path], capsys: Any, tmp_path: Path) -> None:
    config = setup(PASSING)
    ev = tmp_path / "event.json"
    ev.write_bytes(orjson.dumps({"id": "e2", "time": "2025-01-01T00:00:00Z", "source": "zeropath", "raw": {"k": 1},
                                 "type": "finding.new", "severity": "critical", "repository": {"name": "backend-x"}}))
    code, out, _ = cli(capsys, "route", "-c", str(config), "--explain", "--json", str(ev))
    assert code == 0
    doc = orjson.loads(out)
    assert doc["routes"] == ["critical-to-slack", "findings-to-siem"] and doc["sinks"] == ["slack", "siem"]
    assert [e["status"] for e in doc["explain"]] == ["matched", "matched", "default-unused"]
    by_sink = {tuple(v["sinks"]): v["event"] for v in doc["variants"]}
    assert by_sink[("slack",)]["raw"] is None and by_sink[("slack",)]["tags"] == ["paged"]
    assert by_sink[("siem",)]["raw"] == {"k": 1}


def test_route_command_from_stdin_with_a_decoder(write_config: Callable[..., Path], tmp_path: Path) -> None:
    """The subprocess path: exit codes and stdin, as CI and shells use it."""
    config = write_config(CONFIG)
    import subprocess
    import sys

    payload = b'{"type": "scan.completed", "severity": "info"}'
    proc = subprocess.run([sys.executable, "-m", "agent", "route", "-c", str(config), "--decoder", "json", "-"],
                          input=payload, capture_output=True, cwd=tmp_path, timeout=60,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    assert b"routes: default" in proc.stdout and b"sinks:  archive" in proc.stdout
    bad = run_cli("route", "-c", str(config), str(tmp_path / "missing.json"), cwd=tmp_path)
    assert bad.returncode == 2 and "missing.json" in bad.stderr


def test_shipped_example_rules_pass_their_route_tests(capsys: Any, tmp_path: Path) -> None:
    """conf/routes.d/*.yaml are merged into the default configuration; conf/routing-tests.yaml tests them."""
    junit = tmp_path / "junit.xml"
    code, out, err = cli(capsys, "test", "-c", str(ROOT / "conf" / "siemrelay.yaml"), "--junit", str(junit))
    assert code == 0, out + err
    assert " 0 failed" in out and "~ warning" not in err
    assert int(ET.parse(junit).getroot().get("tests") or 0) >= 5


def test_route_with_an_unknown_decoder_blames_the_option_not_the_config(setup: Callable[..., Path], capsys: Any,
                                                                         tmp_path: Path) -> None:
    config = setup(PASSING)
    event = tmp_path / "payload.json"
    event.write_text('{"title": "x"}')
    code, out, err = cli(capsys, "route", "-c", str(config), "--decoder", "nope", str(event))
    assert code == 2 and out == ""
    assert err.startswith("siemrelay: --decoder nope: unknown decoder type 'nope' (known: ")
    assert str(config) not in err


def test_route_payload_shows_what_each_siem_sink_would_send(tmp_path: Path) -> None:
    cfg = tmp_path / "siemrelay.yaml"
    cfg.write_text(f"""
agent: {{state_dir: {tmp_path}/state}}
sinks:
  arcsight: {{type: cef, transport: file, path: {tmp_path}/a.cef, header: none}}
  qradar: {{type: cef, transport: file, path: {tmp_path}/q.leef, header: none, format: leef}}
  elastic: {{type: file, path: {tmp_path}/e.jsonl, schema: ecs}}
  lake: {{type: file, path: {tmp_path}/o.jsonl, schema: ocsf}}
routes:
  - {{name: all, to: [arcsight, qradar, elastic, lake]}}
""")
    line = "CEF:0|Fortinet|FortiGate|7.2|0000000013|traffic denied|3|src=10.1.1.1 dst=10.2.2.2 act=deny"
    (tmp_path / "p.cef").write_text(line + "\n")
    res = run_cli("route", "-c", str(cfg), "--decoder", "cef", "--payload", str(tmp_path / "p.cef"))
    assert res.returncode == 0, res.stderr
    out = {ln.strip().split(": ", 1)[0]: ln.strip().split(": ", 1)[1] for ln in res.stdout.splitlines()
           if ln.strip().startswith(("arcsight:", "qradar:", "elastic:", "lake:"))}
    assert out["arcsight"] == line
    assert out["qradar"].startswith("LEEF:2.0|Fortinet|FortiGate|7.2|0000000013|x09|") and "\tsrc=10.1.1.1" in out["qradar"]
    assert orjson.loads(out["elastic"])["event"]["type"] == ["connection", "denied"]  # ECS: a firewall deny is network
    assert orjson.loads(out["lake"])["class_uid"] == 4001  # a firewall deny is Network Activity
    assert not (tmp_path / "a.cef").exists()  # shown, never sent
