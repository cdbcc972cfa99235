"""Old import paths of the flat layout (before 0.2), kept working for one release.

``agent.sinks``, ``agent.delivery``, ``agent.retry``... moved into subpackages
(``agent.sdk.sink``, ``agent.sdk.outcome``, ``agent.delivery.retry``). A plugin written
against the flat layout still imports: this finder maps each old name to its new module,
returns *the same module object* (so ``isinstance`` checks and monkeypatches agree) and
warns once with :class:`DeprecationWarning` naming the new path.

A module that was split since (``agent.retry``: retry policy, circuit breaker and rate
limit; ``agent.build``: building and validating; ``agent.reload``: reload and the ingest
gate) is listed in :data:`SPLIT`: its old path gives a module holding the public names of
every part, the same objects, so ``isinstance`` checks agree (a monkeypatch through the old
path reaches only that facade, not the new modules).

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
    "worker": "delivery.worker", "flood": "delivery.flood",
    "conditions": "routing.conditions", "condops": "routing.operators", "thresholds": "routing.thresholds",
    "transforms": "routing.transforms", "routecases": "routing.cases", "schema": "config.schema",
    "docs": "config.reference", "exposure": "config.exposure", "runtime": "engine.supervisor",
    "intake": "engine.intake", "notify": "engine.notify",
    "dedup": "engine.dedup", "cli_delivery": "cli.delivery", "ops_cli": "cli.live", "routetest": "cli.routes",
}

#: old module (under ``agent.``) -> the modules its public names now live in
SPLIT: dict[str, tuple[str, ...]] = {
    "retry": ("delivery.retry", "delivery.circuit", "delivery.ratelimit"),
    "build": ("engine.build", "config.validate"),
    "reload": ("engine.reload", "engine.intake"),
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


class _SplitLoader(importlib.abc.Loader):
    """Loads an old name whose module was split: a facade module with the public names of every part."""

    def __init__(self, new_names: tuple[str, ...]) -> None:
        self.new_names = new_names

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        warnings.warn(f"{spec.name} was split into {', '.join(self.new_names)}; the old path goes away in the next "
                      "release", DeprecationWarning, stacklevel=8)
        return None  # the default module object, filled by exec_module

    def exec_module(self, module: ModuleType) -> None:
        names: list[str] = []
        for new_name in self.new_names:
            part = importlib.import_module(new_name)
            public = getattr(part, "__all__", [n for n in vars(part) if not n.startswith("_")])
            for name in public:
                setattr(module, name, getattr(part, name))
                names.append(name)
        module.__all__ = names  # type: ignore[attr-defined]


class MovedModuleFinder(importlib.abc.MetaPathFinder):
    """Finds ``agent.<old>`` for every entry of :data:`MOVED` and :data:`SPLIT`, and nothing else."""

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        prefix, _, old = fullname.partition(".")
        if prefix != "agent":
            return None
        if old in SPLIT:
            return importlib.machinery.ModuleSpec(fullname, _SplitLoader(tuple(f"agent.{n}" for n in SPLIT[old])))
        if old not in MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(f"agent.{MOVED[old]}"))


def install() -> None:
    """Put the finder on ``sys.meta_path`` once (idempotent: re-imports do not stack it)."""
    if not any(isinstance(f, MovedModuleFinder) for f in sys.meta_path):
        sys.meta_path.append(MovedModuleFinder())
