#!/usr/bin/env bash
# Install siemrelay into ./.venv and run it on the embedded default configuration
# (conf/siemrelay.yaml: webhook listener on 127.0.0.1:8080, tail of ./var/in/*.jsonl,
# everything to ./var/out/events.jsonl). No external service, no root needed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv || { apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null && "$PY" -m venv .venv; }
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e .
mkdir -p var/in var/out
exec .venv/bin/siemrelay run -c conf/siemrelay.yaml "$@"
