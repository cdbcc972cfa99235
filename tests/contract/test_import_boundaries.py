"""The plugin boundary holds: a built-in plugin imports the core only through ``agent.sdk``
and never another plugin, and the core imports no plugin (the plugin loader aside).

Read from the sources' syntax trees, every import counts: at the top of a module or
inside a function, absolute or relative. A built-in plugin is then exactly what a
third-party package can be, and shared code lives in the SDK where every author can use it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

#: the one core module allowed to import ``plugins``: it lists and loads the built-ins
PLUGIN_LOADER = "agent/plugins.py"


def imported_modules(source: str, module: str, is_package: bool) -> list[tuple[int, str]]:
    """``(line, absolute module name)`` of every import in ``source``, the module named ``module``."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            if node.module is None or node.level:  # `from . import x`: x may be a module of its own
                found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
    return found


def _module_name(path: Path, root: Path) -> tuple[str, bool]:
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def plugin_violations(root: Path) -> list[str]:
    """Imports in ``root/plugins`` of another plugin, or of the core other than ``agent.sdk``."""
    problems = []
    for path in sorted((root / "plugins").rglob("*.py")):
        module, is_package = _module_name(path, root)
        parts = module.split(".")
        own = ".".join(parts[:2])  # plugins.<name>
        for line, target in imported_modules(path.read_text(encoding="utf-8"), module, is_package):
            where = f"{path.relative_to(root)}:{line}"
            if target == "plugins" or target.startswith("plugins."):
                if len(parts) > 1 and target != own and not target.startswith(own + "."):
                    problems.append(f"{where} imports another plugin: {target}")
            elif (target == "agent" or target.startswith("agent.")) and not (
                    target == "agent.sdk" or target.startswith("agent.sdk.")):
                problems.append(f"{where} imports the core outside agent.sdk: {target}")
    return problems


def core_violations(root: Path) -> list[str]:
    """Imports of ``plugins`` anywhere in ``root/agent`` except the plugin loader."""
    problems = []
    for path in sorted((root / "agent").rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel == PLUGIN_LOADER:
            continue
        module, is_package = _module_name(path, root)
        for line, target in imported_modules(path.read_text(encoding="utf-8"), module, is_package):
            if target == "plugins" or target.startswith("plugins."):
                problems.append(f"{rel}:{line} imports a plugin: {target}")
    return problems


def test_no_plugin_imports_another_plugin_or_the_core_outside_the_sdk() -> None:
    assert plugin_violations(ROOT) == []


def test_the_core_imports_no_plugin() -> None:
    assert core_violations(ROOT) == []


@pytest.mark.parametrize("file,text,expected", [
    ("plugins/out_a/sink.py", "from plugins.out_b.header import FACILITIES\n",
     "plugins/out_a/sink.py:1 imports another plugin: plugins.out_b.header"),
    ("plugins/out_a/sink.py", "def f():\n    import plugins.dec_b\n",
     "plugins/out_a/sink.py:2 imports another plugin: plugins.dec_b"),
    ("plugins/out_a/sub/x.py", "from ...dec_b import parser\n",
     "plugins/out_a/sub/x.py:1 imports another plugin: plugins.dec_b"),
    ("plugins/out_a/sink.py", "from agent.model import Event\n",
     "plugins/out_a/sink.py:1 imports the core outside agent.sdk: agent.model"),
    ("agent/engine/x.py", "from plugins.out_a.sink import ASink\n",
     "agent/engine/x.py:1 imports a plugin: plugins.out_a.sink"),
    ("agent/sdk/y.py", "def f():\n    from plugins import out_a\n",
     "agent/sdk/y.py:2 imports a plugin: plugins"),
])
def test_the_checks_catch_each_kind_of_crossing(tmp_path: Path, file: str, text: str, expected: str) -> None:
    """The checks above can fail: each forbidden import, planted in a copy of the layout, is reported."""
    for pkg in ("plugins", "plugins/out_a", "plugins/out_a/sub", "agent", "agent/engine", "agent/sdk"):
        (tmp_path / pkg).mkdir(parents=True, exist_ok=True)
        (tmp_path / pkg / "__init__.py").write_text("")
    (tmp_path / "plugins/out_a/ok.py").write_text("from agent.sdk import Sink\nfrom plugins.out_a.config import X\nfrom . import config\n")
    (tmp_path / "agent/plugins.py").write_text("import plugins\n")
    (tmp_path / file).write_text(text)
    assert expected in plugin_violations(tmp_path) + core_violations(tmp_path)
    (tmp_path / file).unlink()
    assert plugin_violations(tmp_path) + core_violations(tmp_path) == []
