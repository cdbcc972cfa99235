"""Run Debian's ``tinyproxy`` as the only route to a sink's peer, for egress-proxy tests.

The proxy listens on a free loopback port, forwards plain HTTP and tunnels HTTPS with
``CONNECT``; with ``username``/``password`` it demands Basic proxy authentication
(``407 Proxy Authentication Required`` otherwise). Every request it handled is in its
log (``connections()``), which is how a test proves the sink went through it. The
process runs in its own process group and is always stopped.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.peers.process import stop_process_group
from tests.ports import pick_port

TINYPROXY = shutil.which("tinyproxy") or "/usr/bin/tinyproxy"

__all__ = ["TINYPROXY", "Tinyproxy"]


class Tinyproxy:
    """One ``tinyproxy -d`` process on ``127.0.0.1:<free port>``.

    :param workdir: directory for its configuration and log.
    :param username: require Basic proxy authentication with this user (and ``password``).
    """

    def __init__(self, workdir: Path, username: str | None = None, password: str | None = None) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = pick_port()
        self.username, self.password = username, password
        self.log = self.workdir / "tinyproxy.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Tinyproxy":
        conf = self.workdir / "tinyproxy.conf"
        lines = [f"Port {self.port}", "Listen 127.0.0.1", "Timeout 10", "MaxClients 20",
                 f'LogFile "{self.log}"', "LogLevel Connect", "Allow 127.0.0.1", "DisableViaHeader Yes"]
        if self.username:
            lines.append(f"BasicAuth {self.username} {self.password}")
        conf.write_text("\n".join(lines) + "\n")
        self.log.touch()
        self.log.chmod(0o666)  # tinyproxy drops privileges (nobody) before it writes its log
        self.proc = subprocess.Popen([TINYPROXY, "-d", "-c", str(conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise RuntimeError(f"tinyproxy exited with {self.proc.returncode}: {err}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("tinyproxy did not listen within 10 s")

    def connections(self) -> list[str]:
        """The request lines tinyproxy logged (``CONNECT 127.0.0.1:443``, ``POST http://...``)."""
        out = []
        for line in self.log.read_text(errors="replace").splitlines():
            if "Request (file descriptor" in line:
                out.append(line.split("): ", 1)[-1].strip())
        return out

    def stop(self) -> None:
        if self.proc is not None:
            stop_process_group(self.proc, grace_s=5)
            if self.proc.stderr:
                self.proc.stderr.close()
            self.proc = None

    def __enter__(self) -> "Tinyproxy":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
