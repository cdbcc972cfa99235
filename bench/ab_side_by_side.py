#!/usr/bin/env python3
"""A/B of two siemrelay versions in the side-by-side forwarding harness, interleaved.

On a shared machine the load drifts by ±20 % between minutes, so two versions measured
one after the other are not comparable. This script runs the harness (``bench.py``,
see the README's "Performance" section) once per repetition for each version in turn,
A B A B A B, each run also measuring rsyslog (and syslog-ng with ``--anchors``) so
every siemrelay figure has its anchor from the same minute, and prints the medians
and the median of the per-run ratios to rsyslog.

Version A is a git ref of this repository exported with ``git archive`` into a
temporary directory and put first on ``PYTHONPATH`` (so the installed virtual
environment's dependencies serve both); version B is the working tree.

    python bench/ab_side_by_side.py --harness ../shared/bench/bench.py --base main [--mode file|http]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from trees import ROOT, compile_tree, export  # noqa: E402  (bench/ is a folder of scripts)


def agent_command(mode: str, tree: Path | None, sets: list[str] = [], env: list[str] = []) -> str:
    """The harness's AGENT_CMD (or AGENT_HTTP_CMD) running the code in ``tree`` (None: the working tree).

    :param env: ``NAME=VALUE`` settings of the agent's environment.
    """
    python = ROOT / ".venv" / "bin" / "python"
    prefix = "".join(f"{shlex.quote(e)} " for e in env) + (f"PYTHONPATH={tree} " if tree is not None else "")
    writer = f"{sys.executable} {ROOT / 'bench' / 'write_bench_config.py'}" + "".join(f" --set {shlex.quote(s)}" for s in sets)
    if mode == "file":
        write = f"{writer} file {{input}} {{host}} {{port}} {{workdir}}"
    else:
        write = f"{writer} http {{host}} {{port}} {{http_port}} {{workdir}}"
    # -P: no current directory first on sys.path, or `-m agent` run from the project root imports the
    # working tree's code ahead of PYTHONPATH, and version A would be the working tree too
    return f"{write} && {prefix}exec {python} -P -m agent run -c {{workdir}}/siemrelay.yaml"


def run_once(harness: Path, mode: str, tree: Path | None, events: int, anchors: str, out: Path,
             duration: int, sets: list[str] = [], agent_env: list[str] = []) -> dict[str, object]:
    env = dict(os.environ, BENCH_OUT=str(out))
    target = "agent" if mode == "file" else "agent-http"
    only = f"{target},{anchors}" if anchors else target
    cmd = [sys.executable, str(harness), "--events", str(events), "--reps", "1", "--only", only, "--out", str(out)]
    if mode == "file":
        env["AGENT_CMD"] = agent_command(mode, tree, sets, agent_env)
        cmd += ["--skip", "agent-http"]
    else:
        env["AGENT_HTTP_CMD"] = agent_command(mode, tree, sets, agent_env)
        cmd += ["--http-duration", str(duration)]
    before = set(out.glob("bench-*.json"))
    subprocess.run(cmd, check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    (new,) = set(out.glob("bench-*.json")) - before
    return dict(json.loads(new.read_text()), result_file=new.name)


def figures(result: dict[str, object], mode: str) -> dict[str, float]:
    """events/s (or delivered/s and p99), CPU µs/event and peak RSS of each target in one run."""
    out: dict[str, float] = {}
    for run in result["runs"]:  # type: ignore[union-attr]
        name = run["target"]
        if not run.get("complete"):
            continue
        if name.endswith("-http"):
            out[f"{name}_req_s"] = float(run["rps"])
            out[f"{name}_delivered_s"] = float(run["delivered_eps"])
            out[f"{name}_p99_ms"] = float(run["latency_p99_ms"])
        else:
            out[f"{name}_eps"] = float(run["eps"])
        out[f"{name}_cpu_us"] = float(run["cpu_us_per_event"])
        out[f"{name}_rss_mb"] = float(run["rss_peak_mb"])
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--harness", type=Path, required=True, help="the side-by-side harness's bench.py")
    ap.add_argument("--base", default="main", help="git ref of version A (default main)")
    ap.add_argument("--mode", choices=("file", "http"), default="file")
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--anchors", default="rsyslog", help="anchor targets measured in every run (default rsyslog)")
    ap.add_argument("--http-duration", type=int, default=15)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    ap.add_argument("--b-set", action="append", default=[], metavar="SECTION.KEY=JSON",
                    help="an agent setting for version B only (e.g. agent.intake.processes=1); repeatable")
    ap.add_argument("--b-env", action="append", default=[], metavar="NAME=VALUE",
                    help="an environment variable of version B's agent only (e.g. GLIBC_TUNABLES=); repeatable")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows: dict[str, list[dict[str, float]]] = {"A": [], "B": []}
    with tempfile.TemporaryDirectory(prefix="siemrelay-ab-") as tmp:
        tree_a = export(args.base, Path(tmp))
        compile_tree(ROOT)  # both versions start from bytecode, as an installed agent does (bench/trees.py)
        for rep in range(args.reps):
            for label, tree, sets, agent_env in (("A", tree_a, [], []), ("B", None, args.b_set, args.b_env)):
                result = run_once(args.harness, args.mode, tree, args.events, args.anchors, args.out, args.http_duration,
                                  sets, agent_env)
                fig = figures(result, args.mode)
                rows[label].append(fig)
                print(f"rep {rep + 1} {label}: {json.dumps(fig)} ({result['result_file']})", flush=True)
    print(f"\nmedians of {args.reps} (A = {args.base}, B = working tree):")
    for label in ("A", "B"):
        keys = sorted({k for r in rows[label] for k in r})
        med = {k: statistics.median(r[k] for r in rows[label] if k in r) for k in keys}
        if args.mode == "file":
            ratios = [r["agent_eps"] / r["rsyslog_eps"] for r in rows[label] if r.get("agent_eps") and r.get("rsyslog_eps")]
            if ratios:
                med["agent_vs_rsyslog"] = round(statistics.median(ratios), 3)
        print(f"{label}: {json.dumps({k: round(v, 3) for k, v in med.items()})}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
