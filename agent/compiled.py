"""The hot path's modules a build compiles to C (mypyc), and the switch back to their sources.

``setup.py`` compiles the modules named here where a C compiler and the Python headers are
available; each then loads from an extension module next to its ``.py`` and runs the
same code about twice as fast where it is plain Python work (docs/hot-path.md, section 17).
Where nothing could be compiled the ``.py`` files are used and behave the same.

``SIEMRELAY_PURE_PYTHON=1`` in the environment loads them from their sources even where
they were compiled (a Python traceback line by line, a debugger, a suspected difference):
:mod:`agent` calls :func:`use_sources` when it is imported, so the preparing child, which
inherits the environment, does the same. At build time the same variable skips compiling.

Only standard-library imports here: ``setup.py`` reads :data:`HOT_PATH_MODULES` by running
this file before anything is installed.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
from types import ModuleType
from typing import Mapping, Sequence

__all__ = ["HOT_PATH_MODULES", "PURE_ENV", "use_sources", "pure_requested", "loaded_from_extension", "compiled_state"]

#: the modules compiled, in the order an event goes through them
HOT_PATH_MODULES: tuple[str, ...] = (
    "plugins.in_tail.lines",  # a chunk of a file cut into lines
    "plugins.dec_json.shapes",  # the json decoder's field plan per payload shape
    "plugins.dec_json.decoder",  # payload → Event
    "agent.spool.segments",  # a commit's events cut into segments
    "agent.sdk.native_head",  # the stored JSON's head, for the sink
    "agent.sdk.syslog_header",  # the RFC 5424 header
    "plugins.out_syslog.encoder",  # structured data, frames
)

#: the environment variable that asks for the sources (any value but empty or ``0``)
PURE_ENV = "SIEMRELAY_PURE_PYTHON"


def pure_requested(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether ``SIEMRELAY_PURE_PYTHON`` asks for the sources."""
    return environ.get(PURE_ENV, "") not in ("", "0")


class _SourcesFirst(importlib.abc.MetaPathFinder):
    """Finds the hot path's modules as ``.py`` files before the path's finders see their extensions."""

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in HOT_PATH_MODULES or not path:
            return None
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
