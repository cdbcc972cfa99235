#!/usr/bin/env bash
# Run siemrelay's whole test suite on a fresh Debian machine (as root) or a developer's.
# Installs the real peers the tests talk to (syslog-ng, liblognorm, nats-server, ...)
# with apt-get, the project and its test dependencies into ./.venv, then runs pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

want=()
while read -r pkg; do
  pkg="${pkg%%#*}"; pkg="${pkg// /}"
  [ -n "$pkg" ] || continue
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || want+=("$pkg")
done < tests/apt-packages.txt
if [ "${#want[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "tests/run.sh: missing Debian packages: ${want[*]} (run as root, or install them)" >&2
    exit 1
  fi
  echo "installing Debian packages: ${want[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
fi
# the distribution's syslog-ng service is not wanted: tests start their own on free ports
# (nor Prometheus's: the suite only uses its promtool)
if command -v systemctl >/dev/null 2>&1; then
  systemctl disable --now syslog-ng >/dev/null 2>&1 || true
  systemctl disable --now prometheus >/dev/null 2>&1 || true
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test,secops,otlp,s3]' -r tests/requirements.txt
# the example third-party plugin, installed like a user's plugin (found through its entry point)
.venv/bin/python -m pip install -q --disable-pip-version-check ./examples/siemrelay-pagerduty

set +e
# most tests wait on sockets, peers and subprocesses, so three workers fill two cores; each
# file stays on one worker (its module-scoped peers, e.g. the booted systemd container, are
# started once); the packaging files share nothing that conflicts (the container has its
# own root, the .deb test installs on the host without binding ports)
.venv/bin/python -m pytest -n "${SIEMRELAY_TEST_WORKERS:-3}" --dist loadfile "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "tests/run.sh: no tests ran" >&2
  exit 1
fi
# the example plugin's own test suite (it uses siemrelay's pytest plugin and conformance suite)
set +e
.venv/bin/python -m pytest -p no:cacheprovider examples/siemrelay-pagerduty/tests
erc=$?
set -e
[ "$rc" -ne 0 ] || rc=$erc
exit "$rc"
