"""The allocator keeps a batch's freed memory for the next batch instead of faulting it in again.

Each scenario runs in a fresh interpreter (the allocator's state is per process): batches
of 4 KiB blocks, the size orjson gives each serialised event, allocated, kept until the
batch is done and freed, as the intake and the spool do. Page faults per block are read
from the kernel (``getrusage``), so the figures are counts, not timings.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from agent.processes.allocator import tune_allocator
from agent.processes.channel import ChildChannel
from agent.processes.launch import start_child

ROOT = Path(__file__).resolve().parents[4]

BLOCKS = 4000  # 16 MiB a batch: more than glibc's own trim threshold, less than ours

def churn_faults_per_block() -> float:
    """Page faults per 4 KiB block over ten batches of :data:`BLOCKS` blocks, after three to warm up."""
    import resource

    def churn(batches: int) -> None:
        for _ in range(batches):
            batch = [bytes(4000) for _ in range(BLOCKS)]
            del batch

    churn(3)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    churn(10)
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / (10 * BLOCKS)


def _faults_per_block(tune: bool, operator: dict[str, str] | None = None) -> tuple[float, str]:
    """(page faults per block, what tune_allocator said) in a fresh interpreter.

    :param operator: ``MALLOC_*`` settings in its environment (none of this machine's).
    """
    said, figure = _fresh_interpreter(tune, "from tests.unit.agent.processes.test_allocator import "
                                            "churn_faults_per_block\nprint(churn_faults_per_block())\n", operator)
    return float(figure), said


def _fresh_interpreter(tune: bool, scenario: str, operator: dict[str, str] | None) -> tuple[str, str]:
    """(what tune_allocator said, the scenario's one line of output), run in a fresh interpreter
    (the allocator's state is per process) with ``operator``'s ``MALLOC_*`` settings and none of this machine's."""
    code = ("from agent.processes.allocator import tune_allocator\nprint(tune_allocator())\n" if tune
            else "print('untuned')\n") + scenario
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    env.update(operator or {}, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60, check=True).stdout.split("\n")
    return out[0], out[1]


def test_without_tuning_every_batch_faults_its_blocks_in_again() -> None:
    per_block, _ = _faults_per_block(tune=False)
    assert per_block > 0.5  # the scenario shows the cost: about one fault per 4 KiB block


def test_tuned_the_next_batch_reuses_the_memory_the_last_one_freed() -> None:
    per_block, said = _faults_per_block(tune=True)
    assert said.startswith("glibc ") and "trim threshold 32 MiB" in said and "mmap threshold 32 MiB" in said
    assert per_block < 0.05


_THREADS_ALLOCATE = """
import os, threading
from tests.conftest import malloc_thread_arenas
started, done = threading.Barrier(5), threading.Event()
def work():
    kept = [bytes(1000) for _ in range(1000)]  # a thread's first allocations pick its arena
    started.wait()
    done.wait()
threads = [threading.Thread(target=work) for _ in range(4)]
for t in threads:
    t.start()
started.wait()
print(malloc_thread_arenas(os.getpid()))
done.set()
"""


def _thread_arenas(tune: bool, operator: dict[str, str] | None = None) -> tuple[int, str]:
    """(thread arenas glibc made, what tune_allocator said) when four threads allocate in a fresh interpreter."""
    said, figure = _fresh_interpreter(tune, _THREADS_ALLOCATE, operator)
    return int(figure), said


def test_tuned_the_threads_share_one_arena() -> None:
    # glibc alone gives each allocating thread an arena of its own (each with its own free
    # memory and high-water mark); tuned, the four threads use the main arena
    assert _thread_arenas(tune=False)[0] >= 2
    arenas, said = _thread_arenas(tune=True)
    assert arenas == 0 and said.endswith(", 1 arena"), said


def test_an_operators_own_arena_setting_is_kept() -> None:
    arenas, said = _thread_arenas(tune=True, operator={"MALLOC_ARENA_MAX": "4"})
    assert said == "left as the environment set it"
    assert arenas >= 2  # their cap (4 arenas: the main one and three for threads) still rules


def test_an_operators_own_malloc_settings_are_kept() -> None:
    per_block, said = _faults_per_block(tune=True, operator={"MALLOC_TRIM_THRESHOLD_": "131072"})
    assert said == "left as the environment set it"
    assert per_block > 0.5  # their small threshold still rules


def test_no_c_library_leaves_the_allocator_alone(tmp_path: Path) -> None:
    assert tune_allocator(environ={}, libc_path=str(tmp_path / "missing.so")) == "no C library to load: left alone"


def churn_and_report(channel: ChildChannel) -> None:
    """In a child started the agent's way: the same churn, faults per block sent back."""
    channel.send(churn_faults_per_block())


def test_a_child_the_agent_starts_is_tuned_too() -> None:
    proc, ours = start_child(churn_and_report, (), "siemrelay-prepare-test")
    try:
        assert ours.recv() < 0.05
    finally:
        ours.close()
        proc.join(10)
