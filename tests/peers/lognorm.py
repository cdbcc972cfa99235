"""Read CEF back with liblognorm's ``cef`` parser (``lognormalizer`` from liblognorm-utils).

liblognorm is the normaliser behind rsyslog's mmnormalize; its CEF parser is an
independent implementation of the CEF specification's header and extension escaping.
:func:`parse_cef_lines` feeds lines through one ``lognormalizer`` process with a
rulebase for the three header forms the ``cef`` sink writes (RFC 5424, RFC 3164,
none) and returns the parsed fields.

One known defect of liblognorm 2.0.6 is compensated, and only that one: after the
Severity field its parser skips one more character than the '|' it already consumed
(``cefGetHdrField`` leaves the offset past the '|', then ``++i; /* skip over terminal
'|' */``), so the first character of the first extension key is lost unless a space
follows the '|'. The CEF specification puts no space there (ArcSight's own examples
do not), so we insert one space after the seventh unescaped '|' before parsing. Every
other byte is parsed as sent.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

LOGNORMALIZER = shutil.which("lognormalizer") or "/usr/bin/lognormalizer"

RULEBASE = """version=2
rule=rfc5424:<%pri:number%>1 %ts:word% %host:word% %app:word% %procid:word% %msgid:word% %sd:word% %cef:cef%
rule=rfc3164:<%pri:number%>%month:word% %day:number% %hms:word% %host:word% %cef:cef%
rule=rfc3164pad:<%pri:number%>%month:word%  %day:number% %hms:word% %host:word% %cef:cef%
rule=none:%cef:cef%
"""


def _space_after_header(line: str) -> str:
    pipes, i, n = 0, 0, len(line)
    while i < n:
        c = line[i]
        if c == "\\":
            i += 2
            continue
        if c == "|":
            pipes += 1
            if pipes == 7:
                return line[: i + 1] + " " + line[i + 1:]
        i += 1
    return line


def parse_cef_lines(lines: list[str], workdir: Path) -> list[dict[str, Any]]:
    """Parse each line (no LF inside) and return lognormalizer's JSON per line."""
    rb = Path(workdir) / "cef.rb"
    rb.write_text(RULEBASE, encoding="utf-8")
    data = "".join(_space_after_header(line) + "\n" for line in lines).encode("utf-8")
    out = subprocess.run([LOGNORMALIZER, "-r", str(rb), "-e", "json", "-T"], input=data, capture_output=True,
                         timeout=30, check=True).stdout.decode("utf-8")
    results = [json.loads(line) for line in out.split("\n") if line.strip()]  # not splitlines(): U+2028 is no line end
    if len(results) != len(lines):
        raise AssertionError(f"lognormalizer returned {len(results)} results for {len(lines)} lines:\n{out}")
    return results
