"""The core's packages import each other without a circle, and so do its modules.

The graph is computed from the source (every ``import`` statement, including the ones
inside functions and under ``TYPE_CHECKING``: an import deferred to call time is still a
dependency, and hiding a circle that way is how the last one survived). A unit is a
subpackage of ``agent`` (``agent.engine``) or a top-level module (``agent.model``); the
module graph has one node per file (a package's ``__init__`` is the package's node) and
counts only the modules an import names, not the parent packages Python runs on the way.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT


def _unit(package_dir: Path, module: str) -> str | None:
    """``agent.engine.build`` -> ``engine``; ``agent.model`` -> ``model``; ``agent`` -> ``agent``."""
    parts = module.split(".")
    if parts[0] != package_dir.name:
        return None
    return parts[1] if len(parts) > 1 else parts[0]


def _imported(package_dir: Path, path: Path) -> set[str]:
    """The absolute names of the modules ``path`` imports (``from agent import x`` counts as ``agent.x``
    when ``x`` is a submodule)."""
    rel = path.relative_to(package_dir.parent).with_suffix("").parts
    package = list(rel if path.name == "__init__.py" else rel[:-1])
    if path.name == "__init__.py":
        package = package[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                sub = package_dir.parent / Path(*module.split("."), alias.name)
                found.add(f"{module}.{alias.name}" if sub.is_dir() or sub.with_suffix(".py").exists() else module)
    return found


def import_graph(package_dir: Path) -> dict[str, set[str]]:
    """Unit -> the other units it imports."""
    graph: dict[str, set[str]] = {}
    for path in sorted(package_dir.rglob("*.py")):
        rel = path.relative_to(package_dir).with_suffix("").parts
        unit = rel[0] if len(rel) > 1 or rel[0] != "__init__" else package_dir.name
        targets = graph.setdefault(unit, set())
        for module in _imported(package_dir, path):
            other = _unit(package_dir, module)
            if other is not None and other != unit:
                targets.add(other)
    return graph


def _module_name(package_dir: Path, path: Path) -> str:
    """``agent/sdk/record.py`` -> ``agent.sdk.record``; ``agent/sdk/__init__.py`` -> ``agent.sdk``."""
    parts = path.relative_to(package_dir.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_graph(package_dir: Path) -> dict[str, set[str]]:
    """Module -> the other modules of the package it imports."""
    paths = {_module_name(package_dir, path): path for path in sorted(package_dir.rglob("*.py"))}
    return {module: {other for other in _imported(package_dir, path) if other in paths and other != module}
            for module, path in paths.items()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one unit (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_core_packages_import_each_other_without_a_circle() -> None:
    graph = import_graph(ROOT / "agent")
    found = circles(graph)
    detail = {unit: sorted(graph[unit] & set(c)) for c in found for unit in c}
    assert found == [], f"import circles between agent's packages: {found}; edges inside them: {detail}"


def test_the_core_modules_import_each_other_without_a_circle() -> None:
    graph = module_graph(ROOT / "agent")
    found = circles(graph)
    detail = {module: sorted(graph[module] & set(c)) for c in found for module in c}
    assert found == [], f"import circles between agent's modules: {found}; edges inside them: {detail}"


def test_the_module_graph_sees_type_checking_imports_and_finds_a_circle(tmp_path: Path) -> None:
    """The module check can fail: two modules of one package closed into a circle under ``TYPE_CHECKING``."""
    pkg = tmp_path / "agent"
    (pkg / "sdk").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sdk" / "__init__.py").write_text("from agent.sdk.decoder import Decoder\n")
    (pkg / "sdk" / "decoder.py").write_text("from agent.sdk.record import RawRecord\nclass Decoder: ...\n")
    (pkg / "sdk" / "record.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                           "    from agent.sdk.decoder import Decoder\n")
    graph = module_graph(pkg)
    assert graph["agent.sdk"] == {"agent.sdk.decoder"}
    assert circles(graph) == [["agent.sdk.decoder", "agent.sdk.record"]]
    (pkg / "sdk" / "record.py").write_text("class RawRecord: ...\n")
    assert circles(module_graph(pkg)) == []


def test_the_graph_sees_deferred_imports_and_finds_a_circle(tmp_path: Path) -> None:
    """The check itself can fail: a circle closed only by an import inside a function is found."""
    pkg = tmp_path / "agent"
    for sub in ("sdk", "config"):
        (pkg / sub).mkdir(parents=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "config" / "schema.py").write_text("from agent.sdk import net\n")
    (pkg / "sdk" / "net.py").write_text("X = 1\n")
    (pkg / "sdk" / "__init__.py").write_text("def compose():\n    from agent.config.schema import X\n    return X\n")
    graph = import_graph(pkg)
    assert graph["config"] == {"sdk"} and graph["sdk"] == {"config"}
    assert circles(graph) == [["config", "sdk"]]
