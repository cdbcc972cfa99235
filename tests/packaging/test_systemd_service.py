"""The service under a real systemd: the .deb installed in a booted Debian container.

The unit's promises can only be proven where PID 1 is systemd, so this module boots a
cached Debian root with systemd-nspawn (tests/peers/systemd_container.py), installs the
package built from this checkout with ``apt-get install ./siemrelay_*.deb`` (its
declared dependencies resolve against the container's own Debian, and its virtualenv
runs on the container's ``python3``), and drives it only as an operator would: through
``systemctl``, ``journalctl``, ``curl`` on the packaged listener, the files on disk, and
``apt-get``. The unit stays exactly as shipped, hardening included; only the watchdog
test shortens ``WatchdogSec`` with a drop-in (removed again) so it runs in seconds.

The tests run in file order against one container, as an operator's day would: start,
deliver, watchdog, reload, journal, modes, stop, upgrade, remove, purge.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from tests.conftest import ROOT, require_tool
from tests.peers.systemd_container import PACKAGES_MOUNT, ContainerError, DebianContainer, ensure_root

pytestmark = pytest.mark.e2e

CONFIG = "/etc/siemrelay/siemrelay.yaml"
ARCHIVE = "/var/log/siemrelay/events.jsonl"
LISTENER = "http://127.0.0.1:8080"
MAX_EXPOSURE = 2.0


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _version() -> str:
    text = (ROOT / "agent" / "version.py").read_text()
    match = re.search(r'__version__ = "([^"]+)"', text)
    assert match
    return match.group(1)


def _repack(deb: Path, version: str, out: Path) -> Path:
    """The same package under a newer version: what an upgrade installs."""
    tree = out / "repack"
    subprocess.run(["dpkg-deb", "-R", str(deb), str(tree)], check=True)
    control = tree / "DEBIAN" / "control"
    control.write_text(re.sub(r"(?m)^Version: .*$", f"Version: {version}", control.read_text()))
    new = out / f"siemrelay_{version}_{deb.name.rsplit('_', 1)[1]}"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "-z1", "--build", str(tree), str(new)],
                   check=True, capture_output=True)
    shutil.rmtree(tree)
    return new


@pytest.fixture(scope="module")
def packages(built_deb: Path) -> dict[str, Path]:
    if os.geteuid() != 0:
        pytest.fail("booting a systemd container needs root: run the test command (bash tests/run.sh) as root")
    for tool, package in (("systemd-nspawn", "systemd-container"), ("debootstrap", "debootstrap"),
                          ("nsenter", "util-linux"), ("dpkg-deb", "dpkg")):
        require_tool(tool, package)
    upgrade = built_deb.parent / f"siemrelay_{_version()}+upgrade1_{built_deb.name.rsplit('_', 1)[1]}"
    return {"current": built_deb, "upgrade": upgrade if upgrade.exists() else _repack(built_deb, _version() + "+upgrade1", built_deb.parent)}


@pytest.fixture(scope="module")
def box(packages: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[DebianContainer]:
    try:
        root = ensure_root()
    except ContainerError as exc:
        pytest.fail(str(exc))
    # the container shares the host's network (apt-get must reach Debian's archive), so the
    # packaged configuration's listener and admin ports are the host's loopback ports
    busy = [port for port in (8080, 8081) if not _port_free(port)]
    if busy:
        pytest.fail(f"the packaged configuration listens on 127.0.0.1:8080 and :8081, but {busy} are taken on this machine")
    log = tmp_path_factory.mktemp("console") / "console.log"
    with DebianContainer(root, packages["current"].parent, log) as container:
        container.run("apt-get update -qq", timeout=300)
        res = container.run(f"apt-get install -y --no-install-recommends {PACKAGES_MOUNT}/{packages['current'].name}",
                            check=False, timeout=300)
        assert res.returncode == 0, f"apt-get install failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
        yield container


def _show(box: DebianContainer, *props: str) -> dict[str, str]:
    out = box.run(f"systemctl show -p {','.join(props)} siemrelay").stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def _post(box: DebianContainer, body: str, path: str = "/events") -> int:
    res = box.run(f"curl -s -o /dev/null -w '%{{http_code}}' --max-time 10 -X POST "
                  f"-H 'Content-Type: application/json' --data-binary @- {LISTENER}{path} <<'EOF'\n{body}\nEOF")
    return int(res.stdout.strip() or 0)


def _finding(title: str) -> str:
    return json.dumps({"id": title, "title": title, "severity": "high"})


def _wait_archived(box: DebianContainer, titles: list[str], timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    missing = titles
    while time.monotonic() < deadline:
        text = box.run(f"cat {ARCHIVE} 2>/dev/null || true").stdout
        missing = [t for t in titles if f'"title":"{t}"' not in text]
        if not missing:
            return
        time.sleep(0.3)
    raise AssertionError(f"not in {ARCHIVE} after {timeout_s:.0f}s: {missing}")


def _wait_for(box: DebianContainer, predicate: str, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if box.run(predicate, check=False).returncode == 0:
            return True
        time.sleep(0.5)
    return False


def test_unit_as_shipped_is_hardened(box: DebianContainer):
    installed = box.run("cat /lib/systemd/system/siemrelay.service").stdout
    assert installed == (ROOT / "packaging" / "systemd" / "siemrelay.service").read_text()
    assert not box.run("ls /etc/systemd/system/siemrelay.service.d 2>/dev/null || true").stdout.strip()
    report = box.run("systemd-analyze security siemrelay --no-pager").stdout
    score = float(re.search(r"Overall exposure level for siemrelay.service: ([0-9.]+)", report).group(1))
    assert score <= MAX_EXPOSURE, report[-2000:]


def test_start_returns_only_after_ready(box: DebianContainer):
    box.run("systemctl stop siemrelay")
    # curl right after `systemctl start` returns, without a retry: the listener must already
    # be up, which only Type=notify's READY=1 (sent after sources listen) guarantees
    res = box.run(f"systemctl start siemrelay && curl -s -o /dev/null -w '%{{http_code}}' --max-time 5 -X POST "
                  f"-H 'Content-Type: application/json' --data '{_finding('ready-probe')}' {LISTENER}/events")
    assert res.stdout.strip() == "200"
    state = _show(box, "Type", "ActiveState", "SubState", "StatusText")
    assert (state["Type"], state["ActiveState"], state["SubState"]) == ("notify", "active", "running")
    assert "sources" in state["StatusText"]  # the agent's STATUS= line, sent with READY=1


def test_posted_event_reaches_the_packaged_sink(box: DebianContainer):
    title = f"e2e-{uuid.uuid4().hex[:8]}"
    assert _post(box, _finding(title)) == 200
    _wait_archived(box, [title])


def test_the_preparing_child_runs_under_the_hardened_unit(box: DebianContainer):
    """``agent.intake.processes: 1`` spawns a child (a second python, which the sandbox's
    system-call filter and MemoryDenyWriteExecute must allow); events posted (with
    ``child_min_bytes: 0``, however small) are prepared by it and reach the sink, and the
    journal reports no lost child."""
    box.run(f"cp {CONFIG} /root/siemrelay.yaml.child && "
            f"sed -i 's|^agent:$|agent:\\n  intake: {{processes: 1, child_min_bytes: 0}}|' {CONFIG} && "
            "systemctl restart siemrelay")
    try:
        _child_prepares_under_the_unit(box)
    finally:
        box.run(f"cp /root/siemrelay.yaml.child {CONFIG} && systemctl restart siemrelay")


def _child_prepares_under_the_unit(box: DebianContainer) -> None:
    main_pid = _show(box, "MainPID")["MainPID"]
    assert _wait_for(box, f"for c in $(cat /proc/{main_pid}/task/*/children); do "
                          f"grep -q siemrelay-prepare- /proc/$c/cmdline && exit 0; done; exit 1", 15), "no preparing child"
    titles = [f"child-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    for title in titles:
        assert _post(box, _finding(title)) == 200
    _wait_archived(box, titles)
    journal = box.run(f"journalctl -u siemrelay --no-pager -o cat _PID={main_pid}").stdout  # this start only
    assert "preparing batches in 1 child process" in journal
    assert "the preparing process" not in journal, journal[-2000:]  # no child lost, none failed


def test_watchdog_is_fed_and_a_hung_agent_is_restarted(box: DebianContainer):
    box.run("mkdir -p /etc/systemd/system/siemrelay.service.d && printf '[Service]\\nWatchdogSec=2s\\n"
            "TimeoutAbortSec=3s\\n' > /etc/systemd/system/siemrelay.service.d/watchdog.conf && "
            "systemctl daemon-reload && systemctl restart siemrelay")
    try:
        before = _show(box, "MainPID", "NRestarts", "WatchdogUSec")
        assert before["WatchdogUSec"] in ("2s", "2000000")
        time.sleep(7)  # three and a half watchdog periods
        during = _show(box, "MainPID", "NRestarts", "ActiveState")
        assert (during["MainPID"], during["NRestarts"], during["ActiveState"]) == (before["MainPID"], before["NRestarts"], "active")

        box.run(f"kill -STOP {before['MainPID']}")  # hung: no thread of it runs, no ping is sent
        assert _wait_for(box, f"test \"$(systemctl show -p NRestarts --value siemrelay)\" -gt {before['NRestarts']} && "
                              "systemctl is-active -q siemrelay", 30), box.run("systemctl status siemrelay --no-pager", check=False).stdout
        after = _show(box, "MainPID", "ActiveState")
        assert after["MainPID"] != before["MainPID"] and after["ActiveState"] == "active"
        assert "Watchdog timeout" in box.run("journalctl -u siemrelay --no-pager").stdout
    finally:
        box.run("rm -rf /etc/systemd/system/siemrelay.service.d && systemctl daemon-reload && systemctl restart siemrelay")
    assert _post(box, _finding("after-watchdog")) == 200


def test_reload_refuses_a_broken_config_and_applies_a_valid_one(box: DebianContainer):
    box.run(f"cp {CONFIG} /root/siemrelay.yaml.orig")
    pid = _show(box, "MainPID")["MainPID"]
    try:
        box.run(f"printf 'sinks:\\n  archive: {{type: no_such_sink}}\\n' >> {CONFIG}")
        res = box.run("systemctl reload siemrelay", check=False)
        assert res.returncode != 0
        state = _show(box, "MainPID", "ActiveState")
        assert (state["MainPID"], state["ActiveState"]) == (pid, "active")
        assert _post(box, _finding("old-config-still-serves")) == 200

        box.run(f"cp /root/siemrelay.yaml.orig {CONFIG} && sed -i 's|^      /events: {{decoder: auto}}.*|"
                f"      /events: {{decoder: auto}}\\n      /v2/events: {{decoder: json}}|' {CONFIG}")
        assert box.run(f"grep -c '/v2/events' {CONFIG}").stdout.strip() == "1"
        assert _post(box, _finding("before-reload"), "/v2/events") == 404
        box.run("systemctl reload siemrelay")
        assert _show(box, "MainPID")["MainPID"] == pid  # reloaded in place, not restarted
        assert _wait_for(box, f"test \"$(curl -s -o /dev/null -w '%{{http_code}}' -X POST -H 'Content-Type: "
                              f"application/json' --data '{_finding('v2')}' {LISTENER}/v2/events)\" = 200", 15)
        _wait_archived(box, ["v2"])
    finally:
        box.run(f"cp /root/siemrelay.yaml.orig {CONFIG} && systemctl reload siemrelay", check=False)
        # a changed HTTP source is stopped and started again: leave only once the restored
        # listener serves, so the next test does not post into the hand-over
        _wait_for(box, f"test \"$(curl -s -o /dev/null -w '%{{http_code}}' --max-time 2 -X POST -H 'Content-Type: "
                       f"application/json' --data '{_finding('v2-gone')}' {LISTENER}/v2/events)\" = 404", 30)


def test_journal_carries_log_priorities(box: DebianContainer):
    assert _post(box, "{not json") == 400  # refused: logged as a warning
    # a SIGHUP with a broken file (what `kill -HUP` does without ExecReload's validation): an error
    box.run(f"cp {CONFIG} /root/siemrelay.yaml.orig && printf 'routes: 5\\n' >> {CONFIG} && "
            "systemctl kill -s HUP --kill-whom=main siemrelay")
    try:
        assert _wait_for(box, "journalctl -u siemrelay -p err --no-pager -o cat | grep -q reload", 15)
    finally:
        box.run(f"cp /root/siemrelay.yaml.orig {CONFIG}")
    warnings = box.run("journalctl -u siemrelay -p warning --no-pager -o cat").stdout
    errors = box.run("journalctl -u siemrelay -p err --no-pager -o cat").stdout
    everything = box.run("journalctl -u siemrelay --no-pager -o cat").stdout
    assert "refused POST /events" in warnings and "refused POST /events" not in errors
    assert "listening on" in everything and "listening on" not in warnings  # info stays out of -p warning
    assert not any(line.startswith("<") for line in everything.splitlines())  # the prefix is consumed by journald


def test_files_are_owned_by_the_service_user_with_documented_modes(box: DebianContainer):
    out = box.run("stat -c '%n %U:%G %a' /var/lib/siemrelay /var/log/siemrelay /etc/siemrelay /etc/siemrelay/routes.d "
                  f"{CONFIG} /etc/default/siemrelay {ARCHIVE} /var/lib/siemrelay/*").stdout
    modes = {name: (owner, int(mode, 8)) for name, owner, mode in (line.split() for line in out.splitlines())}
    assert modes["/var/lib/siemrelay"] == ("siemrelay:siemrelay", 0o750)
    assert modes["/var/log/siemrelay"] == ("siemrelay:siemrelay", 0o750)
    assert modes["/etc/siemrelay"] == ("root:siemrelay", 0o750)
    assert modes["/etc/siemrelay/routes.d"] == ("root:siemrelay", 0o750)
    assert modes[CONFIG] == ("root:siemrelay", 0o640)
    assert modes["/etc/default/siemrelay"] == ("root:siemrelay", 0o640)
    state = {n: v for n, v in modes.items() if n.startswith("/var/lib/siemrelay/")}
    assert any(n.endswith(".db") for n in state), state
    for name, (owner, mode) in [*state.items(), (ARCHIVE, modes[ARCHIVE])]:
        assert owner.startswith("siemrelay:"), name
        assert mode & 0o027 == 0, f"{name} is {mode:o}: group-writable or world-accessible"


def test_stop_drains_and_exits_zero_within_timeout(box: DebianContainer):
    titles = [f"drain-{i}" for i in range(50)]
    box.run("for i in $(seq 0 49); do curl -s -o /dev/null -X POST -H 'Content-Type: application/json' "
            f"--data \"{{\\\"id\\\":\\\"drain-$i\\\",\\\"title\\\":\\\"drain-$i\\\"}}\" {LISTENER}/events; done")
    timeout = _show(box, "TimeoutStopUSec")["TimeoutStopUSec"]
    started = time.monotonic()
    box.run("systemctl stop siemrelay")
    took = time.monotonic() - started
    state = _show(box, "Result", "ExecMainStatus", "ExecMainCode", "ActiveState")
    assert state["ActiveState"] == "inactive"
    assert (state["Result"], state["ExecMainStatus"]) == ("success", "0"), state
    assert took < 30 and timeout in ("30s", "30000000"), (took, timeout)
    _wait_archived(box, titles, timeout_s=1)  # all acknowledged events were delivered before the exit
    box.run("systemctl start siemrelay")


def _dead_letters(box: DebianContainer) -> list[str]:
    out = box.run(f"runuser -u siemrelay -- siemrelay dlq list -c {CONFIG}").stdout
    return [line for line in out.splitlines() if line.strip()]


def test_upgrade_restarts_the_service_and_keeps_spool_and_dead_letters(box: DebianContainer, packages: dict[str, Path]):
    assert _post(box, '{"truncated": ') == 400  # a refused body is kept as a dead letter
    letters = _dead_letters(box)
    assert letters, "expected at least one dead letter before the upgrade"
    spool = box.run("stat -c '%i %n' /var/lib/siemrelay/*.db").stdout
    pid = _show(box, "MainPID")["MainPID"]

    res = box.run(f"apt-get install -y {PACKAGES_MOUNT}/{packages['upgrade'].name}", check=False, timeout=300)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert box.run("dpkg-query -W -f='${Version}' siemrelay").stdout == _version() + "+upgrade1"
    assert _wait_for(box, "systemctl is-active -q siemrelay", 30)
    assert _show(box, "MainPID")["MainPID"] != pid  # restarted onto the new code
    assert box.run("stat -c '%i %n' /var/lib/siemrelay/*.db").stdout == spool
    assert _dead_letters(box) == letters
    _wait_archived(box, ["drain-0", "v2"])
    assert _post(box, _finding("after-upgrade")) == 200
    _wait_archived(box, ["after-upgrade"])


def test_remove_keeps_configuration_and_state(box: DebianContainer):
    box.run("apt-get remove -y siemrelay", timeout=300)
    assert box.run("systemctl is-active siemrelay", check=False).stdout.strip() in ("inactive", "unknown")
    for kept in (CONFIG, "/etc/default/siemrelay", "/var/lib/siemrelay", ARCHIVE):
        assert box.run(f"test -e {kept}", check=False).returncode == 0, f"remove deleted {kept}"
    assert box.run("ls /var/lib/siemrelay/*.db").returncode == 0
    for gone in ("/lib/systemd/system/siemrelay.service", "/opt/siemrelay/bin/siemrelay", "/usr/bin/siemrelay"):
        assert box.run(f"test -e {gone}", check=False).returncode != 0, f"remove left {gone}"
    assert box.run("getent passwd siemrelay", check=False).returncode == 0  # the user owns the kept state


def test_purge_removes_user_unit_and_state(box: DebianContainer):
    box.run("apt-get purge -y siemrelay", timeout=300)
    for gone in ("/etc/siemrelay", "/etc/default/siemrelay", "/var/lib/siemrelay", "/var/log/siemrelay",
                 "/opt/siemrelay", "/lib/systemd/system/siemrelay.service",
                 "/etc/systemd/system/multi-user.target.wants/siemrelay.service"):
        assert box.run(f"test -e {gone}", check=False).returncode != 0, f"purge left {gone}"
    assert box.run("getent passwd siemrelay", check=False).returncode != 0
    assert box.run("getent group siemrelay", check=False).returncode != 0


def test_install_honours_policy_rc_d(box: DebianContainer, packages: dict[str, Path]):
    """A policy-rc.d that forbids starting services (as in image builds and chroots): the unit is enabled, not started."""
    box.run("printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d && chmod 0755 /usr/sbin/policy-rc.d")
    try:
        res = box.run(f"apt-get install -y --no-install-recommends {PACKAGES_MOUNT}/{packages['current'].name}",
                      check=False, timeout=300)
        assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
        assert box.run("systemctl is-enabled siemrelay", check=False).stdout.strip() == "enabled"
        assert box.run("systemctl is-active siemrelay", check=False).stdout.strip() == "inactive"
    finally:
        box.run("rm -f /usr/sbin/policy-rc.d && apt-get purge -y siemrelay", check=False, timeout=300)
    assert box.run("getent passwd siemrelay", check=False).returncode != 0
