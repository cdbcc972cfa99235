"""``secops`` configuration: the describe example validates (with its key file in place),
and a missing key file is a clear error."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_cli
from tests.peers.chronicle import ServiceAccountKey


def test_describe_example_validates_with_its_key_file(tmp_path: Path) -> None:
    out = run_cli("describe", "sink", "secops")
    assert out.returncode == 0, out.stderr
    block = out.stdout[out.stdout.index("\nsinks:") + 1:].split("\n\n", 1)[0] + "\n"
    assert "credentials_file: /etc/siemrelay/secops-sa.json" in block
    key = ServiceAccountKey.generate().write(tmp_path / "sa.json", "https://oauth2.googleapis.com/token")
    cfg = tmp_path / "siemrelay.yaml"
    body = f"agent: {{state_dir: {tmp_path}/state}}\n{block}routes:\n  - name: default\n    to: [my_secops]\n"
    cfg.write_text(body.replace("/etc/siemrelay/secops-sa.json", str(key)))
    res = run_cli("validate", "-c", str(cfg))
    assert res.returncode == 0, res.stdout + res.stderr
    cfg.write_text(body)
    res = run_cli("validate", "-c", str(cfg))
    err = res.stdout + res.stderr
    assert res.returncode != 0 and "credentials_file: cannot read" in err and "Traceback" not in err
