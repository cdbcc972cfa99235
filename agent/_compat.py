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

Since the plugin SDK (0.2) the code two built-in plugins shared lives in :mod:`agent.sdk`,
and two admin parts moved into the packages they belong to. Their old full paths
(``plugins.out_syslog.header``, ``agent.admin.lifecycle``...) are listed in
:data:`MOVED_PATHS` and served the same way; the finder is installed by ``import agent``,
which every built-in plugin's package runs before Python looks for its old submodule.
``plugins.out_slack.digest`` also offers :func:`apply_digest_batching`, the in-place
form its callers used, on top of the pure :func:`agent.sdk.digest.digest_batching`.

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
from typing import Any, Callable, Mapping, Sequence

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


#: old full module path -> its home since the plugin SDK moved shared plugin code into ``agent.sdk``
MOVED_PATHS: dict[str, str] = {
    "plugins.out_syslog.header": "agent.sdk.syslog_header", "plugins.out_syslog.socket_sink": "agent.sdk.socket_sink",
    "plugins.out_slack.chat": "agent.sdk.chat_sink", "plugins.out_file.encoder": "agent.sdk.json_lines",
    "plugins.out_nats.options": "agent.sdk.nats_options", "plugins.out_nats.connection": "agent.sdk.nats_connection",
    "plugins.dec_cef.parser": "agent.sdk.cef_parser",
    "agent.admin.config": "agent.config.admin", "agent.admin.lifecycle": "agent.engine.lifecycle",
}


def apply_digest_batching(config: dict[str, Any], single_defaults: Mapping[str, Any]) -> None:
    """The old in-place form of :func:`agent.sdk.digest.digest_batching`: sets ``config["batch"]``."""
    from agent.sdk.digest import digest_batching

    config["batch"] = digest_batching(config, single_defaults)["batch"]


#: old full module path -> (the modules its public names now live in, names only the old path offers)
FACADES: dict[str, tuple[tuple[str, ...], dict[str, Callable[..., Any]]]] = {
    "plugins.out_slack.digest": (("agent.sdk.digest",), {"apply_digest_batching": apply_digest_batching}),
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

    def __init__(self, new_names: tuple[str, ...], extra: Mapping[str, Callable[..., Any]] | None = None) -> None:
        self.new_names = new_names
        self.extra = dict(extra or {})

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        verb = "was split into" if len(self.new_names) > 1 else "moved to"
        warnings.warn(f"{spec.name} {verb} {', '.join(self.new_names)}; the old path goes away in the next release",
                      DeprecationWarning, stacklevel=8)
        return None  # the default module object, filled by exec_module

    def exec_module(self, module: ModuleType) -> None:
        names: list[str] = []
        for new_name in self.new_names:
            part = importlib.import_module(new_name)
            public = getattr(part, "__all__", [n for n in vars(part) if not n.startswith("_")])
            for name in public:
                setattr(module, name, getattr(part, name))
                names.append(name)
        for name, value in self.extra.items():
            setattr(module, name, value)
            names.append(name)
        module.__all__ = names  # type: ignore[attr-defined]


class MovedModuleFinder(importlib.abc.MetaPathFinder):
    """Finds ``agent.<old>`` for every entry of :data:`MOVED` and :data:`SPLIT`, and the full paths of
    :data:`MOVED_PATHS` and :data:`FACADES`, and nothing else."""

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname in MOVED_PATHS:
            return importlib.machinery.ModuleSpec(fullname, _AliasLoader(MOVED_PATHS[fullname]))
        if fullname in FACADES:
            parts, extra = FACADES[fullname]
            return importlib.machinery.ModuleSpec(fullname, _SplitLoader(parts, extra))
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
