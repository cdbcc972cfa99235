"""systemd's readiness protocol (sd_notify) over ``$NOTIFY_SOCKET``, without extra dependencies.

Under ``Type=notify`` systemd considers the service started only when it receives
``READY=1``, so ``systemctl start`` returns once sources listen and the spool is
open, not merely when the process exists. ``WATCHDOG=1`` pings prove the agent is
alive (systemd restarts it after ``WatchdogSec`` of silence); ``RELOADING=1`` with
``MONOTONIC_USEC`` and ``STOPPING=1`` make ``systemctl reload``/``stop`` report
truthfully. Outside systemd (no ``$NOTIFY_SOCKET``) every call is a cheap no-op.

The protocol is one datagram of ``KEY=value`` lines to an ``AF_UNIX`` socket whose
path is in ``$NOTIFY_SOCKET`` (``@`` means the Linux abstract namespace).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from typing import Callable, Mapping

__all__ = ["Notifier", "watchdog_interval"]


class Notifier:
    """Sends sd_notify messages; construct with :meth:`from_environ` in the agent."""

    def __init__(self, address: str | None) -> None:
        """:param address: the socket path (``@name`` for abstract), or ``None`` to do nothing."""
        self.address = address
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> "Notifier":
        """Read ``$NOTIFY_SOCKET``; an absent or unsupported value gives a silent notifier."""
        env = os.environ if environ is None else environ
        addr = env.get("NOTIFY_SOCKET") or None
        if addr is not None and not (addr.startswith("/") or addr.startswith("@")):
            addr = None  # vsock and other families are not used by the units we ship
        return cls(addr)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def notify(self, *lines: str) -> bool:
        """Send ``lines`` as one datagram; return False when not under systemd or on error.

        Errors are swallowed on purpose: a lost notification must never stop the agent.
        """
        if self.address is None:
            return False
        target = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        payload = "\n".join(lines).encode("utf-8")
        with self._lock:
            try:
                if self._sock is None:
                    self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                self._sock.sendto(payload, target)
                return True
            except OSError:
                return False

    def ready(self, status: str = "") -> bool:
        """Start-up finished: sources listen, workers run."""
        return self.notify("READY=1", *([f"STATUS={status}"] if status else []))

    def reloading(self, clock_usec: Callable[[], int] | None = None) -> bool:
        """A reload began; systemd (253+) needs ``MONOTONIC_USEC`` to match it to the request."""
        usec = clock_usec() if clock_usec else time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.notify("RELOADING=1", f"MONOTONIC_USEC={usec}", "STATUS=reloading configuration")

    def stopping(self) -> bool:
        """Shutdown began (draining)."""
        return self.notify("STOPPING=1", "STATUS=stopping: draining sinks")

    def watchdog(self) -> bool:
        """One keep-alive ping."""
        return self.notify("WATCHDOG=1")

    def status(self, text: str) -> bool:
        """Free-form one-line state shown by ``systemctl status``."""
        return self.notify(f"STATUS={text}")

    def close(self) -> None:
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None


def watchdog_interval(environ: Mapping[str, str] | None = None, pid: int | None = None) -> float | None:
    """Return how often to ping (half of ``WatchdogSec``), or ``None`` if no watchdog is asked for.

    ``WATCHDOG_PID``, when set, must be our pid (systemd sets it so a child that
    inherits the environment does not ping on the parent's behalf).
    """
    env = os.environ if environ is None else environ
    usec = env.get("WATCHDOG_USEC", "")
    if not (usec.isascii() and usec.isdigit()) or int(usec) == 0:
        return None
    wpid = env.get("WATCHDOG_PID", "")
    if wpid and wpid.isascii() and wpid.isdigit() and int(wpid) != (os.getpid() if pid is None else pid):
        return None
    return int(usec) / 1_000_000 / 2


class WatchdogPinger:
    """A thread that sends ``WATCHDOG=1`` every ``interval`` while ``healthy()`` is true.

    If the agent is wedged (spool writer or a sink worker died), the pings stop and
    systemd restarts the service after ``WatchdogSec``: better a clean restart, the
    spool being crash-safe, than a process that accepts events it never delivers.
    """

    def __init__(self, notifier: Notifier, interval: float, healthy: Callable[[], bool]) -> None:
        self.notifier = notifier
        self.interval = interval
        self.healthy = healthy
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sd-watchdog", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                ok = self.healthy()
            except Exception:
                ok = False
            if ok:
                self.notifier.watchdog()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None


__all__ += ["WatchdogPinger"]
