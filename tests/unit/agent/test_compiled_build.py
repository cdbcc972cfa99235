"""The hot path's modules compiled with mypyc (setup.py, agent/compiled.py): all or none, and the same behaviour.

``setup.py`` never fails an install for a module mypyc cannot compile (it installs the
sources instead), so a module that silently stopped compiling would only show as a slower
agent: the first test makes it a failure wherever a C compiler and the Python headers are
there (tests/run.sh installs both). The others hold the switch back to the sources, and
the tests of every compiled module pass on the sources too, so the pure-Python install
(no compiler) stays proven while the suite runs on the compiled one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from agent.compiled import HOT_PATH_MODULES, PURE_ENV, compiled_state, pure_requested, summary

ROOT = Path(__file__).resolve().parents[3]

#: the test files of the compiled modules (each module's own tests, and the property tests
#: that hold their bytes to frozen references and real parsers)
_THEIR_TESTS = [
    "tests/unit/plugins/dec_syslog/test_dec_syslog.py",
    "tests/unit/plugins/out_syslog",
]


def _compiler_available() -> bool:
    include = sysconfig.get_paths()["include"]
    return shutil.which("cc") is not None and (Path(include) / "Python.h").exists()


def _state_in(environ: dict[str, str]) -> dict[str, bool]:
    """compiled_state() in a fresh interpreter with ``environ``."""
    code = "import json, agent.compiled as c; print(json.dumps(c.compiled_state()))"
    out = subprocess.run([sys.executable, "-c", code], env=environ, cwd=ROOT, capture_output=True, text=True,
                         timeout=60, check=True).stdout
    state: dict[str, bool] = json.loads(out)
    return state


def test_every_hot_path_module_is_compiled_where_a_compiler_is_there() -> None:
    state = compiled_state()
    assert set(state) == set(HOT_PATH_MODULES)
    if pure_requested():
        assert not any(state.values()), state
    elif _compiler_available():
        assert all(state.values()), f"not compiled (see pip's output of the install for why): " \
                                    f"{sorted(n for n, c in state.items() if not c)}"
    else:
        assert not any(state.values()), "a partial build"


def test_the_switch_loads_every_module_from_its_source() -> None:
    env = {k: v for k, v in os.environ.items() if k != PURE_ENV}
    assert _state_in({**env, PURE_ENV: "1"}) == dict.fromkeys(HOT_PATH_MODULES, False)
    assert _state_in({**env, PURE_ENV: "0"}) == compiled_state()  # "0" means no


def test_the_compiled_modules_tests_pass_on_their_sources() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_"))}
    env[PURE_ENV] = "1"
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-p", "no:xdist",
                           *_THEIR_TESTS], env=env, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout


def test_the_start_up_line_says_how_the_loaded_modules_run() -> None:
    from importlib.machinery import EXTENSION_SUFFIXES
    from types import ModuleType

    def module(name: str, file: str) -> ModuleType:
        m = ModuleType(name)
        m.__file__ = file
        return m

    first, second = HOT_PATH_MODULES[:2]
    built = module(first, f"/x/segments{EXTENSION_SUFFIXES[0]}")
    source = module(second, "/x/native_head.py")
    assert summary({"json": module("json", "/x/json.py")}) == "compiled modules not used"
    assert summary({first: built}) == "compiled"
    assert summary({first: built, second: source}) == "1 of 2 compiled"
    assert summary({second: source}).startswith("pure Python")
