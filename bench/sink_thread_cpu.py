#!/usr/bin/env python3
"""CPU of each thread of the agent on the file → RFC 5424/TCP path, two versions interleaved.

The side-by-side harness reports the whole process; a change to one thread (the sink
worker) is easier to see in that thread's own CPU. This runs ``siemrelay run`` with the
harness's configuration (``bench/write_bench_config.py file``) on a JSON-lines file into
a receiver that counts octet-counted frames, and when the last frame has arrived reads
every thread's CPU (utime + stime) from ``/proc/PID/task/*/stat`` and names the threads
with ``py-spy dump``. Version A is a git ref exported with ``git archive`` (as
``bench/ab_side_by_side.py`` does); version B is the working tree. Runs alternate A B A B.

    python bench/sink_thread_cpu.py --input events.jsonl --events 200000 --base main --reps 3
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from trees import ROOT, compile_tree, export  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
_THREAD = re.compile(r'^Thread (\d+) \([^)]*\): "([^"]*)"', re.M)


class Receiver:
    """A TCP listener that counts RFC 6587 octet-counted frames and throws them away."""

    def __init__(self) -> None:
        self.srv = socket.create_server(("127.0.0.1", 0))
        self.port = self.srv.getsockname()[1]
        self.frames = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        conn, _ = self.srv.accept()
        buf = bytearray()
        while chunk := conn.recv(1 << 20):
            buf += chunk
            pos = 0
            while (sp := buf.find(b" ", pos)) >= 0:
                end = sp + 1 + int(buf[pos:sp])
                if end > len(buf):
                    break
                pos = end
                self.frames += 1
            del buf[:pos]


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds per thread name (threads of one name summed)."""
    names = dict(_THREAD.findall(subprocess.run([str(ROOT / ".venv" / "bin" / "py-spy"), "dump", "--pid", str(pid)],
                                                capture_output=True, text=True).stdout))
    out: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        name = names.get(task.name, "other")
        name = re.sub(r"\d+$", "N", name)  # Thread-12 and the like
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / TICK
    return out


def run_once(tree: Path | None, input_path: Path, events: int) -> dict[str, object]:
    receiver = Receiver()
    with tempfile.TemporaryDirectory(prefix="siemrelay-threads-") as tmp:
        work = Path(tmp)
        subprocess.run([sys.executable, str(ROOT / "bench" / "write_bench_config.py"), "file", str(input_path),
                        "127.0.0.1", str(receiver.port), str(work)], check=True)
        env = dict(os.environ, **({"PYTHONPATH": str(tree)} if tree is not None else {}))
        started = time.monotonic()
        proc = subprocess.Popen([str(ROOT / ".venv" / "bin" / "python"), "-P", "-m", "agent", "run", "-c",
                                 str(work / "siemrelay.yaml")], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while receiver.frames < events:
                if proc.poll() is not None:
                    raise RuntimeError(f"the agent ended with {proc.returncode}")
                time.sleep(0.02)
            wall = time.monotonic() - started
            threads = thread_cpu(proc.pid)
        finally:
            proc.terminate()
            proc.wait(30)
    return {"eps": round(events / wall), "cpu_us": round(sum(threads.values()) * 1e6 / events, 1),
            **{f"{name}_us": round(cpu * 1e6 / events, 1) for name, cpu in sorted(threads.items())}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--input", type=Path, required=True, help="JSON lines (the harness's gen_events.py output)")
    ap.add_argument("--events", type=int, default=200_000, help="lines in --input")
    ap.add_argument("--base", default="main", help="git ref of version A")
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    results: dict[str, list[dict[str, object]]] = {"A": [], "B": []}
    with tempfile.TemporaryDirectory(prefix="siemrelay-ab-") as tmp:
        tree_a = export(args.base, Path(tmp))
        compile_tree(ROOT)  # both versions start from bytecode (bench/trees.py)
        for rep in range(args.reps):
            for label, tree in (("A", tree_a), ("B", None)):
                result = run_once(tree, args.input.resolve(), args.events)
                results[label].append(result)
                print(json.dumps({"rep": rep + 1, "version": label, **result}), flush=True)
    for label, runs in results.items():
        keys = sorted({k for r in runs for k in r})
        medians = {k: statistics.median(float(r[k]) for r in runs if k in r) for k in keys}  # type: ignore[arg-type]
        print(json.dumps({"version": label, "median": medians}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
