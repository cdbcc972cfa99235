"""The hot path's modules a build compiles to C (mypyc), and the switch back to their sources.

``setup.py`` compiles the modules named here where a C compiler and the Python headers are
available; each then loads from an extension module next to its ``.py`` and runs the
same code 1.3-1.4× as fast (docs/hot-path.md, section 17).
Where nothing could be compiled the ``.py`` files are used and behave the same.

``SIEMRELAY_PURE_PYTHON=1`` in the environment loads them from their sources even where
they were compiled (a Python traceback line by line, a debugger, a suspected difference):
:mod:`agent` calls :func:`use_sources` when it is imported, so the preparing child, which
inherits the environment, does the same. At build time the same variable skips compiling.

Only standard-library imports here: ``setup.py`` reads :data:`HOT_PATH_MODULES` by running
this file before anything is installed.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import os
import sys
from types import ModuleType
from typing import Mapping, Sequence

__all__ = ["HOT_PATH_MODULES", "PURE_ENV", "use_sources", "pure_requested", "loaded_from_extension", "compiled_state",
           "summary"]

#: the modules compiled, in the order an event goes through them: the syslog sink's per-event
#: rendering, Python's own string and dict work, 1.3-1.4× as fast compiled. Modules whose time
#: goes to calls into interpreted code (the json decoder builds each Event through the
#: dataclass's __init__) or into C already (the tail's line cutting is bytes.split, the stored
#: head is orjson's parse, a segment's offsets are array and itertools) measured no faster
#: compiled and are left out (``bench/compiled_vs_pure.py``; docs/hot-path.md, section 17)
HOT_PATH_MODULES: tuple[str, ...] = (
    "agent.sdk.syslog_header",  # the RFC 5424 header
    "plugins.out_syslog.encoder",  # structured data, heads, frames
)

#: the environment variable that asks for the sources (any value but empty or ``0``)
PURE_ENV = "SIEMRELAY_PURE_PYTHON"


def pure_requested(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether ``SIEMRELAY_PURE_PYTHON`` asks for the sources."""
    return environ.get(PURE_ENV, "") not in ("", "0")


class _SourcesFirst:
    """Finds the hot path's modules as ``.py`` files before the path's finders see their
    extensions (a meta path finder: ``find_spec`` is all the import system asks of one, so
    ``importlib.abc`` is not imported at every start for a switch that is rarely on)."""

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in HOT_PATH_MODULES or not path:
            return None
        import importlib.util

        leaf = fullname.rpartition(".")[2]
        for entry in path:
            source = os.path.join(entry, leaf + ".py")
            if os.path.isfile(source):
                return importlib.util.spec_from_file_location(fullname, source)
        return None


def use_sources() -> None:
    """Load the hot path's modules from their ``.py`` files from now on (idempotent).

    Modules already imported stay as they are: :mod:`agent` calls this first thing.
    """
    if not any(isinstance(finder, _SourcesFirst) for finder in sys.meta_path):
        sys.meta_path.insert(0, _SourcesFirst())


def loaded_from_extension(module: ModuleType) -> bool:
    """Whether ``module`` runs from a compiled extension (not its ``.py``)."""
    origin = getattr(module, "__file__", None) or ""
    return origin.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))


def compiled_state() -> dict[str, bool]:
    """Per hot-path module, whether it runs compiled (imports each: for diagnostics, not the hot path)."""
    return {name: loaded_from_extension(importlib.import_module(name)) for name in HOT_PATH_MODULES}


def summary(modules: Mapping[str, ModuleType] | None = None) -> str:
    """How the hot path's modules loaded so far run, for the agent's start-up line
    (``compiled``, ``pure Python``, ``1 of 2 compiled``, or ``compiled modules not used`` when the
    configuration needs none of them: no syslog sink); imports nothing.

    :param modules: default ``sys.modules``.
    """
    loaded = [m for name, m in (sys.modules if modules is None else modules).items() if name in HOT_PATH_MODULES]
    done = sum(map(loaded_from_extension, loaded))
    if not loaded:
        return "compiled modules not used"
    if done == len(loaded):
        return "compiled"
    if not done:
        return "pure Python" + (f" ({PURE_ENV})" if pure_requested() else "")
    return f"{done} of {len(loaded)} compiled"
