"""Operations around the supervisor's run phases: admin server, sd_notify, watchdog.

The supervisor calls :func:`started` once sources listen, :func:`stopping` when a
shutdown begins and :func:`stopped` at its very end; the reload path calls
:func:`reloading` / :func:`reloaded`. Keeping these here leaves the supervisor's
start/stop order readable and the operations pieces testable on their own.
"""

from __future__ import annotations

import time
from typing import Any

from agent.engine.api import Engine
from agent.engine.notify import WatchdogPinger, watchdog_interval
from agent.sdk.listeners import Listeners

__all__ = ["started", "stopping", "stopped", "reloading", "reloaded", "restart_admin", "healthy", "status_line"]


def healthy(sup: Engine) -> bool:
    """What the watchdog vouches for: the spool is open and every sink worker runs.

    While stopping (draining can outlast ``WatchdogSec``) the agent counts as healthy.
    """
    if sup.stopping.is_set():
        return True
    if sup.spool.closed:
        return False
    return all(w.alive for w in list(sup.workers.values()))


def status_line(sup: Engine) -> str:
    line = f"{len(sup.sources)} sources, {len(sup.sinks)} sinks"
    if sup.admin is not None:
        line += f", admin API on {sup.admin.url}"
    return line


def _start_admin(sup: Engine, listeners: Listeners | None = None) -> None:
    conf = sup.cfg.agent.get("admin") or {}
    if not conf.get("enabled"):
        sup.admin = None
        return
    from agent.admin.server import AdminServer

    def extra() -> dict[str, Any]:
        ok, at = sup.last_config_load
        return {"reloads_ok": sup.reload_counts["ok"], "reloads_failed": sup.reload_counts["failed"],
                "last_reload_ok": ok, "last_reload_at": at}

    admin = AdminServer(sup, conf, sup.cfg.state_dir, taps=sup.taps, redactor=sup.redactor, extra=extra,
                        listeners=listeners)
    admin.start()  # OSError propagates: the caller decides whether that is fatal
    sup.admin = admin


def started(sup: Engine) -> None:
    """After sources started: serve the admin API, tell systemd we are ready, start the watchdog.

    :raises OSError: the admin address cannot be bound.
    """
    sup.last_config_load = (True, time.time())  # (succeeded, when it last succeeded): for the metrics
    _start_admin(sup)
    sup.notifier.ready(f"running: {status_line(sup)}")
    interval = watchdog_interval()
    if interval and sup.notifier.enabled and sup.watchdog is None:
        sup.watchdog = WatchdogPinger(sup.notifier, interval, lambda: healthy(sup))
        sup.watchdog.start()


def stopping(sup: Engine) -> None:
    """At the start of a shutdown: tell systemd, stop serving the admin API and taps."""
    sup.notifier.stopping()
    if sup.admin is not None:
        sup.admin.stop()
        sup.admin = None


def stopped(sup: Engine) -> None:
    """At the very end of a shutdown."""
    if sup.watchdog is not None:
        sup.watchdog.stop()
        sup.watchdog = None
    sup.notifier.close()


def reloading(sup: Engine) -> None:
    sup.notifier.reloading()


def reloaded(sup: Engine, ok: bool) -> None:
    sup.reload_counts["ok" if ok else "failed"] += 1
    _, last_ok_at = sup.last_config_load
    sup.last_config_load = (ok, time.time() if ok else last_ok_at)
    sup.notifier.ready(f"running: {status_line(sup)}" + ("" if ok else "; the last reload failed, see the log"))


def restart_admin(sup: Engine) -> bool:
    """Apply a changed ``agent.admin`` block; on failure the API stays off and this says so.

    The new server takes over the old one's listening socket when the address is the
    same (as sources do), so a client polling the API is not refused meanwhile.
    """
    listeners = None
    if sup.admin is not None:
        listeners = sup.admin.listeners
        listeners.hand_over()
        sup.admin.stop()
        sup.admin = None
    try:
        _start_admin(sup, listeners)
        return True
    except (OSError, ValueError) as exc:
        sup.log.error("reload: the admin API cannot start with its new settings: {}", getattr(exc, "strerror", None) or exc)
        return False
    finally:
        if listeners is not None:
            listeners.settle()  # closes the old socket unless the new server took it again
            if sup.admin is None:  # disabled now, or failed after taking it: nothing would serve it
                listeners.close()
