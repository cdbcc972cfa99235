"""A CEF relay is lossless: vendor CEF lines in, the same header and extensions out.

The path is the one a user drives: the agent as a subprocess tails a file of CEF
lines (``decoder: cef``), spools them, and its ``cef`` sink writes bare CEF lines.
Both the input and the output are read back with liblognorm's independent CEF parser
and compared field by field: header fields, every extension key and its value.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, wait_for
from tests.peers.lognorm import parse_cef_lines

pytestmark = pytest.mark.e2e

CORPUS = ROOT / "tests" / "fixtures" / "cef-relay" / "corpus.cef"
HEADER = ("DeviceVendor", "DeviceProduct", "DeviceVersion", "SignatureID", "Name", "Severity")


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "siemrelay.yaml"
    path.write_text(f"""
agent:
  state_dir: {tmp_path}/state
  shutdown_timeout_s: 5
sources:
  ids:
    type: file
    paths: ["{tmp_path}/in/*.cef"]
    read_from: beginning
    decoder: cef
sinks:
  arcsight:
    type: cef
    transport: file
    path: {tmp_path}/out/relay.cef
    header: none
routes:
  - name: all
    to: [arcsight]
""")
    return path


def _fields(parsed: dict[str, Any]) -> tuple[tuple[str, ...], dict[str, str]]:
    cef = parsed["cef"]
    return tuple(str(cef[k]) for k in HEADER), dict(cef["Extensions"])


def test_cef_relay_corpus_round_trips_with_no_lost_field(tmp_path: Path, agent_process: Any) -> None:
    lines = [ln for ln in CORPUS.read_text(encoding="utf-8").splitlines() if ln.strip()]
    assert len(lines) >= 15
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "vendors.cef").write_text("\n".join(lines) + "\n", encoding="utf-8")
    agent_process(_config(tmp_path))
    out = tmp_path / "out" / "relay.cef"
    wait_for(lambda: out.exists() and len(out.read_text(encoding="utf-8").splitlines()) >= len(lines), timeout=30)
    sent = [_fields(p) for p in parse_cef_lines(lines, tmp_path)]
    received = [_fields(p) for p in parse_cef_lines(out.read_text(encoding="utf-8").splitlines(), tmp_path)]
    by_name = {h[4]: (h, ext) for h, ext in received}
    lost: list[str] = []
    for header, ext in sent:
        got_header, got_ext = by_name[header[4]]
        if got_header != header:
            lost.append(f"{header[0]}: header {got_header} != {header}")
        lost += [f"{header[0]}: {k}={v!r} became {got_ext.get(k)!r}" for k, v in ext.items() if got_ext.get(k) != v]
        lost += [f"{header[0]}: {k} added" for k in got_ext if k not in ext]
    assert lost == []
