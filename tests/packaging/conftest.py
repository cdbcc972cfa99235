"""The Debian package, built once per test session from this checkout and shared by every test that installs it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, require_tool


def build_deb(out: Path) -> Path:
    """Build the package with packaging/deb/build-deb.sh into ``out``; return the .deb's path."""
    res = subprocess.run([str(ROOT / "packaging" / "deb" / "build-deb.sh"), "--out", str(out)],
                         capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, f"build-deb.sh failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    deb = Path(res.stdout.strip().splitlines()[-1])
    assert deb.is_file() and deb.suffix == ".deb", deb
    return deb


@pytest.fixture(scope="session")
def built_deb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package as built by ``packaging/deb/build-deb.sh`` (dh, a virtualenv under /opt/siemrelay).

    Built once: the dpkg test and the systemd container test install the same file. Its
    folder is world-readable, because the container mounts it.
    """
    for tool, package in (("dpkg-buildpackage", "dpkg-dev"), ("dh", "debhelper"), ("dpkg-deb", "dpkg")):
        require_tool(tool, package)
    out = tmp_path_factory.mktemp("debs")
    os.chmod(out, 0o755)
    return build_deb(out)
