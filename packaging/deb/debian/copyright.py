"""Write debian/copyright (DEP-5) for the package: siemrelay, and every Python distribution it bundles.

The package ships a virtual environment holding siemrelay's dependencies, so its copyright
file must name each of them with its license, not only siemrelay's. This reads what pip
really installed (``importlib.metadata`` of the environment's own Python, run as
``/opt/siemrelay``'s interpreter at build time) instead of a list kept by hand::

    debian/siemrelay/opt/siemrelay/bin/python debian/copyright.py --prefix /opt/siemrelay > debian/copyright
"""

from __future__ import annotations

import argparse
import re
import sys
import sysconfig
from importlib import metadata

FORMAT = "https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"
#: trove classifiers -> DEP-5 / SPDX short names
CLASSIFIERS = {
    "MIT License": "MIT",
    "Apache Software License": "Apache-2.0",
    "BSD License": "BSD",
    "ISC License (ISCL)": "ISC",
    "Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "Python Software Foundation License": "PSF-2.0",
    "The Unlicense (Unlicense)": "Unlicense",
}
#: licenses whose full text Debian ships in /usr/share/common-licenses
COMMON = {"Apache-2.0", "MPL-2.0"}
SHORT = re.compile(r"^[A-Za-z0-9.+-]+( (or|and|OR|AND|WITH) [A-Za-z0-9.+-]+)*$")


def license_of(dist: metadata.Distribution) -> str:
    """The distribution's license as a DEP-5 expression: its SPDX expression, its short License field, or its classifiers."""
    meta = dist.metadata
    for field in ("License-Expression", "License"):
        value = (meta.get(field) or "").strip()
        if value and len(value) <= 60 and SHORT.match(value):
            return re.sub(r" (OR|AND|WITH) ", lambda m: f" {m.group(1).lower()} ", value)
    names = [CLASSIFIERS.get(c.rsplit(" :: ", 1)[-1], "") for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    names = [n for n in names if n]
    return " or ".join(dict.fromkeys(names)) or "other"


def holders_of(dist: metadata.Distribution) -> str:
    meta = dist.metadata
    who = meta.get("Author") or meta.get("Maintainer") or ""
    if not who:
        email = meta.get("Author-email") or meta.get("Maintainer-email") or ""
        who = re.sub(r"\s*<[^>]*>", "", email).strip()
    return f"{who or 'the ' + meta['Name'] + ' authors'} (from the distribution's metadata)"


def render(prefix: str) -> str:
    """The whole copyright file, for the environment this Python runs in, described as installed under ``prefix``."""
    here = sysconfig.get_paths()["purelib"]
    site = f"{prefix}/lib/python{sys.version_info[0]}.{sys.version_info[1]}/site-packages"
    rel = site.lstrip("/")
    lines = [f"Format: {FORMAT}", "Upstream-Name: siemrelay", "Source: https://github.com/siemrelay/siemrelay",
             "Comment: The Files paragraphs below the first name the Python distributions bundled in",
             f" the virtual environment under {prefix}, by their installed paths, as pip installed them",
             " at build time; each one's own license text is in its .dist-info directory.",
             "", "Files: *", "Copyright: 2026 the siemrelay authors", "License: Apache-2.0", ""]
    used = {"Apache-2.0"}
    dists = sorted(metadata.distributions(path=[here]), key=lambda d: d.metadata["Name"].lower())
    for dist in dists:
        name = dist.metadata["Name"]
        if name.lower() == "siemrelay":
            continue
        top = sorted({f.parts[0] for f in dist.files or [] if f.parts and not f.parts[0].startswith("..")})
        license_ = license_of(dist)
        used.update(re.split(r" (?:or|and|with) ", license_))
        files = " ".join(f"{rel}/{t}" + ("/*" if "." not in t or t.endswith(".dist-info") else "") for t in top)
        lines += [f"Files: {files or rel + '/' + name + '*'}",
                  f"Copyright: {holders_of(dist)}", f"License: {license_}", ""]
    for short in sorted(used):
        lines.append(f"License: {short}")
        if short in COMMON:
            lines.append(f" On Debian systems, the full text is in /usr/share/common-licenses/{short.replace('-clause', '')}.")
        else:
            lines.append(f" The full text is in the .dist-info directory of each distribution under {site}")
            lines.append(" that names this license.")
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Write the package's DEP-5 copyright file.")
    ap.add_argument("--prefix", default="/opt/siemrelay", help="the virtual environment's installed location")
    args = ap.parse_args(argv)
    sys.stdout.write(render(args.prefix))
    return 0


if __name__ == "__main__":
    sys.exit(main())
