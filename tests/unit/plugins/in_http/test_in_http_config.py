"""The http source's schema as a user meets it through `siemrelay validate`: secrets left out or left empty."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.config.validate import validate_config
from agent.config.loader import load_config
from agent.errors import ConfigError

HEAD = """\
sources:
  web:
    type: http
    address: "127.0.0.1:18080"
    paths:
"""
TAIL = """\
sinks:
  out: {type: stdout}
routes:
  - {name: all, to: [out]}
"""


def problems(tmp_path: Path, plugin_set: Any, paths: str, env: dict[str, str] | None = None, extra: str = "") -> dict[str, str]:
    f = tmp_path / "siemrelay.yaml"
    f.write_text(HEAD + paths + extra + TAIL)
    with pytest.raises(ConfigError) as err:
        validate_config(load_config(f, env=env or {}), plugin_set)
    return {p.path: p.message for p in err.value.problems}


def test_a_missing_hmac_secret_or_header_value_is_named_as_missing_not_as_null(tmp_path: Path, plugin_set: Any) -> None:
    got = problems(tmp_path, plugin_set, """\
      /detectify: {decoder: detectify, auth: {hmac: {header: X-Detectify-Signature}}}
      /zeropath: {decoder: zeropath, auth: {header: {name: X-Api-Key}}}
""")
    assert got == {"sources.web.paths./detectify.auth.hmac.secret": "required key is missing",
                   "sources.web.paths./zeropath.auth.header.value": "required key is missing"}


def test_an_empty_secret_is_refused_instead_of_leaving_the_path_open(tmp_path: Path, plugin_set: Any) -> None:
    got = problems(tmp_path, plugin_set, """\
      /a: {auth: {bearer: ""}}
      /b: {auth: {query_secret: "${ZP_INBOUND:-}"}}
      /c: {auth: {hmac: {secret: ["new", ""]}}}
      /d: {auth: {header: {name: X-Api-Key, value: [""]}}}
      /e: {auth: {bearer: []}}
""", extra="""\
    hec: {enabled: true, token: ""}
""")
    assert got == {"sources.web.paths./a.auth.bearer": "must not be empty",
                   "sources.web.paths./b.auth.query_secret": "must not be empty",
                   "sources.web.paths./c.auth.hmac.secret[1]": "must not be empty",
                   "sources.web.paths./d.auth.header.value[0]": "must not be empty",
                   "sources.web.paths./e.auth.bearer": "must not be empty",
                   "sources.web.hec.token": "must not be empty"}


def test_secrets_set_from_the_environment_validate(tmp_path: Path, plugin_set: Any) -> None:
    f = tmp_path / "siemrelay.yaml"
    f.write_text(HEAD + """\
      /a: {auth: {bearer: ["${TOK}", "${TOK_OLD}"]}}
      /b: {auth: {hmac: {header: X-Webhook-Signature, secret: "${PT}"}, query_secret: "${Q}"}}
""" + TAIL)
    validate_config(load_config(f, env={"TOK": "t1", "TOK_OLD": "t0", "PT": "p", "Q": "q"}), plugin_set)


@pytest.mark.parametrize("value, message", [
    ("fast", "does not match the expected pattern ^auto$, found string 'fast'"),
    ("0", "expected at least 1, found integer 0"),
    ("1.5", "expected integer or string, found number 1.5"),
])
def test_workers_is_auto_or_a_count(tmp_path: Path, plugin_set: Any, value: str, message: str) -> None:
    got = problems(tmp_path, plugin_set, "      /: {decoder: json}\n", extra=f"    workers: {value}\n")
    assert got == {"sources.web.workers": message}


@pytest.mark.parametrize("value", ["auto", "1", "4"])
def test_workers_auto_and_counts_validate(tmp_path: Path, plugin_set: Any, value: str) -> None:
    f = tmp_path / "siemrelay.yaml"
    f.write_text(HEAD + "      /: {decoder: json}\n" + f"    workers: {value}\n" + TAIL)
    validate_config(load_config(f, env={}), plugin_set)
