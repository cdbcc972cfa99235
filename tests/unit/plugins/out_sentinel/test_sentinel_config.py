"""``sentinel`` configuration: the ``describe`` example validates as printed; mistakes are
named with file, line and key, and secrets are never echoed."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_cli


def example_block(kind_type: str) -> str:
    out = run_cli("describe", "sink", kind_type)
    assert out.returncode == 0, out.stderr
    text = out.stdout[out.stdout.index("\nsinks:") + 1:]
    return text.split("\n\n", 1)[0] + "\n"


def test_describe_example_validates_as_printed(tmp_path: Path) -> None:
    block = example_block("sentinel")
    cfg = tmp_path / "siemrelay.yaml"
    cfg.write_text(f"agent: {{state_dir: {tmp_path}/state}}\n{block}routes:\n  - name: default\n    to: [my_sentinel]\n")
    res = run_cli("validate", "-c", str(cfg), env={"SENTINEL_CLIENT_SECRET": "from-the-environment"})
    assert res.returncode == 0, res.stdout + res.stderr


def test_missing_credentials_and_bad_ids_are_named(tmp_path: Path) -> None:
    cfg = tmp_path / "siemrelay.yaml"
    cfg.write_text(f"""agent: {{state_dir: {tmp_path}/state}}
sinks:
  soc:
    type: sentinel
    endpoint: https://x.westeurope-1.ingest.monitor.azure.com
    dcr_immutable_id: dcr-123
    stream: SiemrelayEvents
    client_secret: Sup3r-Secret-Value-000
routes:
  - {{name: default, to: [soc]}}
""")
    res = run_cli("validate", "-c", str(cfg))
    assert res.returncode != 0
    err = res.stdout + res.stderr
    assert "sinks.soc.dcr_immutable_id" in err and "sinks.soc.stream" in err and ":7" in err
    assert "Traceback" not in err and "Sup3r-Secret-Value-000" not in err
    cfg.write_text(cfg.read_text().replace("dcr-123", "dcr-" + "ab" * 16).replace("SiemrelayEvents", "Custom-Events"))
    res = run_cli("validate", "-c", str(cfg))
    err = res.stdout + res.stderr
    assert res.returncode != 0 and "tenant_id, client_id required" in err and "Sup3r-Secret-Value-000" not in err
