"""The wheel, as `pip install siemrelay` gets it: what it carries, and that what it carries works.

The wheel is built from a copy of this checkout (so the build leaves nothing behind) and
installed with pip into a directory of its own; the installed agent then runs from there,
with nothing of the checkout on its path.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT

SOURCES = ("agent", "plugins", "conf", "pyproject.toml", "README.md", "LICENSE", "CHANGELOG.md")


def _run(*cmd: str, cwd: Path | None = None, env: dict[str, str] | None = None,
         timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, src / name)
    out = tmp_path_factory.mktemp("wheelhouse")
    # verbose: the build backend's own output (its warnings among it) is kept for the test below
    res = _run(sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--no-build-isolation", "-w", str(out), str(src))
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    (out / "build.log").write_text(res.stdout + res.stderr)
    (built,) = out.glob("siemrelay-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An environment whose ``agent`` is the installed wheel (dependencies from this interpreter)."""
    site = tmp_path_factory.mktemp("site")
    res = _run(sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel))
    assert res.returncode == 0, res.stderr[-3000:]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "SIEMRELAY"))}
    # the wheel first, then this interpreter's site-packages for the dependencies; run with -S so
    # no .pth file (this checkout's editable install among them) can lend a module the wheel lacks
    env["PYTHONPATH"] = os.pathsep.join([str(site), *(p for p in sys.path if p.endswith("site-packages"))])
    return env


def _py(*args: str) -> tuple[str, ...]:
    return (sys.executable, "-S", *args)


def test_the_wheel_builds_without_a_setuptools_warning(wheel: Path):
    # e.g. "SetuptoolsDeprecationWarning: `project.license` as a TOML table is deprecated", or
    # "_Warning: Package 'agent.conf' is absent from the `packages` configuration": each says a
    # coming setuptools will build this project differently, or refuse to
    log = (wheel.parent / "build.log").read_text()
    assert "running bdist_wheel" in log  # the backend's output is there to look at
    warnings = [line.strip() for line in log.splitlines() if re.search(r"\w*Warning: ", line)]
    assert warnings == []


def test_wheel_carries_configuration_examples_routes_license_and_no_pytest11(wheel: Path):
    with zipfile.ZipFile(wheel) as whl:
        names = set(whl.namelist())
        dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        entry_points = whl.read(f"{dist_info}/entry_points.txt").decode()
    shipped = {p.relative_to(ROOT).as_posix() for p in (ROOT / "conf").rglob("*.yaml")}
    assert shipped >= {"conf/siemrelay.yaml", "conf/routing-tests.yaml"}
    assert any(n.startswith("conf/examples/") for n in shipped) and any(n.startswith("conf/routes.d/") for n in shipped)
    missing = sorted(f"agent/{name}" for name in shipped if f"agent/{name}" not in names)
    assert not missing, missing
    modules = {p.relative_to(ROOT).as_posix() for top in ("agent", "plugins") for p in (ROOT / top).rglob("*.py")}
    assert not sorted(modules - names), sorted(modules - names)[:20]  # every module of the agent and its plugins
    assert f"{dist_info}/licenses/LICENSE" in names or f"{dist_info}/LICENSE" in names
    assert "[console_scripts]" in entry_points and "siemrelay = agent.cli.main:main" in entry_points
    # the pytest plugin is opt-in: no pytest11 entry point loads it into every pytest run
    assert "pytest11" not in entry_points
    assert not any(n.startswith(("conf/", "tests/")) for n in names)  # nothing lands at the top of site-packages


