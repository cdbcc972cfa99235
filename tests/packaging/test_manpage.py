"""siemrelay(1), generated from the CLI's parser, read back by groff (the formatter `man` runs)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
from types import ModuleType

from hypothesis import given, settings
from hypothesis import strategies as st

from agent.cli.main import build_parser
from agent.version import __version__
from tests.conftest import ROOT, require_tool

SCRIPT = ROOT / "packaging" / "deb" / "debian" / "manpage.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("siemrelay_manpage", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


manpage = _load()


def _groff(page: str) -> subprocess.CompletedProcess[str]:
    groff = require_tool("groff", "groff-base")
    # -ww: every warning; -Tascii without overstriking, no hyphenation, ragged right: text as typed
    return subprocess.run([groff, "-man", "-ww", "-Tascii", "-P", "-cbou"], input=page, capture_output=True,
                          text=True, timeout=30)


def _words(text: str) -> list[str]:
    return text.split()


@settings(max_examples=40, deadline=None)
@given(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E) | st.just("\n"), min_size=1, max_size=80))
def test_escaped_text_renders_as_typed(text: str):
    """Help texts are arbitrary: a leading dot or quote, backslashes and hyphens must come out as written."""
    page = '.TH T 1\n.nh\n.ad l\n.SH NAME\nt \\- t\n.SH DESCRIPTION\n' + manpage.escape(text) + "\n"
    res = _groff(page)
    assert res.returncode == 0 and res.stderr == "", res.stderr
    body = res.stdout.split("DESCRIPTION", 1)[1]
    body = body.rsplit("T(1)", 1)[0] if "T(1)" in body else body  # the page footer
    assert _words(body) == _words(text), (text, body)


def test_page_of_the_real_cli_is_clean_and_names_every_command():
    parser = build_parser()
    page = manpage.render(parser, __version__, "2026-12-06")
    assert page.startswith(f'.TH SIEMRELAY 1 "2026-12-06" "siemrelay {__version__}"')
    res = _groff(page)
    assert res.returncode == 0 and res.stderr == "", res.stderr
    sections = set(re.findall(r"(?m)^\.SS (.+)$", page))
    commands = {" ".join(path) for path, _, _ in manpage._walk(parser)}
    assert commands == {s.replace("\\-", "-") for s in sections}
    top = next(a for a in parser._actions if a.dest == "command")
    assert set(top.choices) <= commands  # type: ignore[arg-type]
    for option in ("--config", "--reset-spool", "--healthcheck", "--log-format"):
        assert option in res.stdout, option


def test_package_version_follows_the_agent():
    """The Debian changelog's top entry is the agent's version (build-deb.sh refuses to build otherwise)."""
    first = (ROOT / "packaging" / "deb" / "debian" / "changelog").read_text().splitlines()[0]
    match = re.match(r"^siemrelay \(([^)]+)-(\d+)\) \w+; urgency=\w+$", first)
    assert match and match.group(1) == __version__, first
