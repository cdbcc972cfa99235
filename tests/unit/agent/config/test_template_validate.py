"""``siemrelay validate`` on template options: refusals at the option's own file, line and
key, and the deprecated single-brace spelling accepted with a warning that gives the fix."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_cli

BAD = """\
agent: {{state_dir: {state}}}
sinks:
  siem:
    type: splunk_hec
    url: http://127.0.0.1:8088
    token: t0ken-value
    index: "sec_{{{{ sorce }}}}"
  collector:
    type: syslog
    address: "127.0.0.1:514"
    msgid: "{{ type }}}}"
  js:
    type: nats
    url: nats://127.0.0.1:4222
    subject: "siem.{{{{ source }}}}.*"
  es:
    type: elasticsearch
    url: http://127.0.0.1:9200
    index: "logs-{{{{ severity.name }}}}"
routes:
  - name: default
    to: [siem, collector, js, es]
    transforms:
      - set: {{title: "{{{{ titel }}}}"}}
"""


def test_validate_refuses_bad_placeholders_naming_file_line_and_key(tmp_path: Path) -> None:
    cfg = tmp_path / "siemrelay.yaml"
    cfg.write_text(BAD.format(state=tmp_path / "state"))
    res = run_cli("validate", "-c", str(cfg))
    assert res.returncode == 2, res.stdout + res.stderr
    assert "Traceback" not in res.stderr
    err = res.stderr
    assert f"{cfg}:7: sinks.siem.index: the placeholder {{{{ sorce }}}} does not name an event field; " \
           "did you mean {{ source }}? (valid roots: action, actor, asset," in err
    assert f"{cfg}:11: sinks.collector.msgid: '{{ type }}}}' mixes one and two braces; write {{{{ type }}}}" in err
    assert f"{cfg}:15: sinks.js.subject: a subject is dot-separated tokens without spaces or the wildcards" in err
    assert f"{cfg}:19: sinks.es.index: the placeholder {{{{ severity.name }}}}: severity is not a mapping" in err
    assert f"{cfg}:24: routes[0].transforms[0].set.title: route 'default': set: the placeholder {{{{ titel }}}} " \
           "does not name an event field; did you mean {{ title }}?" in err


OLD = """\
agent: {{state_dir: {state}}}
sinks:
  siem:
    type: splunk_hec
    url: http://127.0.0.1:8088
    token: t0ken-value
    index: "{{source}}"
    healthcheck_on_start: false
  collector:
    type: syslog
    address: "127.0.0.1:514"
    msgid: "{{vendor_type}}"
routes:
  - name: default
    to: [siem, collector]
    transforms:
      - tag: ["repo-{{repository.name}}"]
"""


def test_validate_accepts_the_old_spelling_and_says_how_to_write_it(tmp_path: Path) -> None:
    cfg = tmp_path / "siemrelay.yaml"
    cfg.write_text(OLD.format(state=tmp_path / "state"))
    res = run_cli("validate", "-c", str(cfg))
    assert res.returncode == 0, res.stdout + res.stderr
    lines = [x for x in res.stdout.splitlines() if x.startswith("~ ")]
    assert lines == [
        f"~ {cfg}:7: sinks.siem.index: the single-brace placeholder '{{source}}' is deprecated and stops working "
        "in the next release; write '{{ source }}'",
        f"~ {cfg}:12: sinks.collector.msgid: the single-brace placeholder '{{vendor_type}}' is deprecated and stops "
        "working in the next release; write '{{ vendor_type }}'",
        f"~ {cfg}:17: routes[0].transforms[0].tag: route 'default': tag: the single-brace placeholder "
        "'repo-{repository.name}' is deprecated and stops working in the next release; write "
        "'repo-{{ repository.name }}'",
    ]
