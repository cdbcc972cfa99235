"""Loopback ports for the suite's servers, picked where nothing else will take them.

A port handed to a process to listen on is free when picked and must still be free when the
process binds it, a moment (or a start-up of seconds) later. ``bind(0)`` picks from the kernel's
ephemeral range, the same range every outbound connection's local port comes from, so with
three workers making connections to peers, a picked port was now and then taken by one of them
before the agent bound it (the agent then refuses to start: "address in use"). Ports here come
from below the ephemeral range instead, each pytest-xdist worker from its own slice, in turn, so
no connection and no other worker can be given the same one.
"""

from __future__ import annotations

import itertools
import os
import socket
from pathlib import Path

#: the lowest port handed out (above the well-known and most registered services' ports)
FLOOR = 20000


def _ephemeral_low() -> int:
    """The first port of the kernel's ephemeral range (32768 by default)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _worker_slice() -> range:
    """This worker's ports: its share of ``[FLOOR, ephemeral low)``."""
    top = _ephemeral_low()
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0
    count = max(int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1), index + 1)
    width = (top - FLOOR) // count
    return range(FLOOR + index * width, FLOOR + (index + 1) * width)


_SLICE = _worker_slice()
#: where this process starts in its slice: a later run of the suite while an earlier one's
#: sockets linger in TIME_WAIT starts elsewhere
_NEXT = itertools.count(os.getpid() % max(len(_SLICE), 1))


def _free(host: str, family: int, kind: int, port: int) -> bool:
    with socket.socket(family, kind) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def pick_port(family: int = socket.AF_INET, kind: int = socket.SOCK_STREAM) -> int:
    """A loopback port free right now that no outbound connection will be given (see above)."""
    host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
    if len(_SLICE) >= 64:
        for _ in range(len(_SLICE)):
            port = _SLICE[next(_NEXT) % len(_SLICE)]
            if _free(host, family, kind, port):
                return port
    with socket.socket(family, kind) as s:  # a machine whose ephemeral range leaves no room below it
        s.bind((host, 0))
        return int(s.getsockname()[1])
