"""Run forwarders against the side-by-side harness's receiver, from the project's own scripts.

The side-by-side harness (``bench.py`` of the shared benchmark folder; the README's
"Performance" section) measures file → TCP syslog. Some targets of the speed issue
need workloads it has no target for (a syslog sender instead of a file, several
sinks, a backlog), so the scripts here drive those workloads themselves but reuse
the harness's own pieces rather than copies: its receiver (``receiver.c`` built with
``cc``, or ``receiver.py``), its process-tree CPU and peak-RSS accounting, its
forwarder process handling, its workload generator and its rsyslog discovery. The
harness is loaded from its path as a module (it may live in a read-only folder).
"""

from __future__ import annotations

import importlib.util
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_HARNESS = ROOT.parent / "shared" / "bench" / "bench.py"


def load_harness(path: Path | None) -> ModuleType:
    """The harness's ``bench.py`` as a module (``--harness``, ``$BENCH_HARNESS`` or ``../shared/bench``)."""
    path = Path(path or os.environ.get("BENCH_HARNESS") or DEFAULT_HARNESS).resolve()
    if path.is_dir():
        path = path / "bench.py"
    if not path.exists():
        raise SystemExit(f"the side-by-side harness was not found at {path} (pass --harness PATH/bench.py)")
    spec = importlib.util.spec_from_file_location("side_by_side_harness", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def harness_options(harness: ModuleType, events: int, seed: int = 42, receiver: str = "auto") -> Any:
    """The harness's parsed command line with our values, for its helpers that read ``args``."""
    return harness.argparse.Namespace(events=events, seed=seed, receiver=receiver, data_dir=None, agent_cmd="",
                                      agent_http_cmd="", fluentbit_flush="0.2")


@dataclass
class RunResult:
    """One forwarder run: what the receiver counted, when, and what the forwarder spent."""

    target: str
    complete: bool
    received: int
    seconds: float | None  # from the start of the load to the receiver's last expected message
    cpu_s: float | None  # the forwarder's process tree, over the same span
    rss_peak_mb: float | None
    events: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def eps(self) -> float | None:
        return self.events / self.seconds if self.seconds and self.complete else None

    @property
    def cpu_us(self) -> float | None:
        return self.cpu_s * 1e6 / self.events if self.cpu_s is not None and self.complete else None

    def line(self) -> str:
        def f(v: float | None, spec: str) -> str:
            return "–" if v is None else format(v, spec)
        return (f"{self.target:<22} {'ok  ' if self.complete else 'FAIL'} {f(self.eps, ',.0f'):>9} ev/s  "
                f"{f(self.cpu_us, '.1f'):>6} µs/ev  {f(self.rss_peak_mb, '.1f'):>6} MB  "
                f"{f(self.seconds, '.2f')} s  {self.extra or ''}")


@dataclass
class Spec:
    """How to start one forwarder: its command (argv, or a shell line), and the TCP port to wait for."""

    argv: list[str] | str
    shell: bool = False
    env: dict[str, str] | None = None
    cwd: str | None = None
    listen_port: int | None = None


def run_target(harness: ModuleType, rcv_cmd: list[str], name: str, expect: int, events: int,
               build: Callable[[str, int], Spec], load: Callable[[int | None], None] | None = None,
               timeout: float = 600.0, idle: float = 20.0,
               during: Callable[[Any], dict[str, Any]] | None = None) -> RunResult:
    """Start the receiver and a forwarder, apply the load, wait for ``expect`` messages.

    :param build: workdir, receiver port → the forwarder's :class:`Spec`.
    :param load: called with the forwarder's listening port once it accepts connections
        (None for forwarders that read a file); the clock and the CPU count start just
        before it. Without a load they start with the forwarder (start-up included).
    :param during: called once the receiver is done, with the forwarder, for extra figures.
    """
    import shutil
    import tempfile

    workdir = tempfile.mkdtemp(prefix=f"siemrelay-bench-{name}-")
    rcv = harness.ReceiverProc(rcv_cmd, expect, timeout, idle)
    fwd = None
    try:
        spec = build(workdir, rcv.port)
        t0 = time.monotonic()
        fwd = harness.Forwarder(spec.argv, workdir, env=spec.env, shell=spec.shell, cwd=spec.cwd)
        mon = harness.TreeMonitor(fwd.pid)
        mon.start()
        cpu0 = 0.0
        if spec.listen_port is not None:
            if not harness.wait_port(spec.listen_port, 60, fwd.proc):
                raise RuntimeError("the forwarder never listened: " + " | ".join(fwd.log_tail()))
            cpu0 = mon.sample()["cpu_s"] or 0.0
            t0 = time.monotonic()
        sender = None
        if load is not None:
            import threading
            sender = threading.Thread(target=load, args=(spec.listen_port,), name="load", daemon=True)
            sender.start()
        while not rcv.done(0.2):
            if fwd.poll() is not None:
                rcv.stop()
        mon.stop_ev.set()
        live = mon.sample() if fwd.poll() is None else mon.totals()
        extra = during(fwd) if during is not None and fwd.poll() is None else {}
        result = rcv.result
        complete = bool(result.get("complete")) or result.get("count", 0) >= expect
        t_done = result.get("t_done") if complete else None
        if complete and result.get("t_first"):
            extra["stream_s"] = round(result["t_last"] - result["t_first"], 3)  # receiver's first → last message
        return RunResult(name, complete, int(result.get("count", 0)), (t_done - t0) if t_done else None,
                         round((live["cpu_s"] or 0.0) - cpu0, 3), live["rss_peak_mb"], events,
                         dict(extra, **({} if complete else {"log": fwd.log_tail(8)})))
    finally:
        if fwd is not None:
            fwd.stop()
        rcv.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def summarise(runs: list[RunResult], ref: str | None) -> list[dict[str, Any]]:
    """Per target: medians of events/s, CPU µs/event, peak RSS, and the median of the
    per-repetition ratios of events/s to ``ref`` (runs are in repetition order)."""
    names = list(dict.fromkeys(r.target for r in runs))
    by_name = {n: [r for r in runs if r.target == n] for n in names}
    rows = []
    for n in names:
        ok = [r for r in by_name[n] if r.complete]
        row: dict[str, Any] = {"target": n, "ok": f"{len(ok)}/{len(by_name[n])}"}
        for key, get in (("eps", lambda r: r.eps), ("cpu_us", lambda r: r.cpu_us), ("rss_mb", lambda r: r.rss_peak_mb)):
            vals = [v for v in (get(r) for r in ok) if v is not None]
            if vals:
                row[key] = statistics.median(vals)
                row[key + "_range"] = (min(vals), max(vals))
        if ref and ref in by_name:
            ratios = [a.eps / b.eps for a, b in zip(by_name[n], by_name[ref]) if a.eps and b.eps]
            if ratios:
                row["ratio"] = statistics.median(ratios)
        rows.append(row)
    return rows


def markdown(rows: list[dict[str, Any]], ref: str | None) -> str:
    out = [f"| target | ok/runs | events/s median (min–max) | CPU µs/event | peak RSS MB | events/s ÷ {ref or 'ref'} |",
           "|---|---|---|---|---|---|"]
    for r in rows:
        eps = (f"{r['eps']:,.0f} ({r['eps_range'][0]:,.0f}–{r['eps_range'][1]:,.0f})" if "eps" in r else "–")
        out.append(f"| {r['target']} | {r['ok']} | {eps} | {r.get('cpu_us', float('nan')):.1f} | "
                   f"{r.get('rss_mb', float('nan')):.1f} | {r.get('ratio', float('nan')):.2f} |")
    return "\n".join(out) + "\n"


def agent_python() -> str:
    """The project's virtual environment's Python when there is one (benches run the working
    tree), with the tree compiled to bytecode first, as an installed agent is (bench/trees.py)."""
    from trees import compile_tree

    compile_tree(ROOT)
    venv = ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def write_config(*args: str) -> None:
    """``bench/write_bench_config.py`` with these arguments (the same script the harness runs)."""
    subprocess.run([sys.executable, str(ROOT / "bench" / "write_bench_config.py"), *args], check=True)
