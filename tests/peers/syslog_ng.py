"""Run a real syslog-ng (Debian's ``syslog-ng-core``) with a test's configuration.

The caller gives the body of the configuration (sources, destinations, log paths);
this adds the version line and options, starts syslog-ng in the foreground with its
own persist file, pid file and control socket in a temporary directory, waits until
it listens, and stops it (SIGTERM, then SIGKILL) so no process outlives the test.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Iterable

from tests.peers.process import stop_process_group

SYSLOG_NG = shutil.which("syslog-ng") or "/usr/sbin/syslog-ng"


def syslog_ng_version() -> str:
    out = subprocess.run([SYSLOG_NG, "--version"], capture_output=True, text=True, timeout=10).stdout
    for line in out.splitlines():
        if line.startswith("Config version:"):
            return line.split(":", 1)[1].strip()
    return "3.35"


class SyslogNg:
    """One syslog-ng process; use as a context manager or call start()/stop()."""

    def __init__(self, body: str, workdir: Path, wait_ports: Iterable[tuple[str, int]] = (),
                 log_msg_size: int = 1048576) -> None:
        """:param log_msg_size: the longest message syslog-ng reads as one record (its own default
        is 65536; a larger message is split into two records, which seams tests rely on)."""
        self.workdir = Path(workdir)
        self.log_msg_size = log_msg_size
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.body = body
        self.wait_ports = list(wait_ports)
        self.conf = self.workdir / "syslog-ng.conf"
        self.log = self.workdir / "syslog-ng.out"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 15.0) -> "SyslogNg":
        self.conf.write_text(
            f"@version: {syslog_ng_version()}\n"
            "options { chain_hostnames(no); keep_hostname(yes); use_dns(no); use_fqdn(no); stats_freq(0); "
            f"log_msg_size({self.log_msg_size}); flush_lines(0); time_reopen(1); }};\n" + self.body, encoding="utf-8")
        args = [SYSLOG_NG, "--foreground", "--no-caps", f"--cfgfile={self.conf}",
                f"--persist-file={self.workdir / 'syslog-ng.persist'}", f"--pidfile={self.workdir / 'syslog-ng.pid'}",
                f"--control={self.workdir / 'syslog-ng.ctl'}", "--stderr"]
        check = subprocess.run(args[:2] + ["--syntax-only"] + args[2:4], capture_output=True, text=True, timeout=30)
        if check.returncode != 0:
            raise RuntimeError(f"syslog-ng rejected the test configuration:\n{check.stderr}\n{self.conf.read_text()}")
        self._out = open(self.log, "wb")
        self.proc = subprocess.Popen(args, stdout=self._out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        for host, port in self.wait_ports:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"syslog-ng exited with {self.proc.returncode}:\n{self.log.read_text(errors='replace')}")
                try:
                    with socket.create_connection((host, port), timeout=0.2):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        self.stop()
                        raise RuntimeError(f"syslog-ng did not listen on {host}:{port}:\n{self.log.read_text(errors='replace')}")
                    time.sleep(0.05)
        if not self.wait_ports:
            time.sleep(0.5)
            if self.proc.poll() is not None:
                raise RuntimeError(f"syslog-ng exited with {self.proc.returncode}:\n{self.log.read_text(errors='replace')}")
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            stop_process_group(self.proc)
        if hasattr(self, "_out"):
            self._out.close()

    def __enter__(self) -> "SyslogNg":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def msg_collector(workdir: Path, port: int, out: Path) -> SyslogNg:
    """A syslog-ng (not started) with an RFC 5424 TCP listener on 127.0.0.1:``port`` (octet
    counting or LF) that writes each message's MSG, one per line, to ``out``: with
    siemrelay's ``syslog`` sink defaults, one event's native JSON per line."""
    body = (f'source s_tcp {{ syslog(ip("127.0.0.1") port({port}) transport("tcp")); }};\n'
            f'destination d {{ file("{out}" template("$MESSAGE\\n")); }};\n'
            'log { source(s_tcp); destination(d); };\n')
    return SyslogNg(body, workdir, [("127.0.0.1", port)])


def written_json_lines(out: Path) -> list[dict[str, Any]]:
    """The JSON objects of every complete line syslog-ng has written to ``out`` so far.

    syslog-ng appends while a test reads, so the file may end inside a line; that line is
    left for the next read. (A filter on lines ending with ``}`` is not enough: a message
    cut after a ``}`` inside its escaped MSG passes it and does not parse.)
    """
    if not out.exists():
        return []
    text = out.read_text(encoding="utf-8")
    complete = text[:text.rfind("\n") + 1]
    return [json.loads(line) for line in complete.splitlines() if line]
