"""A parameter typed exactly ``Any`` says why, on its own line: ``# Any: <reason>``.

JSON values take :data:`agent.sdk.JsonValue`, configuration sections
:data:`agent.sdk.ConfigDict`, and a function that accepts anything and narrows it with
``isinstance`` takes ``object``; ``Any`` switches mypy off for the parameter, so it is
kept for what cannot be named (an untyped library's object, keywords passed on to
``requests``) and the comment tells the next reader which case it is.

Read from the syntax trees and the comment tokens of every module in ``agent/`` and
``plugins/`` (parameters, ``*args`` and ``**kwargs``; ``Any``, ``typing.Any`` or the
string ``"Any"``). The comment must sit on the line where the annotation is.
"""

from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

import pytest

from tests.conftest import ROOT

#: Modules being rewritten on other branches, with the bare ``Any`` parameters they still
#: have: the check allows at most that many there, so the number only goes down.
PENDING: dict[str, int] = {}

REASON = "# Any:"


def _is_any(node: ast.expr) -> bool:
    if isinstance(node, ast.Name):
        return node.id == "Any"
    if isinstance(node, ast.Attribute):
        return node.attr == "Any" and isinstance(node.value, ast.Name) and node.value.id == "typing"
    return isinstance(node, ast.Constant) and node.value == "Any"


def _reasons(source: str) -> dict[int, str]:
    """Line -> the text after ``# Any:`` in that line's comment (comments only, not strings)."""
    found: dict[int, str] = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT and REASON in tok.string:
            found[tok.start[0]] = tok.string.split(REASON, 1)[1].strip()
    return found


def unexplained_any(source: str, where: str) -> list[str]:
    """``where:line function(parameter)`` for each parameter typed exactly ``Any`` without a reason on its line."""
    reasons = _reasons(source)
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        args = node.args
        for param in [*args.posonlyargs, *args.args, *args.kwonlyargs, *(a for a in (args.vararg, args.kwarg) if a)]:
            if param.annotation is not None and _is_any(param.annotation) and not reasons.get(param.annotation.lineno):
                name = getattr(node, "name", "lambda")
                found.append(f"{where}:{param.annotation.lineno} {name}({param.arg})")
    return found


def _modules(root: Path) -> list[Path]:
    return sorted(p for top in ("agent", "plugins") for p in (root / top).rglob("*.py"))


def test_every_parameter_typed_any_gives_its_reason() -> None:
    problems = []
    for path in _modules(ROOT):
        rel = path.relative_to(ROOT).as_posix()
        found = unexplained_any(path.read_text(encoding="utf-8"), rel)
        if len(found) > PENDING.get(rel, 0):
            problems += found
    assert problems == [], ("parameters typed Any without '# Any: <reason>' on their line (use JsonValue, ConfigDict, "
                            "object or the real type, or say why Any):\n" + "\n".join(problems))


def test_the_pending_list_names_only_modules_that_exist() -> None:
    missing = [rel for rel in PENDING if not (ROOT / rel).is_file()]
    assert missing == [], f"remove these from PENDING: {missing}"


@pytest.mark.parametrize("source,expected", [
    ("from typing import Any\ndef f(x: Any) -> None: ...\n", ["m.py:2 f(x)"]),
    ("import typing\ndef f(*a: typing.Any) -> None: ...\n", ["m.py:2 f(a)"]),
    ("def f(**kw: 'Any') -> None: ...\n", ["m.py:1 f(kw)"]),
    ("def f(x: Any) -> None:  # Any:\n    ...\n", ["m.py:1 f(x)"]),  # a marker without a reason
    ("def f(x: Any) -> None:\n    s = '# Any: in a string'\n", ["m.py:1 f(x)"]),
    ("def f(x: Any,\n      y: int) -> None:  # Any: on the wrong line\n    ...\n", ["m.py:1 f(x)"]),
    ("def f(x: Any) -> None:  # Any: an untyped library's object\n    ...\n", []),
    ("def f(x: list[Any], y: object) -> None: ...\n", []),
])
def test_the_check_finds_a_bare_any_and_accepts_a_reason(source: str, expected: list[str]) -> None:
    """The check can fail: each bare Any is reported; a reason on the annotation's line silences it."""
    assert unexplained_any(source, "m.py") == expected
