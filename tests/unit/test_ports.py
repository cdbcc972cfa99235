"""The suite's port picker: ports no outbound connection can be given, distinct per worker."""

from __future__ import annotations

import socket

from tests import ports


def test_picked_ports_lie_below_the_ephemeral_range_in_this_workers_slice_and_do_not_repeat() -> None:
    picked = [ports.pick_port() for _ in range(50)]
    assert len(set(picked)) == 50
    assert all(p in ports._SLICE for p in picked)
    assert max(picked) < ports._ephemeral_low()


def test_a_port_something_listens_on_is_skipped() -> None:
    first = ports.pick_port()
    with socket.socket() as held:
        held.bind(("127.0.0.1", first))
        held.listen()
        # walk the whole slice round once: the held port must never come back
        assert first not in {ports.pick_port() for _ in range(len(ports._SLICE))}


def test_workers_get_disjoint_slices(monkeypatch) -> None:
    slices = []
    for worker in ("gw0", "gw1", "gw2"):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
        monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "3")
        slices.append(set(ports._worker_slice()))
    assert all(len(s) > 1000 for s in slices)
    assert not (slices[0] & slices[1]) and not (slices[1] & slices[2]) and not (slices[0] & slices[2])


def test_ipv6_and_udp_ports_are_free_for_their_kind() -> None:
    port = ports.pick_port(socket.AF_INET, socket.SOCK_DGRAM)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", port))
    if socket.has_ipv6:
        port6 = ports.pick_port(socket.AF_INET6)
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", port6))
