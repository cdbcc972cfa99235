"""``siemrelay validate`` warns about listeners reachable beyond loopback without a secret.

The audit's new user copied a webhook example, changed the address to 0.0.0.0 so a
vendor could reach it, and ``validate`` said nothing. Driven here as a user does: the
CLI as a subprocess on a YAML file; the warnings name the file, the line and the key,
do not fail validation (exit 0), and stay silent for loopback or authenticated setups.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.e2e


def _validate(tmp_path: Path, body: str) -> tuple[int, list[str], Path]:
    config = tmp_path / "siemrelay.yaml"
    config.write_text(textwrap.dedent(f"""\
        agent:
          state_dir: {tmp_path}/state
        """) + textwrap.dedent(body))
    res = run_cli("validate", "-c", str(config))
    return res.returncode, [line for line in res.stdout.splitlines() if line.startswith("~")], config


def _line_of(config: Path, text: str) -> int:
    return next(i for i, line in enumerate(config.read_text().splitlines(), 1) if text in line)


def test_admin_api_and_open_webhook_path_beyond_loopback_are_named(tmp_path: Path) -> None:
    code, warnings, config = _validate(tmp_path, """\
          admin: {enabled: true, address: "0.0.0.0:8081", token: "t0ken-value"}
        sources:
          hooks:
            type: http
            address: "0.0.0.0:8080"
            paths:
              /open: {decoder: json}
              /signed: {decoder: json, auth: {hmac: {secret: "abc"}}}
        sinks:
          archive: {type: file, path: out.jsonl}
        routes:
          - {name: default, to: [archive]}
        """)
    assert code == 0, warnings
    admin = [w for w in warnings if "agent.admin.address" in w]
    assert len(admin) == 1
    assert f"{config}:{_line_of(config, 'admin:')}" in admin[0]
    assert "beyond loopback" in admin[0] and "clear text" in admin[0]
    open_path = [w for w in warnings if "/open" in w]
    assert len(open_path) == 1 and "no authentication" in open_path[0]
    assert f"{config}:" in open_path[0]
    assert not [w for w in warnings if "/signed" in w]
    assert "t0ken-value" not in "\n".join(warnings)


@pytest.mark.parametrize("address", ["127.0.0.1:8080", "[::1]:8080", "localhost:8080"])
def test_loopback_listeners_get_no_warning(tmp_path: Path, address: str) -> None:
    code, warnings, _ = _validate(tmp_path, f"""\
          admin: {{enabled: true, address: "{address.replace('8080', '8081')}"}}
        sources:
          hooks: {{type: http, address: "{address}", paths: {{/open: {{decoder: json}}}}}}
        sinks:
          archive: {{type: file, path: out.jsonl}}
        routes:
          - {{name: default, to: [archive]}}
        """)
    assert code == 0
    assert warnings == []


def test_a_disabled_admin_api_on_a_lan_address_is_not_a_warning(tmp_path: Path) -> None:
    code, warnings, _ = _validate(tmp_path, """\
          admin: {enabled: false, address: "0.0.0.0:8081"}
        sources:
          hooks: {type: http, address: "127.0.0.1:8080"}
        sinks:
          archive: {type: file, path: out.jsonl}
        routes:
          - {name: default, to: [archive]}
        """)
    assert code == 0 and warnings == []
