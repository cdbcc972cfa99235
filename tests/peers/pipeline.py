"""The agent's delivery path in-process: YAML config → router → spool → worker → real sink.

The same functions ``siemrelay run`` uses build it (``load_config``, ``validate_config``,
``build_sinks``, ``Spool``, ``SinkWorker``), so what a test drives here is what a user
drives, minus the listener. The worker's clock and sleep are a :class:`FakeClock`, so
backoffs, ``Retry-After`` and circuit cool-downs cost no wall time while the sink still
talks to a real peer over loopback.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any, Callable

from loguru import logger

from agent.config.validate import validate_config
from agent.engine.build import build_sinks
from agent.config.loader import load_config
from agent.model import Event
from agent.plugins import load_plugins
from agent.spool.store import Spool
from agent.spool.views import DeadLetter
from agent.testing import FakeClock
from agent.delivery.worker import SinkWorker

__all__ = ["Pipeline", "HookClock"]


class HookClock(FakeClock):
    """A fake clock that runs ``hook`` after each sleep: a test brings a peer up (or
    fixes it) after the worker has waited a number of times."""

    def __init__(self) -> None:
        super().__init__()
        self.hook: Callable[[], None] | None = None

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        if self.hook is not None:
            self.hook()


class Pipeline:
    """``with Pipeline(tmp_path, yaml_text) as p: p.submit(events); p.run(); p.dead_letters()``."""

    def __init__(self, tmp_path: Path, config_text: str, *, clock: FakeClock | None = None) -> None:
        path = tmp_path / "siemrelay.yaml"
        path.write_text(textwrap.dedent(config_text).replace("{state_dir}", str(tmp_path / "state")), encoding="utf-8")
        self.cfg = validate_config(load_config(path, env={}), load_plugins(entry_points=False))
        self.clock = clock or FakeClock()
        self.sinks = build_sinks(self.cfg, lambda text: text)
        self.spool = Spool(self.cfg.state_dir)
        self.spool.open(list(self.sinks))
        self.workers = {name: SinkWorker(sink, self.spool, self.cfg.sinks[name][1], logger.bind(component="sink", name=name),
                                         clock=self.clock, wall=self.clock, sleep=self.clock.sleep)
                        for name, sink in self.sinks.items()}

    def __enter__(self) -> "Pipeline":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for sink in self.sinks.values():
            sink.close()
        self.spool.close()

    def submit(self, events: list[Event]) -> None:
        """Route each event with the configured routes and spool it, as intake does."""
        rows = []
        for event in events:
            mask = 0
            for name in self.cfg.router.route(event):
                mask |= 1 << self.spool.bit_of(name)
            rows.append((mask, event.to_json()))
        self.spool.append(rows)

    def run(self, name: str | None = None) -> SinkWorker:
        """Deliver everything queued for sink ``name`` (the only one by default), then return."""
        worker = self.workers[name or next(iter(self.workers))]
        worker.run_until_idle()
        self.spool.flush()
        return worker

    def dead_letters(self, name: str | None = None) -> list[DeadLetter]:
        return self.spool.dead_letters(name, limit=10_000)

    def history(self, name: str | None = None) -> list[dict[str, Any]]:
        """Delivery attempts, oldest first."""
        return list(reversed(self.spool.deliveries(name or next(iter(self.workers)), limit=10_000)))
