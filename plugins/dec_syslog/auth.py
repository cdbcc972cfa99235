"""sshd and sudo lines → the model's actor, network, outcome and process context.

A SOC's first syslog content is logins: "Failed password for root from 198.51.100.23
port 40022 ssh2". Recognising the handful of OpenSSH and sudo messages that carry a
user, an address and a verdict turns them into ``auth.*`` events that every sink can
map (CEF ``suser``/``src``/``outcome``, OCSF Authentication, ECS ``user.name``).
Pure functions of the message text; anything else returns ``None``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["AuthFacts", "auth_facts"]

_SSHD = (
    (re.compile(r"Failed (?P<method>\S+) for (?:invalid user )?(?P<user>\S+) from (?P<ip>\S+) port (?P<port>\d+)"), "auth.failed", "failure"),
    (re.compile(r"Accepted (?P<method>\S+) for (?P<user>\S+) from (?P<ip>\S+) port (?P<port>\d+)"), "auth.succeeded", "success"),
    (re.compile(r"Invalid user (?P<user>\S*) from (?P<ip>\S+)(?: port (?P<port>\d+))?"), "auth.failed", "failure"),
)
_SUDO = re.compile(r"^\s*(?P<user>\S+) : (?:(?P<problem>[^;]*?) ; )?TTY=\S+ ; PWD=\S+ ; USER=(?P<target>\S+) ; COMMAND=(?P<command>.*)$")


@dataclass(slots=True)
class AuthFacts:
    """What an authentication line says, as Event fields."""

    type: str
    title: str
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)


def auth_facts(app_name: str, message: str) -> AuthFacts | None:
    """The ``auth.*`` type and context groups of an sshd or sudo message, else ``None``."""
    app = app_name.rsplit("/", 1)[-1].lower()
    if app == "sshd":
        for pattern, etype, outcome in _SSHD:
            m = pattern.search(message)
            if m:
                network: dict[str, Any] = {"src_ip": m.group("ip"), "protocol": "ssh"}
                if m.group("port"):
                    network["src_port"] = int(m.group("port"))
                verb = "Failed" if outcome == "failure" else "Accepted"
                return AuthFacts(etype, f"{verb} SSH login for {m.group('user')} from {m.group('ip')}",
                                 {"actor": {"user": m.group("user")}, "network": network,
                                  "outcome": {"name": outcome, "original": message.strip()[:120]}})
    if app == "sudo":
        m = _SUDO.match(message)
        if m:
            problem = (m.group("problem") or "").strip()
            outcome = "failure" if problem else "success"
            return AuthFacts("auth.sudo", f"sudo by {m.group('user')} as {m.group('target')}: {m.group('command')[:80]}",
                             {"actor": {"user": m.group("user")},
                              "outcome": {"name": outcome, "original": problem or "allowed"},
                              "process": _sudo_process(m.group("command"), m.group("target"))})
    return None


def _sudo_process(command: str, target: str) -> dict[str, Any]:
    """The command sudo ran: its program (as written), the whole command line, the user it ran as."""
    program = command.split(" ", 1)[0]
    process: dict[str, Any] = {"name": program, "command_line": command.strip(), "user": target}
    if program.startswith("/"):
        process["path"] = program
    return process
