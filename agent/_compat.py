"""Old import paths of the flat layout (before 0.2), kept working for one release.

``agent.sinks``, ``agent.delivery``, ``agent.retry``... moved into subpackages
(``agent.sdk.sink``, ``agent.sdk.outcome``, ``agent.delivery.retry``). A plugin written
against the flat layout still imports: this finder maps each old name to its new module,
returns *the same module object* (so ``isinstance`` checks and monkeypatches agree) and
warns once with :class:`DeprecationWarning` naming the new path.

Names that are now packages (``agent.delivery``, ``agent.routing``, ``agent.config``,
``agent.testing``, ``agent.spool``) cannot be aliased as modules; their packages
re-export what the old module offered where that is public (``agent.testing``), and the
plugin contract itself is in :mod:`agent.sdk`.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from types import ModuleType
from typing import Sequence

#: old module (under ``agent.``) -> its home since 0.2
MOVED: dict[str, str] = {
    "decoders": "sdk.decoder", "records": "sdk.record", "sinks": "sdk.sink", "sources": "sdk.source",
    "httpclient": "sdk.httpclient", "proxy": "sdk.proxy", "oauth": "sdk.oauth",
    "oauth_google": "sdk.oauth_google", "tls": "sdk.tls", "net": "sdk.net", "sockets": "sdk.sockets",
    "render": "sdk.render", "ocsf": "sdk.ocsf", "ecs": "sdk.ecs", "otlp": "sdk.otlp",
    "normalize": "sdk.normalize", "hookspecs": "sdk.hookspecs", "cefdict": "sdk.cefdict", "vocab": "sdk.vocab",
    "wire_text": "sdk.wire_text", "cloudapi": "sdk.cloudapi", "fswatch": "sdk.fswatch",
    "eventpaths": "sdk.eventpaths", "receivers": "testing.receivers", "conformance": "testing.conformance",
    "conformance_checks": "testing.checks", "pytest_plugin": "testing.pytest_plugin",
    "spool_ops": "spool.writes", "spool_admin": "spool.admin", "spool_db": "spool.db",
    "worker": "delivery.worker", "retry": "delivery.retry", "flood": "delivery.flood",
    "conditions": "routing.conditions", "condops": "routing.operators", "thresholds": "routing.thresholds",
    "transforms": "routing.transforms", "routecases": "routing.cases", "schema": "config.schema",
    "docs": "config.reference", "exposure": "config.exposure", "runtime": "engine.supervisor",
    "reload": "engine.reload", "intake": "engine.intake", "build": "engine.build", "notify": "engine.notify",
    "dedup": "engine.dedup", "cli_delivery": "cli.delivery", "ops_cli": "cli.ops", "routetest": "cli.routes",
}


class _AliasLoader(importlib.abc.Loader):
    """Loads an old name by importing the new module and handing back that very object."""

    def __init__(self, new_name: str) -> None:
        self.new_name = new_name

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        warnings.warn(f"{spec.name} moved to {self.new_name}; the old path goes away in the next release",
                      DeprecationWarning, stacklevel=8)
        return importlib.import_module(self.new_name)

    def exec_module(self, module: ModuleType) -> None:
        """The new module is already executed; re-running it would reset its state."""


class MovedModuleFinder(importlib.abc.MetaPathFinder):
    """Finds ``agent.<old>`` for every entry of :data:`MOVED`, and nothing else."""

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        prefix, _, old = fullname.partition(".")
        if prefix != "agent" or old not in MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(f"agent.{MOVED[old]}"))


def install() -> None:
    """Put the finder on ``sys.meta_path`` once (idempotent: re-imports do not stack it)."""
    if not any(isinstance(f, MovedModuleFinder) for f in sys.meta_path):
        sys.meta_path.append(MovedModuleFinder())
