"""Keep the C allocator from handing memory back to the kernel after every batch.

The hot path allocates and frees the same few megabytes over and over: a batch's
serialised events (orjson gives each result a 4 KiB buffer it does not shrink), their
pickled hand-over between processes, a segment read back, a sink's send buffer. With
glibc's defaults, once a batch is freed the free space at the top of the heap passes
the trim threshold (a few MiB, adjusted on the fly), so glibc returns it to the kernel,
and the next batch faults the same pages in again, each one zeroed by the kernel:
measured on the side-by-side workload, 0.53 page faults per event in the agent and 0.41
in its preparing child, and an ``orjson.dumps`` whose result is kept until the batch
is done cost 3 µs instead of 0.09 (the fault, not the encoding).

:func:`tune_allocator` fixes the two thresholds once at start-up (every process of the
agent calls it): free memory up to ``trim_threshold`` stays with the process, and blocks
under ``mmap_threshold`` come from the heap instead of a fresh mapping each. The peak
resident size does not grow (what is kept was in use a moment before); what changes is
that after a burst the process keeps up to ``trim_threshold`` of freed memory per arena
for the next one instead of returning it.

It also caps the arenas at ``arena_max`` (one). glibc gives each thread that allocates an
arena of its own, up to eight per core, and every arena keeps its own free memory and its
own high-water mark: the agent's tail, collector, spool writer and sink worker threads
each grew one, about 30 MB of peak resident memory on the side-by-side workload (the
agent's peak 111-121 → 86-95 MB, measured). The threads share one interpreter
lock, so they rarely allocate at the same moment and one arena costs no throughput there
(five interleaved pairs of the side-by-side run: events/s within noise, CPU per event
lower in all five). It must run before the process starts its threads: an arena, once
made, stays.

An operator who set glibc's own variables for these knobs (``MALLOC_TRIM_THRESHOLD_``,
``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TOP_PAD_``, ``MALLOC_MMAP_MAX_``, ``MALLOC_ARENA_MAX``,
``MALLOC_ARENA_TEST``) or ``GLIBC_TUNABLES`` keeps their settings: then nothing is changed.
Other C libraries (musl) are left alone.
"""

from __future__ import annotations

import ctypes
import os
from typing import Mapping

__all__ = ["tune_allocator", "TRIM_THRESHOLD", "MMAP_THRESHOLD", "ARENA_MAX"]

#: free memory at the top of a heap kept for the next batch (glibc's M_TRIM_THRESHOLD)
TRIM_THRESHOLD = 32 * 1024 * 1024
#: blocks at least this large get a mapping of their own (M_MMAP_THRESHOLD; 32 MiB is
#: the largest value glibc's own adaptive rule reaches on 64-bit machines)
MMAP_THRESHOLD = 32 * 1024 * 1024
#: malloc arenas of the process (M_ARENA_MAX): one, shared by its threads (see the module doc)
ARENA_MAX = 1

_M_TRIM_THRESHOLD = -1  # glibc's malloc.h
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
#: the environment variables through which an operator tunes glibc's malloc themselves
_OPERATOR_TUNABLES = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_",
                      "MALLOC_ARENA_MAX", "MALLOC_ARENA_TEST", "GLIBC_TUNABLES")


def tune_allocator(trim_threshold: int = TRIM_THRESHOLD, mmap_threshold: int = MMAP_THRESHOLD,
                   arena_max: int = ARENA_MAX, *, environ: Mapping[str, str] = os.environ,
                   libc_path: str | None = None) -> str:
    """Set glibc's trim and mmap thresholds and its arena cap for this process; returns what was done, in words.

    :param environ: where an operator's own settings (:data:`_OPERATOR_TUNABLES`) are looked for.
    :param libc_path: the C library to load (default: the one this process is linked with,
        found through the process's own symbols: no ``ldconfig`` run, which would fork the process).
    """
    if any(name in environ for name in _OPERATOR_TUNABLES):
        return "left as the environment set it"
    try:
        libc = ctypes.CDLL(libc_path)  # None: the symbols the interpreter is linked with, the C library among them
    except OSError:
        return "no C library to load: left alone"
    try:
        mallopt = libc.mallopt
        gnu_version = libc.gnu_get_libc_version  # only glibc has it: musl's mallopt does nothing useful
    except AttributeError:
        return "not glibc: left alone"
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    gnu_version.restype = ctypes.c_char_p
    done = []
    if mallopt(_M_MMAP_THRESHOLD, mmap_threshold):
        done.append(f"mmap threshold {mmap_threshold >> 20} MiB")
    if mallopt(_M_TRIM_THRESHOLD, trim_threshold):
        done.append(f"trim threshold {trim_threshold >> 20} MiB")
    if mallopt(_M_ARENA_MAX, arena_max):
        done.append(f"{arena_max} arena{'s' if arena_max != 1 else ''}")
    return f"glibc {gnu_version().decode()}: " + (", ".join(done) if done else "refused the thresholds, left alone")
