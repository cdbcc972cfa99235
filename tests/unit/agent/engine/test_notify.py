"""sd_notify: datagrams on $NOTIFY_SOCKET (path and abstract), the watchdog interval and pinger."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Iterator

import pytest

from agent.engine.notify import Notifier, WatchdogPinger, watchdog_interval


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(5)
    yield path, sock
    sock.close()


def test_messages_reach_the_socket(listener):
    path, sock = listener
    n = Notifier.from_environ({"NOTIFY_SOCKET": path})
    assert n.enabled
    assert n.ready("running: 2 sources")
    assert sock.recv(4096) == b"READY=1\nSTATUS=running: 2 sources"
    assert n.reloading(lambda: 123456)
    assert sock.recv(4096) == b"RELOADING=1\nMONOTONIC_USEC=123456\nSTATUS=reloading configuration"
    n.stopping()
    assert sock.recv(4096).startswith(b"STOPPING=1\n")
    n.watchdog()
    assert sock.recv(4096) == b"WATCHDOG=1"
    n.close()


def test_reloading_uses_clock_monotonic_by_default(listener):
    path, sock = listener
    import time

    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    Notifier(path).reloading()
    usec = int(sock.recv(4096).split(b"\n")[1].split(b"=")[1])
    assert before <= usec <= time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


def test_abstract_namespace_socket():
    name = f"siemrelay-test-{os.getpid()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(5)
    try:
        assert Notifier.from_environ({"NOTIFY_SOCKET": "@" + name}).ready()
        assert sock.recv(4096) == b"READY=1"
    finally:
        sock.close()


def test_without_systemd_everything_is_a_quiet_no_op(tmp_path: Path):
    assert not Notifier.from_environ({}).ready()
    assert not Notifier.from_environ({"NOTIFY_SOCKET": "vsock:2:1234"}).enabled
    # a socket that went away must not raise
    assert Notifier(str(tmp_path / "gone.sock")).ready() is False


def test_watchdog_interval_is_half_of_watchdog_sec_and_respects_watchdog_pid():
    assert watchdog_interval({"WATCHDOG_USEC": "20000000"}) == 10.0
    assert watchdog_interval({"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": "1"}, pid=1) == 10.0
    assert watchdog_interval({"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": "1"}, pid=2) is None
    assert watchdog_interval({}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "0"}) is None


def test_pinger_pings_only_while_healthy(listener):
    path, sock = listener
    healthy = [True]
    pinger = WatchdogPinger(Notifier(path), 0.02, lambda: healthy[0])
    pinger.start()
    try:
        assert sock.recv(4096) == b"WATCHDOG=1"
        healthy[0] = False
        sock.settimeout(0.3)
        while True:  # drain pings sent before the switch, then expect silence
            try:
                sock.recv(4096)
            except socket.timeout:
                break
        with pytest.raises(socket.timeout):
            sock.recv(4096)
    finally:
        pinger.stop()