def test_installed_wheel_runs_its_own_configuration_and_route_tests(installed: dict[str, str], tmp_path: Path):
    # where a pip-installed agent finds its samples, and that it is the wheel's agent, not this checkout's
    res = _run(*_py("-c", "import importlib.resources, agent; "
               "print(agent.__file__); print(importlib.resources.files('agent') / 'conf')"), env=installed, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    agent_file, conf = res.stdout.split()
    assert agent_file.startswith(installed["PYTHONPATH"].split(os.pathsep)[0]), agent_file
    assert not Path(conf).is_symlink() and (Path(conf) / "routes.d").is_dir()
    # the default configuration validates, and its routes.d rules pass the shipped route tests
    res = _run(*_py("-m", "agent", "validate", "-c", f"{conf}/siemrelay.yaml"), env=installed, cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    res = _run(*_py("-m", "agent", "test", "-c", f"{conf}/siemrelay.yaml"), env=installed, cwd=tmp_path)
    assert res.returncode == 0 and " 0 failed" in res.stdout, res.stdout + res.stderr
    # (every example's validity is tested from the checkout; here, that each one arrived whole)
    for example in (ROOT / "conf" / "examples").glob("*.yaml"):
        assert (Path(conf) / "examples" / example.name).read_bytes() == example.read_bytes(), example.name


def test_pytest_plugin_loads_only_when_asked(tmp_path: Path):
    # what pytest auto-loads is every installed pytest11 entry point: siemrelay has none
    loaded = [ep for ep in importlib.metadata.entry_points(group="pytest11")
              if ep.value.startswith("agent.") or (ep.dist is not None and ep.dist.name == "siemrelay")]
    assert loaded == []
    (tmp_path / "pytest.ini").write_text("[pytest]\n")  # its own rootdir: none of this repository's options
    (tmp_path / "test_uses_fixtures.py").write_text(
        "def test_event(event_factory, fake_clock):\n"
        "    assert event_factory(title='x').title == 'x'\n")
    # (other installed plugins are not auto-loaded, which only makes the run quicker)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")} | {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    plain = _run(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=tmp_path, env=env)
    assert plain.returncode == 1 and "fixture 'event_factory' not found" in plain.stdout, plain.stdout[-2000:]
    opted = _run(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "agent.testing.pytest_plugin",
                 cwd=tmp_path, env=env)
    assert opted.returncode == 0 and "1 passed" in opted.stdout, opted.stdout[-2000:]


def test_without_a_c_compiler_the_package_installs_its_sources_and_renders_the_same(tmp_path: Path):
    """setup.py compiles the syslog sink's rendering where it can (agent/compiled.py); where
    the compiler fails it must still build, with every module as its source, not half of them
    (mypyc's shared library and its per-module extensions go together or not at all)."""
    from agent.compiled import HOT_PATH_MODULES

    src = tmp_path / "src"
    src.mkdir()
    for name in (*SOURCES, "setup.py"):
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", "*.so"))
        else:
            shutil.copy2(path, src / name)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "SIEMRELAY"))}
    env["CC"] = "/bin/false"  # a compiler that fails every file
    out = tmp_path / "wheelhouse"
    # pip's isolated build, as `pip install siemrelay` from the sources does: it installs mypy for setup.py
    res = _run(sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "-w", str(out), str(src), env=env, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "siemrelay: the hot path was not compiled" in res.stdout + res.stderr
    (built,) = out.glob("siemrelay-*.whl")
    with zipfile.ZipFile(built) as whl:
        names = whl.namelist()
    assert [n for n in names if n.endswith(".so")] == []
    assert {m.replace(".", "/") + ".py" for m in HOT_PATH_MODULES} <= set(names)
    site = tmp_path / "site"
    res = _run(sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(built))
    assert res.returncode == 0, res.stderr[-3000:]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "SIEMRELAY"))}
    env["PYTHONPATH"] = os.pathsep.join([str(site), *(p for p in sys.path if p.endswith("site-packages"))])
    code = ("import json, agent.compiled as c; from plugins.out_syslog.encoder import SyslogFormat, message_head; "
            "print(json.dumps([c.compiled_state(), message_head(SyslogFormat(hostname='h'), "
            "{'severity_id': 4, 'time': '2026-12-08T00:00:00.000Z', 'type': 'finding.new'}).decode()]))")
    res = _run(*_py("-c", code), env=env, cwd=tmp_path)  # not the checkout, whose modules are compiled
    assert res.returncode == 0, res.stderr[-3000:]
    from plugins.out_syslog.encoder import SyslogFormat, message_head

    state, head = json.loads(res.stdout)
    assert state == dict.fromkeys(HOT_PATH_MODULES, False)
    assert head == message_head(SyslogFormat(hostname="h"), {"severity_id": 4, "time": "2026-12-08T00:00:00.000Z",
                                                             "type": "finding.new"}).decode()
