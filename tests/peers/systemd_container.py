"""A Debian root booted under a real systemd (systemd-nspawn), for testing the service as installed.

The test machine's PID 1 is not systemd, so the unit's promises (``Type=notify``, the
watchdog, ``ExecReload``, the sandbox, the maintainer scripts) can only be proven in a
container that boots one. The root is made once with ``debootstrap --variant=minbase``
and cached between runs on the same machine (rebuilt when missing or when the package
list changes). Each boot is volatile (``--volatile=overlay``: writes go to a tmpfs laid
over the cached root and vanish at power-off) and sees the host folder with the built
packages read-only at :data:`PACKAGES_MOUNT`. It shares the host's network, so that
``apt-get`` inside resolves a package's declared dependencies from Debian's archive as
on a real machine; what it listens on is therefore on the host's loopback too.

Commands run inside through ``nsenter`` into the container's PID 1, so no login,
machined or D-Bus on the host is needed.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Callable

__all__ = ["DebianContainer", "ensure_root", "PACKAGES_MOUNT", "ContainerError"]

SUITE = "bookworm"
#: what the root holds beyond minbase: an init, the bus systemctl talks over, the Python the
#: package's virtualenv runs on, and curl to post to the agent's loopback listener
INCLUDE = ("systemd", "systemd-sysv", "dbus", "python3", "python3-venv", "curl")
PACKAGES_MOUNT = "/mnt/packages"
DEFAULT_CACHE = Path(os.environ.get("SIEMRELAY_TEST_CACHE", "/var/cache/siemrelay-tests"))
_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class ContainerError(RuntimeError):
    """The container could not be made, booted or reached; the message says what to look at."""


def _host_debian_mirror(sources: Path = Path("/etc/apt")) -> str | None:
    """The Debian archive this machine's apt uses (so debootstrap goes where apt-get goes), if any."""
    texts: list[str] = []
    for f in [sources / "sources.list", *sorted((sources / "sources.list.d").glob("*"))]:
        if f.is_file() and f.suffix in ("", ".list", ".sources") and "disabled" not in f.name:
            texts.append(f.read_text(errors="replace"))
    for text in texts:
        for uri in re.findall(r"(?m)^(?:URIs:\s*|deb\s+(?:\[[^\]]*\]\s+)?)(\S+)", text):
            if uri.rstrip("/").endswith("/debian"):
                return uri
    return None


def ensure_root(cache: Path = DEFAULT_CACHE, log: Callable[[str], None] = print) -> Path:
    """Return the cached Debian root, building it first when it is missing (a few minutes, once)."""
    key = hashlib.sha256(f"{SUITE} {' '.join(INCLUDE)}".encode()).hexdigest()[:12]
    root = cache / f"{SUITE}-systemd-{key}"
    if (root / "usr/lib/systemd/systemd").exists() and (root / ".complete").exists():
        return root
    for tool, package in (("debootstrap", "debootstrap"), ("systemd-nspawn", "systemd-container")):
        if shutil.which(tool) is None:
            raise ContainerError(f"{tool} is not installed: the test command installs Debian's {package}")
    cache.mkdir(parents=True, exist_ok=True)
    partial = root.with_name(root.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    cmd = ["debootstrap", "--variant=minbase", f"--include={','.join(INCLUDE)}", SUITE, str(partial)]
    mirror = _host_debian_mirror()
    if mirror:
        cmd.append(mirror)
    log(f"building the Debian {SUITE} root for the systemd tests (once per machine): {' '.join(cmd)}")
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)
    if res.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        raise ContainerError(f"debootstrap failed ({res.returncode}):\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
    # a getty on the console would wait for a login on our pipe: not wanted in a test container
    for unit in ("console-getty.service", "getty@.service"):
        mask = partial / "etc/systemd/system" / unit
        mask.parent.mkdir(parents=True, exist_ok=True)
        mask.unlink(missing_ok=True)
        mask.symlink_to("/dev/null")
    (partial / ".complete").write_text("")
    shutil.rmtree(root, ignore_errors=True)
    partial.rename(root)
    return root


class DebianContainer:
    """One volatile boot of ``root`` under systemd-nspawn; use as a context manager."""

    def __init__(self, root: Path, packages: Path, console_log: Path) -> None:
        self.root = root
        self.packages = packages
        self.console_log = console_log
        self._proc: subprocess.Popen[bytes] | None = None
        self.leader: int | None = None

    def __enter__(self) -> "DebianContainer":
        self.boot()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def boot(self, timeout_s: float = 90.0) -> None:
        """Boot and wait until systemd reports the system running (or degraded)."""
        cmd = ["systemd-nspawn", "--quiet", "--register=no", "--keep-unit",
               "--volatile=overlay", f"--bind-ro={self.packages}:{PACKAGES_MOUNT}",
               "-D", str(self.root), "-b"]
        with open(self.console_log, "wb") as out:
            self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                          start_new_session=True)
        deadline = time.monotonic() + timeout_s
        state = ""
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise ContainerError(f"systemd-nspawn exited with {self._proc.returncode}: "
                                     f"{self.console_log.read_text(errors='replace')[-2000:]}")
            if self.leader is None:
                self.leader = self._find_leader()
            if self.leader is not None:
                state = self.run("systemctl is-system-running", check=False, timeout=10).stdout.strip()
                if state in ("running", "degraded"):
                    return
            time.sleep(0.5)
        self.stop()
        raise ContainerError(f"the container did not finish booting in {timeout_s:.0f}s (last state {state!r})")

    def _find_leader(self) -> int | None:
        """The container's PID 1 as the host sees it: the nspawn process's child running systemd."""
        assert self._proc is not None
        res = subprocess.run(["pgrep", "-P", str(self._proc.pid)], capture_output=True, text=True)
        for pid in res.stdout.split():
            try:
                if Path(f"/proc/{pid}/comm").read_text().strip() == "systemd":
                    return int(pid)
            except OSError:
                continue
        return None

    def run(self, script: str, *, check: bool = True, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        """Run ``script`` with /bin/sh inside the container, as root, with a clean environment."""
        if self.leader is None:
            raise ContainerError("the container is not running")
        cmd = ["nsenter", "-t", str(self.leader), "-a", "--", "/usr/bin/env", "-i", f"PATH={_PATH}",
               "LANG=C.UTF-8", "SYSTEMD_PAGER=", "SYSTEMD_COLORS=0", "DEBIAN_FRONTEND=noninteractive",
               "/bin/sh", "-c", script]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if check and res.returncode != 0:
            journal = ""
            if "systemctl" in script:  # why the unit failed is in its journal, not in systemctl's answer
                cmd[-1] = "journalctl -u siemrelay --no-pager -n 40 -o short-monotonic"
                journal = "\nlast journal lines of siemrelay:\n" + subprocess.run(
                    cmd, capture_output=True, text=True, timeout=30).stdout
            raise AssertionError(f"in the container, `{script}` exited {res.returncode}:\n{res.stdout}\n{res.stderr}{journal}")
        return res

    def stop(self, timeout_s: float = 30.0) -> None:
        """Power the container off (SIGTERM to nspawn asks systemd to shut down), then make sure it is gone."""
        proc, self._proc, self.leader = self._proc, None, None
        if proc is None or proc.poll() is not None:
            return
        try:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
