"""The Debian package: build it (dh), check it with lintian, install it with dpkg, run the
installed command on the packaged configuration, purge it.

Runs as root only (dpkg -i); whatever happens, the package is purged at the end.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from agent.cli.main import build_parser
from tests.conftest import ROOT, require_tool

DOC = Path("/usr/share/doc/siemrelay")

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
def deb(built_deb: Path):
    if _installed():
        pytest.fail("a siemrelay package is already installed on this machine; not touching it")
    try:
        yield built_deb
    finally:
        _run("dpkg", "--purge", "siemrelay", check=False)


def test_package_passes_lintian(built_deb: Path):
    """No error or warning; each accepted tag is justified in packaging/deb/debian/siemrelay.lintian-overrides."""
    lintian = require_tool("lintian", "lintian")
    res = _run(lintian, "--fail-on", "error,warning", str(built_deb), check=False, timeout=600)
    tags = [line for line in res.stdout.splitlines() if re.match(r"^[EW]: ", line)]
    assert res.returncode == 0 and not tags, res.stdout[-4000:] + res.stderr[-2000:]


def test_package_carries_docs_man_page_changelogs_and_copyright(built_deb: Path, tmp_path: Path):
    deb = built_deb
    info = _run("dpkg-deb", "--info", str(deb)).stdout
    assert "Package: siemrelay" in info and "python3 (>= 3." in info and "adduser" in info
    assert re.search(r"^\s+\d+ bytes,\s+\d+ lines\s+md5sums", info, re.M), info
    contents = _run("dpkg-deb", "--contents", str(deb)).stdout
    for path in ("./opt/siemrelay/bin/siemrelay", "./lib/systemd/system/siemrelay.service", "./etc/siemrelay/siemrelay.yaml",
                 "./etc/default/siemrelay", "./usr/bin/siemrelay", "./usr/share/man/man1/siemrelay.1.gz",
                 f".{DOC}/changelog.Debian.gz", f".{DOC}/changelog.gz", f".{DOC}/copyright", f".{DOC}/README.md",
                 f".{DOC}/examples/siemrelay.yaml", f".{DOC}/examples/routes.d/"):
        assert path in contents, path
    for page in (ROOT / "docs").glob("*.md"):
        assert f".{DOC}/{page.name}" in contents, page.name
    _run("dpkg-deb", "-x", str(deb), str(tmp_path))
    doc = tmp_path / DOC.relative_to("/")

    # the man page, as `man siemrelay` shows it: every command of the CLI, no groff complaint
    page = _run("man", "--warnings", "-P", "cat", "-l", str(tmp_path / "usr/share/man/man1/siemrelay.1.gz"), check=False)
    assert page.returncode == 0 and page.stderr.strip() == "", page.stderr
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    for command in sub.choices:  # type: ignore[union-attr]
        assert re.search(rf"^   {re.escape(command)}$", page.stdout, re.M), command
    # DEP-5 copyright: siemrelay's license, and each bundled distribution's (PyYAML's, for one)
    copyright_text = (doc / "copyright").read_text()
    assert copyright_text.startswith("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/")
    assert re.search(r"^Files: \*\nCopyright: .+\nLicense: Apache-2.0$", copyright_text, re.M)
    assert re.search(r"^Files: .*opt/siemrelay/lib/python3\.\d+/site-packages/yaml/\*.*\nCopyright: .+\nLicense: MIT$",
                     copyright_text, re.M)
    assert gzip.decompress((doc / "changelog.gz").read_bytes()).decode() == (ROOT / "CHANGELOG.md").read_text()
    assert "siemrelay (" in gzip.decompress((doc / "changelog.Debian.gz").read_bytes()).decode()
    # Markdown kept readable as is (the unit's Documentation= names operations.md), whole
    assert (doc / "README.md").read_text() == (ROOT / "README.md").read_text()
    for page_path in (ROOT / "docs").glob("*.md"):
        assert (doc / page_path.name).read_text() == page_path.read_text(), page_path.name


def test_deb_installs_runs_and_purges_cleanly(deb: Path):
    _run("dpkg", "-i", str(deb))
    assert _installed()
    conffiles = Path("/var/lib/dpkg/info/siemrelay.conffiles").read_text().split()
    assert sorted(conffiles) == ["/etc/default/siemrelay", "/etc/siemrelay/siemrelay.yaml"]
    # the unit is handled by debhelper's deb-systemd-helper/-invoke snippets (policy-rc.d is honoured), not systemctl
    postinst = Path("/var/lib/dpkg/info/siemrelay.postinst").read_text()
    assert "deb-systemd-helper" in postinst and "deb-systemd-invoke" in postinst
    assert not re.search(r"systemctl (start|enable|restart|try-restart)", postinst)
    st = os.stat("/var/lib/siemrelay")
    assert oct(st.st_mode & 0o777) == oct(0o750) and _run("stat", "-c", "%U:%G", "/var/lib/siemrelay").stdout.strip() == "siemrelay:siemrelay"
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
                 "/lib/systemd/system/siemrelay.service", "/usr/bin/siemrelay", str(DOC),
                 "/usr/share/man/man1/siemrelay.1.gz"):
        assert not os.path.lexists(gone), gone
    assert _run("getent", "passwd", "siemrelay", check=False).returncode != 0
