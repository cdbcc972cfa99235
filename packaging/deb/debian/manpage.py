"""Write siemrelay(1), the manual page, from the command line's own argparse parser.

The page is generated at package build time from ``agent.cli.main.build_parser()``, so
every subcommand, option, choice and help text in it is the one ``siemrelay --help``
prints: the manual cannot drift from the code. Run with the Python that has siemrelay
installed (the package's virtualenv)::

    python packaging/deb/manpage.py --output siemrelay.1 [--date 2026-12-06]

The output is plain man(7) roff; ``groff -man -ww -z`` reads it without a warning.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
from pathlib import Path
from typing import Iterator

#: what the page adds beyond the parser: where the packaged files live and what they are
FILES = (
    ("/etc/siemrelay/siemrelay.yaml", "The configuration the service runs (a conffile)."),
    ("/etc/siemrelay/routes.d/", "Rule files merged into the configuration's routes, in name order."),
    ("/etc/default/siemrelay", "The service's environment: secrets referred to as ${NAME} in the configuration."),
    ("/var/lib/siemrelay/", "State: the spool database, checkpoints, the generated admin token (mode 0700/0600)."),
    ("/var/log/siemrelay/", "Where the packaged configuration's file sink writes."),
    ("/usr/share/doc/siemrelay/", "The full documentation, and configuration examples under examples/."),
)
ENVIRONMENT = (
    ("SIEMRELAY_CONFIG", "The configuration file used when -c is not given."),
    ("SIEMRELAY_LOAD_PLUGINS", "A comma-separated allowlist of third-party plugins to load."),
    ("SIEMRELAY_DISABLED_PLUGINS", "A comma-separated list of plugins not to load."),
)
EXIT_STATUS = (
    ("0", "Success."),
    ("1", "A runtime failure."),
    ("2", "A configuration or start-up error: the message names the file, line and key."),
)


def escape(text: str) -> str:
    """``text`` as roff that renders as ``text``: backslashes, hyphens, and a leading dot or quote made literal."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    lines = [("\\&" + line) if line.startswith((".", "'")) else line for line in text.split("\n")]
    return "\n".join(lines)


def bold(text: str) -> str:
    return f"\\fB{escape(text)}\\fR"


def italic(text: str) -> str:
    return f"\\fI{escape(text)}\\fR"


def _subcommands(parser: argparse.ArgumentParser) -> argparse._SubParsersAction[argparse.ArgumentParser] | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def _walk(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser, str]]:
    """Every subcommand under ``parser`` (nested ones after their parent), once each, with its one-line help."""
    sub = _subcommands(parser)
    if sub is None:
        return
    helps = {choice.dest: choice.help or "" for choice in sub._choices_actions}
    seen: list[argparse.ArgumentParser] = []
    for name, child in sub.choices.items():
        if any(child is p for p in seen):
            continue  # an alias of a command already listed
        seen.append(child)
        yield (*path, name), child, helps.get(name, "")
        yield from _walk(child, (*path, name))


def _usage(parser: argparse.ArgumentParser) -> str:
    usage = parser.format_usage().strip()
    usage = re.sub(r"^usage:\s*", "", usage)
    return " ".join(usage.split())


def _option_items(parser: argparse.ArgumentParser) -> Iterator[tuple[str, str]]:
    """(invocation, help) for each documented argument of ``parser``, positionals first."""
    formatter = parser._get_formatter()
    actions = [a for a in parser._actions if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction))]
    actions.sort(key=lambda a: bool(a.option_strings))
    for action in actions:
        if action.help == argparse.SUPPRESS:
            continue
        invocation = formatter._format_action_invocation(action)
        help_text = formatter._expand_help(action) if action.help else ""
        if action.choices and not action.option_strings and "{" not in invocation:
            help_text = f"{help_text} (one of: {', '.join(map(str, action.choices))})".strip()
        yield invocation, help_text


def _tagged(items: Iterator[tuple[str, str]] | tuple[tuple[str, str], ...], *, tag_font: str = "B") -> list[str]:
    lines: list[str] = []
    for tag, text in items:
        lines += [".TP", f"\\f{tag_font}{escape(tag)}\\fR", escape(text) if text else "\\&"]
    return lines


def render(parser: argparse.ArgumentParser, version: str, date: str) -> str:
    """The whole man(7) page for ``parser``."""
    prog = parser.prog
    summary = (parser.description or "").strip().rstrip(".")
    lines = [
        f'.TH {prog.upper()} 1 "{date}" "{prog} {escape(version)}" "User Commands"',
        ".SH NAME",
        f"{escape(prog)} \\- {escape(summary[:1].lower() + summary[1:])}",
        ".SH SYNOPSIS",
        f"{bold(prog)} [{italic('OPTIONS')}] {italic('COMMAND')} [{italic('ARGS')}]",
        ".SH DESCRIPTION",
        escape(parser.description or ""),
        ".PP",
        escape(f"Each command's own options follow it: {prog} COMMAND --help prints the same text as this page."),
        ".SH OPTIONS",
        *_tagged(_option_items(parser)),
        ".SH COMMANDS",
    ]
    for path, child, help_text in _walk(parser):
        lines += [f".SS {escape(' '.join(path))}", escape(help_text.strip() or child.description or ""),
                  ".PP", bold(_usage(child))]
        if child.description and child.description.strip() != help_text.strip():
            lines += [".PP", escape(child.description.strip())]
        lines += _tagged(_option_items(child))
    lines += [".SH ENVIRONMENT", *_tagged(ENVIRONMENT), ".SH FILES", *_tagged(FILES, tag_font="I"),
              ".SH EXIT STATUS", *_tagged(EXIT_STATUS),
              ".SH SEE ALSO", f"{bold('systemctl')}(1), {bold('journalctl')}(1); "
              f"{escape('/usr/share/doc/siemrelay/operations.md for installing, upgrading and running the service.')}"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Write siemrelay(1) from the CLI's parser.")
    ap.add_argument("--output", type=Path, help="where to write the page (default: standard output)")
    ap.add_argument("--date", default=None, help="the page's date, YYYY-MM-DD (default: today, or SOURCE_DATE_EPOCH)")
    args = ap.parse_args(argv)

    from agent.cli.main import build_parser
    from agent.version import __version__

    date = args.date or _build_date()
    page = render(build_parser(), __version__, date)
    if args.output:
        args.output.write_text(page, encoding="utf-8")
    else:
        sys.stdout.write(page)
    return 0


def _build_date() -> str:
    """SOURCE_DATE_EPOCH when set (reproducible builds: dpkg-buildpackage sets it from the changelog), else today."""
    import os

    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = dt.datetime.fromtimestamp(int(epoch), dt.timezone.utc) if epoch else dt.datetime.now(dt.timezone.utc)
    return when.strftime("%Y-%m-%d")


if __name__ == "__main__":
    sys.exit(main())
