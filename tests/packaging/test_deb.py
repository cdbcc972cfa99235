"""The Debian package: build it, install it with dpkg, run the installed command, purge it.

Runs as root only (dpkg -i); whatever happens, the package is purged at the end.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, require_tool

@pytest.fixture(autouse=True)
def _needs_root_and_dpkg() -> None:
    if os.geteuid() != 0:
        pytest.fail("installing a .deb needs root: run the test command (bash tests/run.sh) as root")
    require_tool("dpkg-deb", "dpkg")


def _run(*cmd: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout)
    if check:
        assert res.returncode == 0, f"{' '.join(cmd)} failed:\n{res.stdout}\n{res.stderr}"
    return res


def _installed() -> bool:
    res = _run("dpkg-query", "-W", "-f=${Status}", "siemrelay", check=False)
    return "install ok installed" in res.stdout


@pytest.fixture
def deb(tmp_path: Path):
    if _installed():
        pytest.fail("a siemrelay package is already installed on this machine; not touching it")
    res = _run(str(ROOT / "packaging" / "deb" / "build-deb.sh"), "--out", str(tmp_path))
    path = Path(res.stdout.strip().splitlines()[-1])
    assert path.is_file() and path.suffix == ".deb"
    try:
        yield path
    finally:
        _run("dpkg", "--purge", "siemrelay", check=False)


def test_deb_installs_runs_and_purges_cleanly(deb: Path):
    info = _run("dpkg-deb", "--info", str(deb)).stdout
    assert "Package: siemrelay" in info and "python3 (>= 3." in info
    contents = _run("dpkg-deb", "--contents", str(deb)).stdout
    for path in ("./opt/siemrelay/bin/siemrelay", "./lib/systemd/system/siemrelay.service", "./etc/siemrelay/siemrelay.yaml",
                 "./etc/default/siemrelay", "./usr/bin/siemrelay"):
        assert path in contents, path

    _run("dpkg", "-i", str(deb))
    assert _installed()
    conffiles = Path("/var/lib/dpkg/info/siemrelay.conffiles").read_text().split()
    assert conffiles == ["/etc/siemrelay/siemrelay.yaml", "/etc/default/siemrelay"]
    assert _run("getent", "passwd", "siemrelay").stdout.split(":")[6].strip() == "/usr/sbin/nologin"
    shebang = Path("/opt/siemrelay/bin/siemrelay").read_text().splitlines()[0]
    assert shebang in ("#!/opt/siemrelay/bin/python", "#!/opt/siemrelay/bin/python3"), shebang  # relocated out of the build tree

    version = _run("/opt/siemrelay/bin/siemrelay", "--version").stdout.strip()
    assert version.startswith("siemrelay ")
    # validate as the service user, exactly as ExecStartPre does
    res = _run("runuser", "-u", "siemrelay", "--", "/opt/siemrelay/bin/siemrelay", "validate", "-c", "/etc/siemrelay/siemrelay.yaml")
    assert res.stdout.startswith("√ /etc/siemrelay/siemrelay.yaml")
    _run("/opt/siemrelay/bin/python", "-c", "import agent.admin.server, plugins.in_http, prometheus_client")
    if shutil.which("systemd-analyze"):
        _run("systemd-analyze", "verify", "/lib/systemd/system/siemrelay.service")

    _run("dpkg", "--purge", "siemrelay")
    assert not _installed()
    for gone in ("/opt/siemrelay", "/etc/siemrelay", "/etc/default/siemrelay", "/var/lib/siemrelay", "/var/log/siemrelay",
                 "/lib/systemd/system/siemrelay.service", "/usr/bin/siemrelay"):
        assert not os.path.lexists(gone), gone
    assert _run("getent", "passwd", "siemrelay", check=False).returncode != 0
