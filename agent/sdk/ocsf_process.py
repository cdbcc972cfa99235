"""OCSF Process Activity (1007, System Activity): a program was launched, ended, injected into.

An EDR's process events and a sudo command are what a SOC hunts with ("who ran what, as
whom, on which host"); as Base Events their process would sit under ``unmapped`` where
no Security Lake query finds it. An event is a process event when its type says so
(``process.*``, e.g. ``process.started`` from the JSON decoder's ``type_map``) or when
it is a sudo command (``auth.sudo``: a command run as another user).

The ``process`` group's keys map to OCSF's process object: ``name``, ``pid``,
``command_line`` (``cmd_line``), ``path`` (``file``), ``user`` (the account it runs as),
``parent_pid`` (``parent_process.pid``). OCSF wants a ``pid`` or a ``uid``; a process
without a pid is identified by the event's id. The rendering is a pure function.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from agent.model import Event

__all__ = ["is_process_event", "process_activity", "PROCESS_ACTIVITY"]

#: the verb of a ``process.*`` type → OCSF activity (id, name)
PROCESS_ACTIVITY: dict[str, tuple[int, str]] = {
    "started": (1, "Launch"), "launched": (1, "Launch"), "created": (1, "Launch"), "exec": (1, "Launch"),
    "executed": (1, "Launch"), "terminated": (2, "Terminate"), "stopped": (2, "Terminate"), "exited": (2, "Terminate"),
    "killed": (2, "Terminate"), "opened": (3, "Open"), "injected": (4, "Inject"), "set_user_id": (5, "Set User ID"),
    "setuid": (5, "Set User ID"),
}


def is_process_event(event: Event) -> bool:
    """True when ``event`` renders as Process Activity: a ``process.*`` type or a sudo command."""
    return event.type.split(".", 1)[0] == "process" or event.type == "auth.sudo"


def _s(value: object) -> str | None:
    if value is None or isinstance(value, (dict, list, bool)) or value == "":
        return None
    return str(value)


def _pid(value: object) -> int | None:
    """A process id OCSF's integer accepts (non-negative, JSON-safe), from a number or digits."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
        return None
    return value


def _basename(path: str) -> str:
    """The file name of a POSIX or Windows path (EDRs send both)."""
    return re.split(r"[\\/]", path.rstrip("\\/"))[-1] or path


def _process(event: Event, group: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    name, path = _s(group.get("name")), _s(group.get("path"))
    if name or path:
        out["name"] = name or _basename(path or "")
    pid = _pid(group.get("pid"))
    if pid is not None:
        out["pid"] = pid
    else:
        out["uid"] = event.id  # OCSF wants a pid or a uid: this launch is what the event is about
    if _s(group.get("command_line")):
        out["cmd_line"] = str(group["command_line"])
    if path:
        out["file"] = {"name": _basename(path), "path": path, "type_id": 1}
    if _s(group.get("user")):
        out["user"] = {"name": str(group["user"])}
    parent = _pid(group.get("parent_pid"))
    if parent is not None:
        out["parent_process"] = {"pid": parent}
    return out


def _device(event: Event) -> dict[str, Any]:
    """The host the process ran on: the reporting device, else the asset, else the source."""
    device = event.device if isinstance(event.device, dict) else {}
    asset = event.asset if isinstance(event.asset, dict) else {}
    host = _s(device.get("hostname")) or _s(asset.get("host")) or _s(asset.get("hostname"))
    out: dict[str, Any] = {"type_id": 0, "type": "Unknown", "name": host or event.source or "unknown"}
    if host:
        out["hostname"] = host
    return out


def process_activity(event: Event, out: dict[str, Any], user: dict[str, Any]) -> tuple[int, str]:
    """Fill a Process Activity's ``actor``, ``process``, ``device`` and status; return its activity.

    :param user: the OCSF user who acted (from the event's ``actor`` group).
    """
    group = event.process if isinstance(event.process, dict) else {}
    out["actor"] = {"user": user}
    out["process"] = _process(event, group)
    out["device"] = _device(event)
    outcome = _s((event.outcome or {}).get("name")) if isinstance(event.outcome, dict) else None
    if outcome in ("success", "failure"):
        out["status_id"], out["status"] = (1, "Success") if outcome == "success" else (2, "Failure")
    verb = event.type.rsplit(".", 1)[-1] if event.type.startswith("process.") else ""
    if event.type == "auth.sudo":
        return 1, "Launch"
    return PROCESS_ACTIVITY.get(verb, (99, verb or "Other"))
