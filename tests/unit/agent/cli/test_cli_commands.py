"""The command table: every subcommand's help teaches (a description and examples that
parse), one command per name, tables that measure their columns, and the pure parts of
``top`` and ``tap`` (sorting, colours, sizes, output formats)."""

from __future__ import annotations

import argparse
import shlex
from typing import Any

import orjson
import pytest
import yaml

from agent.cli.command import Command
from agent.cli.commands import COMMANDS
from agent.cli.live import format_event, human_bytes, render_top
from agent.cli.main import build_parser
from agent.cli.table import render_table


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_subcommand_help_has_a_description_and_examples_that_parse() -> None:
    parser = build_parser()
    subs = _subparsers(parser)
    assert set(subs) == {c.name for c in COMMANDS}
    for name, sub in subs.items():
        text = sub.format_help()
        body = text.split("\n\n", 2)[1]  # after the usage paragraph
        assert len(body.split()) >= 8 and not body.startswith(("options:", "positional")), f"{name}: no description\n{text}"
        assert "\nexamples:\n" in text, f"{name}: no examples\n{text}"
        examples = [line.strip() for line in text.split("\nexamples:\n", 1)[1].splitlines() if line.strip()]
        assert examples and all(e.startswith(f"siemrelay {name}") or f" siemrelay {name} " in f" {e} " for e in examples), examples
        for example in examples:
            # the line's `siemrelay NAME ...` command (around pipes and &&) parses as a real invocation
            commands = [c.strip() for part in example.split(" | ") for c in part.split(" && ")]
            words = shlex.split(next(c for c in commands if c.startswith(f"siemrelay {name}")))
            args = parser.parse_args(words[1:])
            assert args.command == name and args.command_row.name == name


def test_the_table_has_one_row_per_name_and_refuses_a_command_without_help() -> None:
    names = [c.name for c in COMMANDS]
    assert len(names) == len(set(names)) and names.count("sinks") == 1
    with pytest.raises(ValueError, match="needs a description"):
        Command("x", "x", "", ("siemrelay x",), lambda p: None, lambda a, r: 0)


def test_dispatch_goes_through_the_row_that_parsed_the_arguments(capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from agent.cli import main as cli_main

    seen: list[str] = []
    row = Command("probe", "probe", "A command that records that it ran.", ("siemrelay probe",),
                  lambda p: p.add_argument("--flag", action="store_true"), lambda a, r: seen.append(str(a.flag)) or 3)
    monkeypatch.setattr("agent.logging.setup_logging", lambda *args, **kwargs: None)
    monkeypatch.setattr(cli_main, "build_parser", lambda: build_parser([row]))
    assert cli_main.main(["probe", "--flag"]) == 3 and seen == ["True"]


def test_tables_measure_their_columns_instead_of_cutting_names() -> None:
    long = "a-sink-name-much-longer-than-eighteen-characters"
    lines = render_table(["SINK", "QUEUE", "LAST ERROR"], [[long, "1,234", "refused"], ["b", "5", ""]], "lr")
    assert lines[1].startswith(long + "  ")
    assert lines[1].index("1,234") + len("1,234") == lines[2].index("5") + 1  # right-aligned under each other
    assert lines[0].index("LAST ERROR") == lines[1].index("refused")


def _status(**sink: Any) -> dict[str, Any]:
    base = {"name": "s", "type": "file", "state": "ok", "rate_per_s": 0.0, "queue_depth": 0, "oldest_age_s": 0.0,
            "events_sent": 0, "dead_letters_stored": 0, "last_error": None, "failures": 0}
    sinks = [{**base, "name": "zz-healthy"}, {**base, **sink}]
    return {"version": "1", "uptime_s": 5, "dead_letters": {"total": 0},
            "spool": {"pending_bytes": 3 * 1024 * 1024, "max_bytes": 1 << 30, "full": False},
            "sources": [{"name": "web", "type": "http", "rate_per_s": 1.0, "events": 10, "decode_errors": 0,
                         "refused_full": 0, "bytes": 2048}],
            "sinks": sinks}


def test_top_puts_failing_sinks_first_in_colour_with_sizes_in_binary_units() -> None:
    status = _status(name="aa-a-very-long-failing-sink-name", state="circuit_open", queue_depth=1500, last_error="refused",
                     bytes_sent=5 * 1024 * 1024)
    frame = render_top(status, sort="health", colour=True)
    assert "spool 3.0 MiB of 1.0 GiB" in frame and "2.0 KiB" in frame
    rows = [line for line in frame.splitlines() if "sink-name" in line or "zz-healthy" in line]
    assert "aa-a-very-long-failing-sink-name" in rows[0] and "\x1b[31mcircuit_open" in rows[0]
    assert "5.0 MiB" in rows[0] and "\x1b[32mok" in rows[1]
    plain = render_top(status, sort="name", colour=False)
    assert "\x1b[" not in plain
    by_queue = render_top(_status(name="big", queue_depth=9), sort="queue")
    assert by_queue.index("big") < by_queue.index("zz-healthy")
    assert human_bytes(512) == "512 B" and human_bytes(1536) == "1.5 KiB"


def test_tap_formats_one_event_as_json_yaml_or_logfmt() -> None:
    event = {"id": "e1", "type": "finding.new", "title": 'SQL "injection" in /login', "severity": "high",
             "asset": {"hostname": "web-1"}, "tags": ["a", "b"], "raw": {"x": 1}}
    line = orjson.dumps(event)
    assert format_event(line, "json") == line.decode() + "\n"
    doc = format_event(line, "yaml")
    assert doc.startswith("---\n") and yaml.safe_load(doc) == event
    logfmt = format_event(line, "logfmt")
    assert logfmt.startswith("id=e1 type=finding.new ")
    assert 'title="SQL \\"injection\\" in /login"' in logfmt and "asset.hostname=web-1" in logfmt
    assert 'tags=["a","b"]' in logfmt.replace('"[\\"a\\",\\"b\\"]"', '["a","b"]') and "raw" not in logfmt
