#!/usr/bin/env bash
# Build siemrelay_<version>_<arch>.deb: a self-contained virtual environment under
# /opt/siemrelay (the agent and every dependency, on Debian's own python3), the
# systemd unit, /etc/siemrelay/siemrelay.yaml and /etc/default/siemrelay as conffiles,
# and maintainer scripts that create the siemrelay system user and clean up on purge.
#
# Usage: packaging/deb/build-deb.sh [--out DIR] [--python /usr/bin/python3] [--version DEBIAN_VERSION]
# (--version overrides the package version, e.g. 0.1.0+local1 to test an upgrade; default: the agent's)
# Needs: python3-venv, dpkg-dev (dpkg-deb), network access to PyPI (or a pip
# configuration pointing at a mirror / wheelhouse via PIP_* variables).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$root/dist"
python=/usr/bin/python3
version=""
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --python) python="$2"; shift 2 ;;
    --version) version="$2"; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "build-deb.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

[ -n "$version" ] || version="$(sed -n 's/^__version__ = "\(.*\)"/\1/p' "$root/agent/version.py")"
[ -n "$version" ] || { echo "build-deb.sh: cannot read __version__ from agent/version.py" >&2; exit 1; }
arch="$(dpkg --print-architecture)"
pyver="$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
pynext="$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1] + 1}")')"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
stage="$work/stage"
venv="$stage/opt/siemrelay"

# 1. the virtual environment, built in the staging tree, then made to believe it lives in /opt/siemrelay
"$python" -m venv "$venv"
# (from a copy of the sources, so the build leaves no build/ or *.egg-info in the checkout)
mkdir -p "$work/src"
cp -r "$root/agent" "$root/plugins" "$root/pyproject.toml" "$root/README.md" "$work/src/"
[ -d "$root/conf" ] && cp -r "$root/conf" "$work/src/"
find "$work/src" -type d -name __pycache__ -prune -exec rm -rf {} +
"$venv/bin/python" -m pip install -q --disable-pip-version-check --no-compile --no-warn-script-location "$work/src"
"$venv/bin/python" -m pip uninstall -q -y pip setuptools wheel >/dev/null 2>&1 || true
grep -rlI --null "$venv" "$venv/bin" | xargs -0 -r sed -i "s|$venv|/opt/siemrelay|g"
find "$venv" -type d -name __pycache__ -prune -exec rm -rf {} +
rm -f "$venv/bin/activate.csh" "$venv/bin/activate.fish" "$venv/bin/Activate.ps1"

# 2. the files around it
install -D -m 0644 "$root/packaging/systemd/siemrelay.service" "$stage/lib/systemd/system/siemrelay.service"
install -D -m 0640 "$here/siemrelay.yaml" "$stage/etc/siemrelay/siemrelay.yaml"
install -d -m 0750 "$stage/etc/siemrelay/routes.d"
install -D -m 0640 "$here/siemrelay.default" "$stage/etc/default/siemrelay"
install -d "$stage/usr/bin"
ln -s /opt/siemrelay/bin/siemrelay "$stage/usr/bin/siemrelay"
doc="$stage/usr/share/doc/siemrelay"
install -d "$doc"
for f in "$root"/docs/operations.md "$root"/docs/admin-api.md "$root"/README.md; do
  [ -f "$f" ] && install -m 0644 "$f" "$doc/"
done
printf 'siemrelay\nLicense: Apache-2.0\n' > "$doc/copyright"

# 3. control data
install -d "$stage/DEBIAN"
for s in postinst prerm postrm; do install -m 0755 "$here/$s" "$stage/DEBIAN/$s"; done
printf '/etc/siemrelay/siemrelay.yaml\n/etc/default/siemrelay\n' > "$stage/DEBIAN/conffiles"
size="$(du -sk --exclude=DEBIAN "$stage" | cut -f1)"
cat > "$stage/DEBIAN/control" <<EOF
Package: siemrelay
Version: $version
Architecture: $arch
Maintainer: siemrelay maintainers <siemrelay@localhost>
Installed-Size: $size
Depends: python3 (>= $pyver), python3 (<< $pynext), passwd, procps
Section: net
Priority: optional
Homepage: https://github.com/siemrelay/siemrelay
Description: forwarder of security events to SIEMs and chat tools
 siemrelay collects security events from vendor webhooks, syslog and files,
 normalises them into one event model, routes them by rules and delivers them
 reliably (durable spool, retries, dead letters) to CEF, syslog, Splunk HEC,
 Slack, Teams and webhooks. Runs as a hardened systemd service with an admin
 API, Prometheus metrics and a status page on loopback.
EOF

mkdir -p "$out"
deb="$out/siemrelay_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zgzip -z3 --build "$stage" "$deb" >/dev/null
echo "$deb"
