"""Build step: the per-event modules of the hot path compiled to C with mypyc, where possible.

Everything else about the package is in ``pyproject.toml``. The modules below are plain,
fully typed Python; mypyc (part of mypy, the type checker) turns each into a C extension
that runs the same code 1.3-1.4× as fast (docs/hot-path.md, section 17). Black ships
its wheels the same way. The ``.py`` files stay the source of truth:

- no C compiler, no Python headers, or ``SIEMRELAY_PURE_PYTHON=1``: the package installs
  as pure Python and behaves the same, only slower (:class:`AllOrNothing`);
- an editable install (``pip install -e .``, what ``tests/run.sh`` and
  ``packaging/run-local.sh`` do) builds the extensions next to their sources; after editing
  one of these modules, install again (the test suite refuses a stale extension:
  ``tests/conftest.py``).

A module is listed (in ``agent/compiled.py``, which also holds the switch back to the
sources at run time) only when its per-event work is measured to matter and mypyc
compiles it without changing what it does (the whole suite runs on the compiled build).
"""

from __future__ import annotations

import os
import runpy
import sys

from setuptools import setup  # type: ignore[import-untyped]
from setuptools.command.build_ext import build_ext  # type: ignore[import-untyped]

#: ``agent/compiled.py``, run as a plain file (nothing is installed yet): the modules to compile
#: and the switch that asks for the sources, the same the agent reads at run time
_COMPILED = runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "agent", "compiled.py"))
HOT_PATH_MODULES = [name.replace(".", "/") + ".py" for name in _COMPILED["HOT_PATH_MODULES"]]


def _extensions() -> list[object]:
    if _COMPILED["pure_requested"]():
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:  # a build without the build requirements (e.g. --no-build-isolation)
        print("siemrelay: mypyc is not installed; installing the pure-Python modules", file=sys.stderr)
        return []
    # third-party packages are not installed in pip's isolated build environment: their
    # types are read as Any, which compiles to the same generic calls the interpreter makes
    try:
        extensions = mypycify(["--ignore-missing-imports", *HOT_PATH_MODULES], opt_level="3", debug_level="1")
    except (Exception, SystemExit) as exc:  # mypy found a type error (it exits): never fail the install for it
        print(f"siemrelay: the hot path was not compiled ({exc!r}); installing the pure-Python modules",
              file=sys.stderr)
        return []
    return list(extensions)


class AllOrNothing(build_ext):  # type: ignore[misc]
    """Builds the compiled modules together or not at all.

    mypyc makes a shared library and a small extension per module that imports it: were the
    library to fail (no compiler, no headers, a compiler that warns where mypyc's ``-Werror``
    refuses) and a module's extension to build, that module would not import. On any failure
    this removes what was built, so the sources are used, and the install goes on."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # CCompilerError, LinkError, a missing compiler: never fail the install
            for ext in self.extensions:
                built = self.get_ext_fullpath(ext.name)
                if os.path.exists(built):
                    os.remove(built)
            print(f"siemrelay: the hot path was not compiled ({exc}); installing the pure-Python modules",
                  file=sys.stderr)


setup(ext_modules=_extensions(), cmdclass={"build_ext": AllOrNothing})
