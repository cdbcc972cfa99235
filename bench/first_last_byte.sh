#!/bin/bash
# Time to the first and the last byte at the receiver, counted from the agent's launch,
# for one file → syslog run (the side-by-side workload), one line of output per run.
#
#   bench/first_last_byte.sh HARNESS_DIR INPUT EVENTS [TREE]
#
# HARNESS_DIR: the side-by-side harness's folder (its receiver.py is used); INPUT: JSON
# lines (its gen_events.py output) with EVENTS lines; TREE: a tree holding another
# version's agent/ and plugins/ (put first on PYTHONPATH; compile it first, see
# bench/trees.py), the working tree when left out. Interleave runs of two trees to compare.
set -euo pipefail
harness=$1 input=$2 events=$3 tree=${4:-}
root=$(cd "$(dirname "$0")/.." && pwd)
py=$root/.venv/bin/python
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
port=$("$py" -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
python3 "$harness/receiver.py" -p "$port" -n "$events" -m octet -t 120 > "$work/receiver.json" 2>&1 &
receiver=$!
sleep 0.4
"$py" "$root/bench/write_bench_config.py" file "$input" 127.0.0.1 "$port" "$work" > /dev/null
start=$("$py" -c "import time; print(time.monotonic())")
PYTHONPATH=$tree "$py" -P -m agent run -c "$work/siemrelay.yaml" > "$work/agent.log" 2>&1 &
agent=$!
wait $receiver
kill -INT $agent; wait $agent || true
"$py" - "$start" "$work/receiver.json" <<'PY'
import json, re, sys
start, text = float(sys.argv[1]), open(sys.argv[2]).read()
first, last = (float(re.search(rf'"{k}": ([0-9.]+)', text).group(1)) for k in ("t_first", "t_last"))
print(f"first {(first - start) * 1000:.0f} ms last {(last - start) * 1000:.0f} ms")
PY
