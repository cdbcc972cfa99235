#!/usr/bin/env bash
# Build siemrelay_<version>_<arch>.deb with debhelper (dh): a virtual environment under
# /opt/siemrelay (the agent and every dependency, on Debian's own python3) linked as
# /usr/bin/siemrelay, the systemd unit (enabled and started through deb-systemd-helper),
# /etc/siemrelay/siemrelay.yaml and /etc/default/siemrelay as conffiles, the man page
# generated from the CLI, the documentation and examples under /usr/share/doc/siemrelay.
#
# Usage: packaging/deb/build-deb.sh [--out DIR] [--python /usr/bin/python3] [--version VERSION] [--lintian]
# (--version overrides the package's version, e.g. 0.1.0+local1 to test an upgrade; default:
#  the top entry of packaging/deb/debian/changelog. --lintian runs lintian on the result and
#  fails on any error or warning it does not have an override for.)
# Needs: debhelper, dpkg-dev, python3-venv (and lintian for --lintian); pip's index (PyPI, or a
# mirror / wheelhouse configured through PIP_* variables or pip.conf).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$root/dist"
python=/usr/bin/python3
version=""
lint=no
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --python) python="$2"; shift 2 ;;
    --version) version="$2"; shift 2 ;;
    --lintian) lint=yes; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "build-deb.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
for tool in dpkg-buildpackage:dpkg-dev dh:debhelper; do
  command -v "${tool%%:*}" >/dev/null || { echo "build-deb.sh: ${tool%%:*} is missing: apt-get install ${tool##*:}" >&2; exit 1; }
done
if [ "$lint" = yes ]; then
  command -v lintian >/dev/null || { echo "build-deb.sh: lintian is missing: apt-get install lintian" >&2; exit 1; }
fi

# the package's upstream version is the agent's: refuse to build a package that says otherwise
agent_version="$(sed -n 's/^__version__ = "\(.*\)"/\1/p' "$root/agent/version.py")"
debian_version="$(sed -n '1s/^siemrelay (\([^)]*\)).*/\1/p' "$here/debian/changelog")"
if [ "${debian_version%-*}" != "$agent_version" ]; then
  echo "build-deb.sh: packaging/deb/debian/changelog is at $debian_version but agent/version.py says $agent_version:" \
       "add a changelog entry for $agent_version-1" >&2
  exit 1
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
src="$work/siemrelay"
# a copy of the sources, so the build leaves nothing (build/, *.egg-info, debian/) in the checkout
mkdir -p "$src"
for f in agent plugins conf docs pyproject.toml setup.py README.md LICENSE CHANGELOG.md; do
  [ -e "$root/$f" ] && cp -a "$root/$f" "$src/"
done
cp -a "$here/debian" "$src/debian"
install -m 0644 "$root/packaging/systemd/siemrelay.service" "$src/debian/siemrelay.service"
find "$src" -type d -name __pycache__ -prune -exec rm -rf {} +
# extensions a local editable install built next to the sources: the package builds its own (setup.py)
find "$src" -name "*.so" -delete

if [ -n "$version" ] && [ "$version" != "$debian_version" ]; then
  # an entry on top of the changelog, in the temporary copy only
  { printf 'siemrelay (%s) unstable; urgency=medium\n\n  * Local build of %s.\n\n -- %s  %s\n\n' \
      "$version" "$version" "$(sed -n 's/^Maintainer: //p' "$src/debian/control")" "$(date -R)"
    cat "$here/debian/changelog"; } > "$src/debian/changelog"
fi

(cd "$src" && PYTHON="$python" dpkg-buildpackage --build=binary --no-sign -j1 >"$work/build.log" 2>&1) || {
  tail -n 60 "$work/build.log" >&2
  echo "build-deb.sh: dpkg-buildpackage failed (the last lines of its log are above)" >&2
  exit 1
}
built="$(ls "$work"/siemrelay_*.deb)"
mkdir -p "$out"
deb="$out/$(basename "$built")"
mv "$built" "$deb"

if [ "$lint" = yes ]; then
  # errors and warnings fail the build; each accepted tag is justified in debian/siemrelay.lintian-overrides
  lintian --fail-on error,warning "$deb" >&2
fi
echo "$deb"
