"""``siemrelay init``: write a working, commented configuration to start from.

The files come from templates shipped inside the package (``agent/templates/init``),
so ``pip install siemrelay`` can write them with no checkout at hand. What is written
runs as is with no external service; every section is explained in comments and the
usual next steps (Splunk, syslog, Slack, a signed webhook) are there to uncomment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import argparse
import os
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path


from agent.cli.command import Command
from agent.cli.common import EXIT_CONFIG, default_config

if TYPE_CHECKING:
    from agent.logging import Redactor

__all__ = ["COMMANDS", "InitLayout", "template_files", "render_template"]

#: The template files, relative to ``agent/templates/init`` and to the target directory.
TEMPLATES = ("siemrelay.yaml", "routes.d/10-example.yaml")
SCHEMA_FILE = "siemrelay.schema.json"


@dataclass(frozen=True, slots=True)
class InitLayout:
    """Where the written configuration keeps its state, reads dropped files and writes events."""

    config_dir: Path
    state_dir: Path
    in_dir: Path
    out_dir: Path

    @classmethod
    def for_dir(cls, config_dir: Path, state_dir: Path | None) -> "InitLayout":
        """The packaged layout for ``/etc/siemrelay``; otherwise everything under ``DIR/var``."""
        config_dir = config_dir.absolute()
        if config_dir == Path("/etc/siemrelay"):
            state = state_dir or Path("/var/lib/siemrelay")
            return cls(config_dir, state, state / "in", Path("/var/log/siemrelay"))
        state = state_dir or config_dir / "var" / "state"
        return cls(config_dir, state, config_dir / "var" / "in", config_dir / "var" / "out")


def template_files() -> dict[str, str]:
    """The shipped templates' text, by relative path."""
    root = resources.files("agent").joinpath("templates", "init")
    return {name: root.joinpath(*name.split("/")).read_text(encoding="utf-8") for name in TEMPLATES}


def render_template(text: str, layout: InitLayout) -> str:
    """Fill the ``@NAME@`` markers (the templates' own syntax, so ``${VAR}`` and ``{{ path }}`` stay as written)."""
    for marker, value in (("@STATE_DIR@", layout.state_dir), ("@IN_DIR@", layout.in_dir),
                          ("@OUT_DIR@", layout.out_dir), ("@CONFIG@", layout.config_dir / "siemrelay.yaml")):
        text = text.replace(marker, str(value))
    return text


def _arguments(p: argparse.ArgumentParser) -> None:
    default_dir = str(Path(default_config()).parent)
    p.add_argument("--dir", default=default_dir,
                   help=f"directory to write siemrelay.yaml, routes.d/ and the JSON Schema into (default: {default_dir})")
    p.add_argument("--state-dir", type=Path,
                   help="the agent's state directory (default: /var/lib/siemrelay for /etc/siemrelay, else DIR/var/state)")
    p.add_argument("--force", action="store_true", help="overwrite files that already exist")


def init(args: argparse.Namespace, redactor: Redactor) -> int:
    """Write the files; refuse (exit 2, nothing written) when one exists and --force is not given."""
    from agent.config.jsonschema import schema_json
    from agent.plugins import load_plugins

    layout = InitLayout.for_dir(Path(args.dir), args.state_dir)
    files = {name: render_template(text, layout) for name, text in template_files().items()}
    files[SCHEMA_FILE] = schema_json(load_plugins())
    targets = {layout.config_dir / name: text for name, text in files.items()}
    existing = [str(t) for t in targets if t.exists()]
    if existing and not args.force:
        print(f"siemrelay: not overwriting {', '.join(existing)} (pass --force to replace "
              f"{'it' if len(existing) == 1 else 'them'}; nothing was written)", file=sys.stderr)
        return EXIT_CONFIG
    try:
        for target, text in targets.items():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, target)
    except OSError as exc:
        print(f"siemrelay: cannot write into {layout.config_dir}: {exc.strerror or exc}"
              f"{' (run as root, or choose another --dir)' if isinstance(exc, PermissionError) else ''}", file=sys.stderr)
        return EXIT_CONFIG
    config = layout.config_dir / "siemrelay.yaml"
    print("\n".join(f"wrote {t}" for t in targets))
    print(f"\nnext:\n  siemrelay validate -c {config}\n  siemrelay run -c {config}\n"
          f"state in {layout.state_dir}; events written to {layout.out_dir / 'events.jsonl'}; "
          f"webhooks on http://127.0.0.1:8080/events")
    return 0


COMMANDS = (
    Command("init", "write a working, commented configuration to start from",
            "Write siemrelay.yaml (webhooks on 127.0.0.1:8080, a directory of dropped JSON lines, everything "
            "written to a JSON-lines file, the admin API on 127.0.0.1:8081; every section commented, with Splunk, "
            "syslog, Slack and webhook sinks ready to uncomment), routes.d/10-example.yaml and "
            "siemrelay.schema.json (for editors) into DIR. Refuses to overwrite existing files without --force.",
            ("siemrelay init --dir /etc/siemrelay", "siemrelay init --dir ./siemrelay && siemrelay run -c ./siemrelay/siemrelay.yaml"),
            _arguments, init),
)
